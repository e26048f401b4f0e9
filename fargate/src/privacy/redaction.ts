// PII redaction for transcripts, tool arguments and logs: card numbers, SSNs, e-mail addresses, phone numbers (pure).

/** Which categories are replaced by a tag. Each category is independent. */
export interface RedactionConfig {
  /** Payment card numbers (13–19 digits passing the Luhn check) → `[card]`. @default true */
  card: boolean;
  /** US social security numbers → `[ssn]`. @default true */
  ssn: boolean;
  /** E-mail addresses, written or spoken ("jane dot doe at example dot com") → `[email]`. @default true */
  email: boolean;
  /** Phone numbers (E.164, NANP, 7-digit local in 3-4 groups) → `[phone]`. @default true */
  phone: boolean;
}

/** Everything on: what transcripts, session state and logs use. */
export const DEFAULT_REDACTION: Readonly<RedactionConfig> = Object.freeze({ card: true, ssn: true, email: true, phone: true });

/**
 * What the STT should redact at the source: card numbers and SSNs only. Phone numbers stay off because Deepgram's
 * `numbers` redacts "any sequence of three or more consecutive numerals" (developers.deepgram.com/docs/redaction),
 * which would also hide dates, times and order numbers the agent needs to hear.
 */
export const DEFAULT_STT_REDACTION: Readonly<RedactionConfig> = Object.freeze({ card: true, ssn: true, email: false, phone: false });

/** Tags written in place of the redacted text. */
export const REDACTION_TAGS = { card: '[card]', ssn: '[ssn]', email: '[email]', phone: '[phone]' } as const;

/** A Deepgram `redact` query value this module maps to (protocols.md §2.2). */
export type DeepgramRedact = 'pci' | 'ssn' | 'numbers';

/**
 * Maps a redaction config to Deepgram's repeatable `redact` query values: card → `pci` (card number, expiry, CVV),
 * ssn → `ssn`, phone → `numbers`. E-mail has no Deepgram equivalent and is handled only by {@link redact}.
 * Flux (`/v2/listen`) accepts only `numbers|aggressive_numbers`, so with `flux: true` any enabled digit category
 * maps to `numbers`.
 */
export function deepgramRedactParams(config: Partial<RedactionConfig> = DEFAULT_STT_REDACTION, opts: { flux?: boolean } = {}): DeepgramRedact[] {
  const c = { ...DEFAULT_REDACTION, ...config };
  if (opts.flux) return c.card || c.ssn || c.phone ? ['numbers'] : [];
  const out: DeepgramRedact[] = [];
  if (c.card) out.push('pci');
  if (c.ssn) out.push('ssn');
  if (c.phone) out.push('numbers');
  return out;
}

/** True when `digits` (0-9 only) passes the Luhn check used by every card network. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * Replaces PII in `text` with tags. Card numbers are recognised written ("4111 1111-1111 1111") and as STT emits
 * them spoken ("four one one one …", "double four", "oh" for zero), in any mix, separated by spaces, dashes, dots,
 * commas or slashes. A digit run is a card when its 13–19 digits pass Luhn; a run of 17+ digits is also a card when
 * any stretch of 13–19 of its tokens passes Luhn (a card read out together with its expiry or CVV — the whole run
 * is removed, since those are card data too). Luhn-invalid runs of up to 16 digits (order numbers) are kept.
 */
export function redact(text: string, config: Partial<RedactionConfig> = DEFAULT_REDACTION): string {
  const c = { ...DEFAULT_REDACTION, ...config };
  let out = c.email ? redactEmails(text) : text;
  if (!c.card && !c.ssn && !c.phone) return out;
  const spans: { start: number; end: number; tag: string }[] = [];
  for (const run of digitRuns(out)) {
    const tag = classify(run, out, c);
    if (tag) spans.push({ start: run.start, end: run.end, tag });
  }
  if (!spans.length) return out;
  const parts: string[] = [];
  let at = 0;
  for (const sp of spans) {
    parts.push(out.slice(at, sp.start), sp.tag);
    at = sp.end;
  }
  parts.push(out.slice(at));
  return parts.join('');
}

/** True when `text` holds a payment card number in any form {@link redact} recognises (so it can be kept from the LLM). */
export function containsCardNumber(text: string): boolean {
  return digitRuns(text).some((run) => isCard(run));
}

/**
 * Deep copy of a JSON value with every string leaf redacted (tool arguments and results). Numbers long enough to
 * be PII (7+ digits) are checked as text and replaced by the tag string when they match. Keys are kept.
 */
