// Cross-call caller memory: the caller hash, the pure memory update and prompt line, and the Redis store (va:mem:{hash}).
import { createHmac } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { redact } from '../privacy/redaction';
import { execMulti } from './redis';

/** Thrown for a phone number that is not E.164 after removing spaces, dashes, dots and parentheses. */
export class InvalidPhoneError extends Error {
  override name = 'InvalidPhoneError';
}

// What Twilio puts in `From` when the caller withheld the number: words, or the words typed on a keypad
// (ANONYMOUS, RESTRICTED, UNAVAILABLE, BLOCKED, UNKNOWN). All such callers would otherwise share one memory.
const WITHHELD = new Set(['anonymous', 'restricted', 'unavailable', 'blocked', 'unknown', 'private', 'withheld',
  '+266696687', '+7378742833', '+86282452253', '+2562533', '+8656696']);

/**
 * Normalises a phone number to E.164 (`+` and 7–15 digits): separators are removed and a leading `00` becomes `+`.
 * Throws {@link InvalidPhoneError} for anything else, including national numbers without a country code and the
 * withheld-number values Twilio sends.
 */
export function normalizePhone(phone: string): string {
  const compact = phone.trim().replace(/[\s\-.()]/g, '').replace(/^00/, '+');
  if (WITHHELD.has(compact.toLowerCase())) throw new InvalidPhoneError('the caller withheld their number');
  if (!/^\+[1-9]\d{6,14}$/.test(compact)) throw new InvalidPhoneError('phone must be E.164 with country code, e.g. +15551230001');
  return compact;
}

/**
 * HMAC-SHA256 (hex) of the E.164 form of `phone` under `key` (CALLER_HASH_KEY). The number itself is never stored;
 * the same number in any formatting gives the same hash, and without the key the hash cannot be reversed by
 * enumerating the (small) space of phone numbers. Throws {@link InvalidPhoneError} for a number that is not E.164.
 */
export function callerHash(key: string, phone: string): string {
  if (!key) throw new Error('callerHash needs a non-empty key (CALLER_HASH_KEY)');
  return createHmac('sha256', key).update(normalizePhone(phone)).digest('hex');
}

/** Like {@link callerHash}, but `undefined` for a missing, withheld or malformed number (the call then has no memory). */
export function callerHashOrUndefined(key: string, phone: string | undefined): string | undefined {
  if (!phone) return undefined;
  try {
    return callerHash(key, phone);
  } catch {
    return undefined;
  }
}

const memorySchema = z.object({
  v: z.literal(1),
  /** Finished calls folded into this memory. */
  calls: z.number().int().nonnegative(),
  firstCallAt: z.string(),
  lastCallAt: z.string(),
  name: z.string().optional(),
  /** e.g. "haircut on 2026-11-25 09:00" */
  lastAppointment: z.string().optional(),
  /** Other short facts from tool results, e.g. `{ lastOrder: "order 10023: shipped" }`. */
  facts: z.record(z.string(), z.string()),
  /** One-line summaries of the latest calls, newest first (at most {@link MAX_RECENT}). */
  recent: z.array(z.string()),
});

/** What is remembered about one caller across calls. Derived only from structured data, never raw caller speech. */
export type CallerMemory = z.infer<typeof memorySchema>;

/** Seconds a forget keeps blocking memory and transcripts of calls live at that moment (the session TTL: no call lasts longer). */
export const FORGET_GUARD_SECONDS = 7200;

/** Summaries kept in {@link CallerMemory.recent}. */
export const MAX_RECENT = 3;

/** A tool outcome of the finished call; `ToolResult` from providers/types.ts fits, plus the call's arguments. */
export interface FinishedToolResult {
  name: string;
  ok: boolean;
  /** JSON text the tool returned (ToolResult.content). */
  content: string;
  /** JSON text of the arguments the model sent (ToolCall.arguments). */
  arguments?: string;
}

/** A finished call, as the pipeline knows it at `stop`. */
export interface FinishedCall {
  agent: string;
  /** Epoch ms. */
  startedAt: number;
  endedAt: number;
  /** Heard turns in order. */
  turns: { role: 'user' | 'assistant'; text: string }[];
  toolResults: FinishedToolResult[];
  escalated?: boolean;
}

/**
 * Folds a finished call into the caller's memory (pure; no LLM): counts the call, takes the caller's name from
 * tool arguments/results or "my name is …", the last appointment from a successful booking tool
 * ("haircut on 2026-11-25 09:00"; a successful cancellation clears it), other facts from known tool results, and
 * prepends a one-line summary. Text is redacted (cards, SSNs, e-mail, phone) before it is remembered.
 */
