// Flags for human review (pure, no I/O or time): caller frustration, low STT confidence for several turns, a tool failing twice, the budget guardrail.
import type { CallFlag } from '../../../contracts/console';
import type { ReviewThresholds } from '../agents/types';

/** Lower-case words without punctuation (apostrophes kept: "don't"). */
export function wordsOf(text: string): string[] {
  return text.toLowerCase().replace(/[^a-z0-9'\s]/g, ' ').split(/\s+/).filter(Boolean);
}

/**
 * How nearly two caller turns say the same thing (0–1): the longest common word subsequence, Dice-normalised
 * (2·LCS / (|a| + |b|)), so "I said, can I book a haircut" vs "can I book a haircut" scores 0.83.
 */
export function similarity(a: string, b: string): number {
  const x = wordsOf(a);
  const y = wordsOf(b);
  if (!x.length || !y.length) return 0;
  let prev = new Array<number>(y.length + 1).fill(0);
  for (const wx of x) {
    const row = [0];
    for (let j = 0; j < y.length; j++) row.push(wx === y[j] ? prev[j]! + 1 : Math.max(prev[j + 1]!, row[j]!));
    prev = row;
  }
  return (2 * prev[y.length]!) / (x.length + y.length);
}

/** What frustrated callers say on the phone: complaints about the agent, the call, or having to repeat themselves. */
const NEGATIVE =
  /\b(?:useless|ridiculous|stupid|terrible|awful|annoying|frustrat\w*|waste\s+of\s+(?:my\s+)?time|not\s+(?:helpful|listening|working)|(?:isn'?t|doesn'?t|does\s+not|is\s+not)\s+(?:helping|working|listening)|are\s+you\s+(?:even\s+)?listening|i\s+(?:already|just)\s+(?:told|said|asked)|i\s+said\s+that|for\s+the\s+(?:second|third|last)\s+time|that'?s\s+not\s+what\s+i\s+(?:said|asked)|i\s+hate|(?:so|very)\s+(?:annoyed|angry|upset)|come\s+on)\b/i;

/** A turn that opens by saying it is said again ("I said, …", "Like I said …", "Again, …"). */
const LEADING_REPEAT = /^\s*(?:(?:like|as)\s+i\s+said|i\s+said|again)\b/i;

/** True when the caller's words carry a complaint or irritation ("this is useless", "I already told you"). */
export function isNegative(text: string): boolean {
  return NEGATIVE.test(text) || LEADING_REPEAT.test(text);
}

const REQUEST = /\?|\b(?:can|could|would|will)\s+(?:you|i|we)\b|\bi(?:'d|\s+would)\s+like\b|\bi\s+(?:want|need)\b|\bplease\b|\b(?:book|cancel|change|check|find|tell\s+me|give\s+me|send|track)\b/i;

/** True when the turn asks for something (a question, "can you", "I want", "please", an imperative verb). */
export function isRequest(text: string): boolean {
  return REQUEST.test(text);
}

const STOPWORDS = new Set(
  ("a an the i i'd i'm me my you your we our it it's is are was be to of for in on at and or but so just can could would will do does " +
    'did please want need like have has get this that what when where which how yes no not okay ok um uh hi hello again said already told').split(' '),
);

/** The words that carry what a turn is about (stopwords and filler dropped). */
export function contentWords(text: string): Set<string> {
  return new Set(wordsOf(text).filter((w) => !STOPWORDS.has(w) && w.length > 1));
}

/**
 * Two requests for the same thing: both ask, they share at least two content words, and those are most of the
 * shorter one's (so "Yes, please book it" after "I'd like to book a haircut" is a confirmation, not a second ask).
 */
export function sameRequest(a: string, b: string): boolean {
  if (!isRequest(a) || !isRequest(b)) return false;
  const x = contentWords(a);
  const y = contentWords(b);
  const smaller = Math.min(x.size, y.size);
  if (!smaller) return false;
  const shared = [...x].filter((w) => y.has(w)).length;
  return shared >= 2 && shared / smaller >= 0.6;
}

/** The frustration signals of one caller turn, against the caller's earlier turns. */
export interface FrustrationSignals {
  /** Nearly the same words as an earlier turn (similarity ≥ `repeatSimilarity`). */
  repeat: boolean;
  /** A complaint or irritation. */
  negative: boolean;
  /** The same request as an earlier turn in other words (not counted again when it is a repeat). */
  askedTwice: boolean;
}

export function frustrationSignals(earlier: readonly string[], text: string, t: Pick<ReviewThresholds, 'repeatSimilarity'>): FrustrationSignals {
  const repeat = earlier.some((e) => similarity(e, text) >= t.repeatSimilarity);
  return { repeat, negative: isNegative(text), askedTwice: !repeat && earlier.some((e) => sameRequest(e, text)) };
}

/** Keypad input is not speech: no frustration or confidence signal comes from it. */
const KEYPAD = /^\[keypad\]/;

/**
 * One call's review state: feed it each caller turn, each reply's tool results and the guardrail; it returns the
 * flags to raise now (each kind at most once per call) and keeps the frustration count the escalation policy reads.
 */
export class ReviewFlags {
  /** Frustration signals so far in the call. */
  frustration = 0;
  private readonly raised = new Set<CallFlag['kind']>();
  private readonly earlier: string[];
  private lowInRow = 0;
  private readonly toolFailures = new Map<string, number>();
  private readonly reasons = new Set<string>();

  constructor(private readonly t: ReviewThresholds, earlierCallerTurns: readonly string[] = []) {
    this.earlier = earlierCallerTurns.filter((s) => !KEYPAD.test(s));
  }

  /** A caller turn as heard (redacted text, mean STT confidence). */
  caller(text: string, confidence: number): CallFlag[] {
    if (KEYPAD.test(text) || !text.trim()) return [];
    const s = frustrationSignals(this.earlier, text, this.t);
    this.earlier.push(text);
    if (s.repeat) this.reasons.add('repeated themselves');
    if (s.askedTwice) this.reasons.add('asked twice for the same thing');
    // No caller words in the detail: flags go to every console connection, transcripts only to authorised ones.
    if (s.negative) this.reasons.add('used a negative phrase');
    this.frustration += Number(s.repeat) + Number(s.negative) + Number(s.askedTwice);
    this.lowInRow = confidence < this.t.lowConfidence ? this.lowInRow + 1 : 0;
    const out: CallFlag[] = [];
    if (this.frustration >= this.t.frustrationFlagAt) {
      out.push(...this.raise({ kind: 'frustration', detail: `caller ${[...this.reasons].join('; ')}`, recommended: 'take-over' }));
    }
    if (this.lowInRow >= this.t.lowConfidenceTurns) {
      const detail = `${this.lowInRow} caller turns in a row under ${this.t.lowConfidence} STT confidence (last ${confidence.toFixed(2)})`;
      // The line is poor, not the agent: an operator can whisper it to confirm details back (spell, read out) first.
      out.push(...this.raise({ kind: 'low-confidence', detail, recommended: 'whisper' }));
    }
    return out;
  }

  /** A reply's tool results (a tool failing `toolFailures` times in the call raises the flag). */
  tools(results: readonly { name: string; ok: boolean }[]): CallFlag[] {
    const out: CallFlag[] = [];
    for (const r of results) {
      if (r.ok) continue;
      const n = (this.toolFailures.get(r.name) ?? 0) + 1;
      this.toolFailures.set(r.name, n);
      if (n >= this.t.toolFailures) out.push(...this.raise({ kind: 'tool-failures', detail: `${r.name} failed ${n} times`, recommended: 'take-over' }));
    }
    return out;
  }

  /** The budget guardrail fired: the call's running cost passed the cap and the agent is told to wrap up. */
  guardrail(runningUsd: number, capUsd?: number): CallFlag[] {
    const cap = capUsd === undefined ? '' : ` of ${capUsd} USD`;
    return this.raise({ kind: 'guardrail', detail: `running cost ${runningUsd.toFixed(4)} USD passed the cap${cap}; wrapping up`, recommended: 'review-after' });
  }

  /** Frustration is at or above the profile's escalation threshold. */
  get frustrated(): boolean {
    return this.frustration >= this.t.frustrationEscalateAt;
  }

  private raise(flag: CallFlag): CallFlag[] {
    if (this.raised.has(flag.kind)) return [];
    this.raised.add(flag.kind);
    return [flag];
  }
}