export function redactJson(value: unknown, config: Partial<RedactionConfig> = DEFAULT_REDACTION): unknown {
  if (typeof value === 'string') return redact(value, config);
  if (typeof value === 'number' && Number.isFinite(value) && Math.abs(value) >= 1e6) {
    const s = String(value);
    const r = redact(s, config);
    return r === s ? value : r;
  }
  if (Array.isArray(value)) return value.map((v) => redactJson(v, config));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactJson(v, config);
    return out;
  }
  return value;
}

/** Redacts a JSON text (e.g. tool-call arguments as the LLM produced them); non-JSON text is redacted as plain text. */
export function redactJsonText(json: string, config: Partial<RedactionConfig> = DEFAULT_REDACTION): string {
  try {
    return JSON.stringify(redactJson(JSON.parse(json), config));
  } catch {
    return redact(json, config);
  }
}

// ---------------------------------------------------------------------------------------------------------------

const TLDS = 'com|net|org|edu|gov|mil|int|io|co|ai|app|dev|me|info|biz|us|uk|ca|au|de|fr|es|it|nl|ie|in|mx|br';
// Bounded like RFC 5321 (local part ≤ 64, labels ≤ 63) so a long run of address-like text stays linear to scan.
const WRITTEN_EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}/g;
// STT often spells addresses out: "jane dot doe at example dot com". Requiring a known TLD after the last "dot"
// keeps ordinary sentences with "at" intact.
const SPOKEN_EMAIL = new RegExp(
  String.raw`\b[a-z0-9][a-z0-9._-]{0,63}(?:\s+(?:dot|underscore|dash|hyphen)\s+[a-z0-9_-]{1,63}){0,6}\s+at\s+[a-z0-9-]{1,63}(?:\s+dot\s+[a-z0-9-]{1,63}){0,4}\s+dot\s+(?:${TLDS})\b`,
  'gi',
);

function redactEmails(text: string): string {
  let out = text.includes('@') ? text.replace(WRITTEN_EMAIL, REDACTION_TAGS.email) : text;
  if (/\sat\s/i.test(out) && /\sdot\s/i.test(out)) out = out.replace(SPOKEN_EMAIL, REDACTION_TAGS.email);
  return out;
}

const SPOKEN_DIGITS: Record<string, string> = {
  zero: '0', oh: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9',
};
const REPEAT: Record<string, number> = { double: 2, triple: 3 };

interface DigitToken {
  start: number;
  end: number;
  digits: string;
  /** From number words ("four", "double five") rather than numerals. */
  spoken: boolean;
  word: string;
}

/** A maximal sequence of digit tokens joined only by separators; `plus` when written with a leading `+`. */
interface DigitRun {
  start: number;
  end: number;
  digits: string;
  tokens: DigitToken[];
  plus: boolean;
}

// Between two digit tokens of one number: up to 3 of space, dash, dot, comma, slash, parentheses.
const JOINER = /^[\s\-–.,/()]{0,3}$/;

function digitTokens(text: string): DigitToken[] {
  const raw: { start: number; end: number; word: string }[] = [];
  for (const m of text.matchAll(/\d+|[A-Za-z]+/g)) raw.push({ start: m.index, end: m.index + m[0].length, word: m[0] });
  const out: DigitToken[] = [];
  for (let i = 0; i < raw.length; i++) {
    const t = raw[i];
    const isNum = /^\d/.test(t.word);
    if (isNum) {
      // Digits glued to letters ("A123", "9am") are identifiers or times, not spoken-out numbers.
      const glued = /[A-Za-z]/.test(text[t.start - 1] ?? '') || /[A-Za-z]/.test(text[t.end] ?? '');
      out.push({ start: t.start, end: t.end, digits: glued ? '' : t.word, spoken: false, word: t.word });
      continue;
    }
    const lower = t.word.toLowerCase();
    const next = raw[i + 1];
    const times = REPEAT[lower];
    if (times && next && /^\s+$/.test(text.slice(t.end, next.start))) {
      const d = SPOKEN_DIGITS[next.word.toLowerCase()] ?? (/^\d$/.test(next.word) ? next.word : undefined);
      if (d) {
        out.push({ start: t.start, end: next.end, digits: d.repeat(times), spoken: true, word: lower });
        i++;
        continue;
      }
    }
    // A plain word has no digits and breaks any run.
    out.push({ start: t.start, end: t.end, digits: SPOKEN_DIGITS[lower] ?? '', spoken: true, word: lower });
  }
  return out;
}