export function buildMemoryUpdate(prev: CallerMemory | undefined, call: FinishedCall): CallerMemory {
  const at = new Date(call.endedAt).toISOString();
  const mem: CallerMemory = prev
    ? { ...prev, facts: { ...prev.facts }, recent: [...prev.recent], calls: prev.calls + 1, lastCallAt: at }
    : { v: 1, calls: 1, firstCallAt: new Date(call.startedAt).toISOString(), lastCallAt: at, facts: {}, recent: [] };
  const outcomes: string[] = [];

  const name = nameFromTurns(call.turns);
  if (name) mem.name = name;
  for (const t of call.toolResults) {
    const result = parseObject(t.content);
    const args = parseObject(t.arguments);
    if (!t.ok || !result || 'error' in result) continue;
    const toolName = firstString(result, args, ['customerName', 'customer_name', 'callerName', 'caller_name']);
    if (toolName && /^[\p{L}' -]{1,40}$/u.test(toolName) && /book|appointment|customer|reserv/i.test(t.name)) mem.name = clean(toolName);
    if (/^(book|schedule|reschedule)/i.test(t.name) || /book_appointment/i.test(t.name)) {
      const appt = appointmentText(result, args);
      if (appt) {
        mem.lastAppointment = appt;
        outcomes.push(`booked ${appt}`);
      }
    } else if (/^cancel/i.test(t.name)) {
      delete mem.lastAppointment;
      outcomes.push('cancelled an appointment');
    } else if (/order/i.test(t.name)) {
      const id = firstString(result, args, ['orderId', 'order_id', 'orderNumber', 'id']);
      const status = firstString(result, {}, ['status', 'state']);
      if (id) mem.facts.lastOrder = clean(`order ${id}${status ? `: ${status}` : ''}`);
    }
  }
  if (call.escalated) outcomes.push('transferred to a person');
  const callerTurns = call.turns.filter((t) => t.role === 'user').length;
  const summary = `${at.slice(0, 10)} ${clean(call.agent)} call, ${callerTurns} caller turn${callerTurns === 1 ? '' : 's'}${outcomes.length ? `: ${outcomes.join('; ')}` : ''}`;
  mem.recent = [summary, ...mem.recent].slice(0, MAX_RECENT);
  return mem;
}

/**
 * Renders memory as one short system-prompt line, or `''` for a first-time caller. The values are data the
 * pipeline wrote, not caller speech, so the line cannot carry instructions from a caller.
 */
export function memoryPromptLine(mem: CallerMemory | undefined): string {
  if (!mem || mem.calls === 0) return '';
  const parts = [`Returning caller (${mem.calls} earlier call${mem.calls === 1 ? '' : 's'}, last on ${mem.lastCallAt.slice(0, 10)}).`];
  if (mem.name) parts.push(`Name: ${mem.name}.`);
  if (mem.lastAppointment) parts.push(`Last appointment: ${mem.lastAppointment}.`);
  for (const [k, v] of Object.entries(mem.facts)) parts.push(`${k.replace(/([A-Z])/g, ' $1').toLowerCase()}: ${v}.`);
  if (mem.recent[0]) parts.push(`Previous call: ${mem.recent[0]}.`);
  parts.push(mem.name ? 'Welcome them back by name; do not ask again for what you already know.' : 'Welcome them back.');
  return parts.join(' ');
}

/** Options of {@link CallerMemoryStore}. */
export interface CallerMemoryStoreOptions {
  /** @default 2_592_000 (30 days) */
  ttlSeconds?: number;
  /** @default 'va:' (CONTRACTS.md) */
  keyPrefix?: string;
  /** `load` gives up after this long so a slow Redis never delays the greeting. @default 200 */
  loadTimeoutMs?: number;
}

/** Caller memory in Redis at `{prefix}mem:{callerHash}` (JSON, TTL refreshed on every save). */
export class CallerMemoryStore {
  private readonly ttl: number;
  private readonly prefix: string;
  private readonly loadTimeoutMs: number;

  constructor(private readonly redis: Redis, opts: CallerMemoryStoreOptions = {}) {
    this.ttl = opts.ttlSeconds ?? 30 * 86_400;
    this.prefix = opts.keyPrefix ?? 'va:';
    this.loadTimeoutMs = opts.loadTimeoutMs ?? 200;
  }

  /** The Redis key for a caller hash. */
  key(hash: string): string {
    return `${this.prefix}mem:${hash}`;
  }

  /**
   * The caller's memory, or `undefined` for a new caller. Never rejects: a Redis error, a timeout or a stored value
   * that no longer parses also give `undefined` (the call goes on without memory).
   */
  async load(hash: string | undefined): Promise<CallerMemory | undefined> {
    if (!hash) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const raw = await Promise.race([
        this.redis.get(this.key(hash)),
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), this.loadTimeoutMs))),
      ]);
      return parseMemory(raw);
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stores `mem` with the TTL. Rejects on a Redis error. */
  async save(hash: string, mem: CallerMemory): Promise<void> {
    await this.redis.set(this.key(hash), JSON.stringify(mem), 'EX', this.ttl);
  }

  /**
   * Call end: loads the current memory, folds the finished call in ({@link buildMemoryUpdate}) and saves it. Run it
   * off the audio path (after the call's audio is done). Resolves `undefined` and saves nothing when the caller
   * was forgotten after this call started (a call live during the forget must not bring the memory back).
   * Rejects on a Redis error.
   */
  async remember(hash: string, call: FinishedCall): Promise<CallerMemory | undefined> {
    const [raw, forgottenAt] = await Promise.all([this.redis.get(this.key(hash)), this.redis.get(this.guardKey(hash))]);
    if (forgottenAt && Number(forgottenAt) >= call.startedAt) return undefined;
    const mem = buildMemoryUpdate(parseMemory(raw), call);
    await this.save(hash, mem);
    return mem;
  }

  /**
   * Deletes the caller's memory and records when (`{prefix}forgotten:{hash}`, for {@link FORGET_GUARD_SECONDS}),
   * so calls that were live at that moment do not write it again (see {@link remember}). True when there was a memory.
   */
  async forget(hash: string, now = Date.now()): Promise<boolean> {
    const [, deleted] = await execMulti(this.redis.multi()
      .set(this.guardKey(hash), String(now), 'EX', FORGET_GUARD_SECONDS)
      .del(this.key(hash)));
    return Number(deleted) > 0;
  }

  private guardKey(hash: string): string {
    return `${this.prefix}forgotten:${hash}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** A stored memory, or `undefined` when absent, not JSON or of another shape/version. */
function parseMemory(raw: string | null | undefined): CallerMemory | undefined {
  if (!raw) return undefined;
  try {
    const parsed = memorySchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function parseObject(json: string | undefined): Record<string, unknown> | undefined {
  if (!json) return undefined;
  try {
    const v: unknown = JSON.parse(json);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function firstString(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined, keys: string[]): string | undefined {
  for (const src of [a, nested(a), b]) {
    if (!src) continue;
    for (const k of keys) {
      const v = src[k];
      if (typeof v === 'string' && v.trim()) return v.trim();
      if (typeof v === 'number') return String(v);
    }
  }
  return undefined;
}

/** Tool results often wrap the entity: `{ appointment: {...} }`, `{ booking: {...} }`, `{ order: {...} }`. */
function nested(o: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  for (const k of ['appointment', 'booking', 'order', 'result']) {
    const v = o?.[k];
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  }
  return undefined;
}

function appointmentText(result: Record<string, unknown>, args: Record<string, unknown> | undefined): string | undefined {
  const service = firstString(result, args, ['service', 'serviceName', 'type']);
  let when = firstString(result, args, ['start', 'startsAt', 'starts_at', 'startTime', 'datetime', 'dateTime', 'slot', 'when']);
  if (!when) {
    const date = firstString(result, args, ['date', 'day']);
    const time = firstString(result, args, ['time']);
    when = [date, time].filter(Boolean).join(' ') || undefined;
  }
  if (when) when = when.replace(/^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$/, '$1 $2');
  if (!service && !when) return undefined;
  return clean([service, when && `on ${when}`].filter(Boolean).join(' '));
}

const NAME_INTRO = /\b(?:my name is|my name's|this is)\s+([A-Z][\p{L}'’-]{1,30}(?:\s+[A-Z][\p{L}'’-]{1,30})?)/u;
const NOT_NAMES = new Set(['The', 'A', 'An', 'It', 'Is', 'Not', 'About', 'For', 'Just', 'Still', 'Really', 'Regarding']);

function nameFromTurns(turns: FinishedCall['turns']): string | undefined {
  let name: string | undefined;
  for (const t of turns) {
    if (t.role !== 'user') continue;
    const m = NAME_INTRO.exec(t.text);
    if (m && !NOT_NAMES.has(m[1].split(/\s+/)[0])) name = m[1];
  }
  return name && clean(name);
}

/** One line of at most 80 characters, PII-redacted, with nothing that could read as markup or a new instruction. */
function clean(s: string): string {
  return redact(s).replace(/[\r\n\t]+/g, ' ').replace(/[^\p{L}\p{N} .,:;'’/@+\-[\]()]/gu, '').trim().slice(0, 80);
}