function digitRuns(text: string): DigitRun[] {
  const runs: DigitRun[] = [];
  let cur: DigitToken[] = [];
  const close = () => {
    // A leading "oh" is the interjection ("Oh, 555 …"), not a zero: no card or NANP number starts with 0.
    while (cur.length && cur[0].word === 'oh') cur.shift();
    if (cur.length) {
      let start = cur[0].start;
      const before = text.slice(Math.max(0, start - 2), start);
      const lead = /(?:\+\(?|\()$/.exec(before);
      const plus = lead?.[0].startsWith('+') ?? false;
      if (lead) start -= lead[0].length;
      const end = cur[cur.length - 1].end;
      runs.push({ start, end, digits: cur.map((t) => t.digits).join(''), tokens: cur, plus });
    }
    cur = [];
  };
  for (const tok of digitTokens(text)) {
    if (!tok.digits) {
      close();
      continue;
    }
    if (cur.length && !JOINER.test(text.slice(cur[cur.length - 1].end, tok.start))) close();
    cur.push(tok);
  }
  close();
  return runs;
}

function isCard(run: DigitRun): boolean {
  const n = run.digits.length;
  if (n >= 13 && n <= 19 && luhnValid(run.digits)) return true;
  if (n < 17) return false;
  // A card read out together with expiry/CVV: look for a Luhn-valid 13–19-digit stretch on token boundaries.
  for (let i = 0; i < run.tokens.length; i++) {
    let s = '';
    for (let j = i; j < run.tokens.length; j++) {
      s += run.tokens[j].digits;
      if (s.length > 19) break;
      if (s.length >= 13 && luhnValid(s)) return true;
    }
  }
  return false;
}

const SSN_CONTEXT = /\b(ssn|social|security)\b[^.?!]{0,40}$/i;

/** Digit counts of the numeral groups ("555-123-4567" → "3-3-4"); undefined when the run is all spoken words. */
function shape(run: DigitRun): string | undefined {
  if (run.tokens.every((t) => t.spoken)) return undefined;
  return run.tokens.map((t) => t.digits.length).join('-');
}

function isSsn(run: DigitRun, text: string): boolean {
  const d = run.digits;
  if (d.length !== 9) return false;
  // SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000.
  if (/^(000|666|9)/.test(d) || d.slice(3, 5) === '00' || d.slice(5) === '0000') return false;
  const s = shape(run);
  if (s === '3-2-4') return true;
  return (s === undefined || s === '9') && SSN_CONTEXT.test(text.slice(Math.max(0, run.start - 60), run.start));
}

// How people and STT write phone numbers. Other groupings of 10 digits (a date and time, "2026-11-25 09") are not.
const GROUPED_PHONE = new Set(['3-3-4', '3-7', '1-3-3-4', '1-10', '1-3-7']);

function isPhone(run: DigitRun): boolean {
  const d = run.digits;
  if (run.plus) return d.length >= 8 && d.length <= 15;
  const s = shape(run);
  const national = d.length === 11 && d[0] === '1' ? d.slice(1) : d;
  if (national.length === 10) {
    // An ungrouped 10-digit numeral must look like NANP (area code and exchange start with 2-9) to be a phone,
    // so plain 10-digit ids mostly survive; grouped or spoken, an area code starting with 2-9 is enough.
    if (s === '10' || s === '11') return /^[2-9]\d\d[2-9]/.test(national);
    return /^[2-9]/.test(national) && (s === undefined || GROUPED_PHONE.has(s));
  }
  return d.length === 7 && /^[2-9]/.test(d) && (s === undefined || s === '3-4');
}

function classify(run: DigitRun, text: string, c: RedactionConfig): string | undefined {
  if (c.card && isCard(run)) return REDACTION_TAGS.card;
  if (c.ssn && isSsn(run, text)) return REDACTION_TAGS.ssn;
  if (c.phone && isPhone(run)) return REDACTION_TAGS.phone;
  return undefined;
}

/** What an LLM sees of card/SSN digits the caller spoke: redacted at the source of the history. */
const LLM_REDACTION = { card: true, ssn: true, email: false, phone: false } as const;

/**
 * What of the caller's words may enter the history (and so the LLM, the session and the transcript): card numbers
 * and SSNs, spoken or typed on the keypad, become `[card]` / `[ssn]` before anything else sees them.
 */
export function forLlm(text: string): string {
  return containsCardNumber(text) || /\d[\d\s-]{7,}\d/.test(text) ? redact(text, LLM_REDACTION) : text;
}
