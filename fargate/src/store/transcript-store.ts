// Transcripts in DynamoDB: one item per heard turn plus the call record (turn 0), written in the background in batches, retried until DynamoDB recovers, spooled when it cannot be.
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from 'pino';
import { DEFAULT_REDACTION, redact, redactJsonText, type RedactionConfig } from '../privacy/redaction';
import type { TranscriptSpool } from './transcript-spool';

/** A tool call made during a turn; `arguments` are redacted before they are stored. */
export interface ToolCallRecord {
  id: string;
  name: string;
  /** JSON text as the model produced it. */
  arguments: string;
  ok?: boolean;
  latencyMs?: number;
}

/** One heard turn (turn ≥ 1). */
export interface TurnRecord {
  callSid: string;
  /** 1-based and unique per call; appending the same number again replaces the item. */
  turn: number;
  role: 'user' | 'assistant';
  /** What was heard: for the agent, up to the interruption. Redacted before it is stored. */
  text: string;
  interrupted?: boolean;
  /** Epoch ms; stored as ISO strings `at` / `endAt`. */
  startedAt: number;
  endedAt?: number;
  /** Latency breakdown in ms, e.g. `{ voiceToVoice, sttFinalDelay, llmTimeToFirstToken, ttsTimeToFirstByte }`. */
  latency?: Record<string, number>;
  toolCalls?: ToolCallRecord[];
  callerHash?: string;
}

/** The call record, stored at turn 0. Put it at stream start (so privacy requests find live calls) and again at the end. */
export interface CallRecord {
  callSid: string;
  agent: string;
  /** Absent for withheld numbers; then the call is not in the byCaller index. */
  callerHash?: string;
  /** Epoch ms; stored as an ISO string (`startedAt` is the byCaller index's sort key, type S). */
  startedAt: number;
  endedAt?: number;
  summary?: string;
  escalated?: boolean;
  /** Opaque cost breakdown (JSON-serialisable), e.g. the cost meter's output. */
  cost?: unknown;
  /** Number of turns written. */
  turns?: number;
  /** Why the call ended when not by the call itself, e.g. 'task-lost' (set by the lost-call sweeper). */
  endReason?: string;
}

/** Options of {@link TranscriptWriter}. */
export interface TranscriptWriterOptions {
  doc: DynamoDBDocumentClient;
  table: string;
  /** TRANSCRIPT_RETENTION_DAYS: sets `expiresAt` (epoch s), the table's TTL attribute. @default 30 */
  retentionDays?: number;
  /** @default DEFAULT_REDACTION */
  redaction?: Partial<RedactionConfig>;
  /** Items in a failed write attempt (request error or left unprocessed): feed the TranscriptWriteErrors metric. */
  onWriteError?: (count: number) => void;
  log?: Logger;
  /** How long an append waits for company before a batch goes out. @default 100 */
  flushDelayMs?: number;
  /**
   * Attempts per item before it goes to the spool (or is dropped, logged, when there is none). @default Infinity:
   * a transient failure (throttling, 5xx, timeouts, a missing table) is retried until DynamoDB recovers.
   */
  maxAttempts?: number;
  /** Backoff base and cap (exponential, jittered). The cap bounds how late the writer notices a recovery. @default 50 / 5000 */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Items held at most. Beyond, the oldest go to the spool (or are dropped when there is none), each counted through
   * `onOverflow` and logged: a long outage must not exhaust memory, and never loses silently. @default 10000
   * (at ~2 KB an item, 20 MB; about 50 calls × 10 turns a minute for 20 minutes)
   */
  maxQueue?: number;
  /** Durable place for items DynamoDB did not take: overflow, and everything left at {@link TranscriptWriter.spill}. */
  spool?: TranscriptSpool;
  /** Items that overflowed the queue: feed the TranscriptQueueOverflow metric (alarmed). */
  onOverflow?: (count: number) => void;
}

/** Counters since start. */
export interface TranscriptWriterStats {
  written: number;
  failedAttempts: number;
  dropped: number;
  /** Items handed to the spool (overflow, give-ups with a spool, and spill). */
  spooled: number;
  /** Items that overflowed the queue (spooled or dropped). */
  overflowed: number;
  pending: number;
}

/** A transcript item as stored (already redacted, marshallable). */
export type Item = Record<string, unknown>;

interface Pending {
  key: string;
  seq: number;
  callSid: string;
  item: Item;
  attempts: number;
  notBefore: number;
  /** Sent alone after its batch was rejected as invalid, to find the bad item. */
  solo: boolean;
}

/** DynamoDB BatchWriteItem takes at most 25 put/delete requests. */
const BATCH_MAX = 25;
const MAX_TEXT = 20_000;
const MAX_ARGS = 4_000;

/**
 * Writes transcript items in the background. `append`/`putCall` only queue (never block, never throw); a single
 * writer loop sends BatchWriteItem requests of ≤ 25 items within `flushDelayMs` of an append, re-queues unprocessed
 * items and failed requests with jittered exponential backoff, and keeps per-key order (a newer version of an
 * item replaces a queued older one and a failed older one is never re-sent after it). A crash loses at most what
 * was appended in the last `flushDelayMs` plus the batch in flight.
 */
export class TranscriptWriter {
  private readonly queue: Pending[] = [];
  private readonly inFlight = new Set<Pending>();
  private readonly latest = new Map<string, number>();
  private readonly waiters: { callSid?: string; resolve: () => void }[] = [];
  /** Items given up per call, so a flush can say whether everything of its call was written. */
  private readonly droppedBy = new Map<string, number>();
  private readonly o: Required<Omit<TranscriptWriterOptions, 'onWriteError' | 'log' | 'redaction' | 'spool' | 'onOverflow'>> & TranscriptWriterOptions;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private pumping = false;
  private closed = false;
  private seq = 0;
  private counters = { written: 0, failedAttempts: 0, dropped: 0, spooled: 0, overflowed: 0 };
  /** Spool writes in progress (overflow goes out in the background; spill waits for them). */
  private readonly spooling = new Set<Promise<void>>();

  constructor(opts: TranscriptWriterOptions) {
    this.o = {
      retentionDays: 30, flushDelayMs: 100, maxAttempts: Infinity, baseBackoffMs: 50, maxBackoffMs: 5000, maxQueue: 10_000,
      ...opts,
    };
  }

  /** Queues one heard turn. Never throws; an invalid record is logged, counted as a write error and skipped. */
  append(rec: TurnRecord): void {
    try {
      if (!rec?.callSid || !Number.isInteger(rec.turn) || rec.turn < 1) throw new TypeError('turn record needs a callSid and an integer turn ≥ 1');
      const r = this.o.redaction ?? DEFAULT_REDACTION;
      this.enqueue(rec.callSid, rec.turn, {
        callSid: rec.callSid,
        turn: rec.turn,
        kind: 'turn',
        role: rec.role,
        text: redact(String(rec.text ?? ''), r).slice(0, MAX_TEXT),
        interrupted: rec.interrupted === true,
        at: iso(rec.startedAt),
        endAt: rec.endedAt === undefined ? undefined : iso(rec.endedAt),
        latency: rec.latency,
        toolCalls: rec.toolCalls?.map((t) => ({
          id: t.id, name: t.name, ok: t.ok, latencyMs: t.latencyMs,
          arguments: redactJsonText(String(t.arguments ?? ''), r).slice(0, MAX_ARGS),
        })),
        callerHash: rec.callerHash,
        expiresAt: this.expiresAt(rec.startedAt),
      });
    } catch (err) {
      this.rejectInput(err);
    }
  }

  /** Queues the call record (turn 0). Never throws. Putting it again replaces it: pass every field each time. */
  putCall(rec: CallRecord): void {
    try {
      if (!rec?.callSid || !rec.agent) throw new TypeError('call record needs a callSid and an agent');
      this.enqueue(rec.callSid, 0, {
        callSid: rec.callSid,
        turn: 0,
        kind: 'call',
        agent: rec.agent,
        callerHash: rec.callerHash,
        startedAt: iso(rec.startedAt),
        endedAt: rec.endedAt === undefined ? undefined : iso(rec.endedAt),
        endReason: rec.endReason,
        summary: rec.summary === undefined ? undefined : redact(rec.summary, this.o.redaction ?? DEFAULT_REDACTION).slice(0, MAX_TEXT),
        escalated: rec.escalated,
        cost: rec.cost,
        turns: rec.turns,
        expiresAt: this.expiresAt(rec.startedAt),
      });
    } catch (err) {
      this.rejectInput(err);
    }
  }

  /**
   * Sends what is queued for `callSid` (or everything) now. Resolves `true` once all of it is written; `false` if an
   * item had to be given up meanwhile, or if `timeoutMs` passes first (items in backoff keep being retried).
   */
  flush(callSid?: string, timeoutMs = 5000): Promise<boolean> {
    if (!this.hasPending(callSid)) return Promise.resolve(true);
    const droppedBefore = this.droppedOf(callSid);
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        resolve(false);
      }, timeoutMs);
      const waiter = { callSid, resolve: () => (clearTimeout(t), resolve(this.droppedOf(callSid) === droppedBefore)) };
      this.waiters.push(waiter);
      this.clearTimer();
      void this.pump();
    });
  }

  /** SIGTERM: flushes every call. */
  flushAll(timeoutMs = 5000): Promise<boolean> {
    return this.flush(undefined, timeoutMs);
  }

  /** Counters for logs and tests. */
  stats(): TranscriptWriterStats {
    return { ...this.counters, pending: this.queue.length + this.inFlight.size };
  }

  /**
   * SIGTERM after a flush that did not finish (DynamoDB still failing): hands every unwritten item (the newest
   * version of each) to the spool, so `npm run transcripts -- replay` can write them later. Resolves with how many
   * were spooled; rejects (and keeps them queued) when there is no spool or it failed.
   */
  async spill(): Promise<number> {
    await Promise.allSettled([...this.spooling]);
    const items = new Map<string, Pending>();
    for (const p of [...this.inFlight, ...this.queue]) if (this.latest.get(p.key) === p.seq) items.set(p.key, p);
    if (!items.size) return 0;
    if (!this.o.spool) throw new Error(`no transcript spool configured; ${items.size} items unwritten`);
    await this.o.spool.write([...items.values()].map((p) => p.item));
    for (const p of items.values()) {
      this.latest.delete(p.key);
      this.counters.spooled++;
    }
    this.queue.length = 0;
    this.o.log?.warn({ items: items.size, spool: this.o.spool.where }, 'transcript items spooled for replay');
    this.settle();
    return items.size;
  }

  /** Stops the background timer; call after {@link flushAll}. Later appends are dropped. */
  close(): void {
    this.closed = true;
    this.clearTimer();
  }

  // -------------------------------------------------------------------------------------------------------------

  private enqueue(callSid: string, turn: number, raw: Item): void {
    if (this.closed) throw new Error('transcript writer is closed');
    // JSON round trip: drops undefined, turns NaN/Infinity into null and strips class instances, so one odd value
    // cannot make the SDK's marshalling fail a whole batch.
    const item = JSON.parse(JSON.stringify(raw)) as Item;
    const key = `${callSid}#${turn}`;
    const seq = ++this.seq;
    this.latest.set(key, seq);
    const queued = this.queue.find((p) => p.key === key);
    if (queued) Object.assign(queued, { item, seq });
    else this.queue.push({ key, seq, callSid, item, attempts: 0, notBefore: 0, solo: false });
    while (this.queue.length > this.o.maxQueue) this.overflow(this.queue.shift()!);
    if (this.queue.length >= BATCH_MAX) {
      this.clearTimer();
      void this.pump();
    } else if (!this.pumping) this.wakeIn(this.o.flushDelayMs);
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const now = Date.now();
        const batch: Pending[] = [];
        const keys = new Set<string>();
        for (const p of this.queue) {
          if (batch.length === BATCH_MAX || (batch.length && batch[0].solo)) break;
          if (p.notBefore > now || keys.has(p.key)) continue;
          if (p.solo && batch.length) continue;
          batch.push(p);
          keys.add(p.key);
        }
        if (!batch.length) break;
        for (const p of batch) {
          this.queue.splice(this.queue.indexOf(p), 1);
          this.inFlight.add(p);
        }
        try {
          await this.send(batch);
        } catch (err) {
          // send() handles every DynamoDB outcome; this only guards against a bug losing the batch silently.
          this.o.log?.error({ err: { name: (err as Error)?.name } }, 'transcript writer failed unexpectedly; retrying batch');
          for (const p of batch) this.retry(p);
        }
        for (const p of batch) this.inFlight.delete(p);
        this.settle();
      }
    } finally {
      this.pumping = false;
    }
    if (this.queue.length && !this.closed) {
      const next = Math.min(...this.queue.map((p) => p.notBefore));
      this.wakeIn(Math.max(0, next - Date.now()));
    }
    this.settle();
  }

  private async send(batch: Pending[]): Promise<void> {
    let unprocessed: Pending[];
    try {
      const out = await this.o.doc.send(
        new BatchWriteCommand({ RequestItems: { [this.o.table]: batch.map((p) => ({ PutRequest: { Item: p.item } })) } }),
      );
      const left = new Set((out.UnprocessedItems?.[this.o.table] ?? []).map((r) => `${r.PutRequest?.Item?.callSid}#${r.PutRequest?.Item?.turn}`));
      unprocessed = batch.filter((p) => left.has(p.key));
      for (const p of batch) if (!left.has(p.key)) this.written(p);
      if (unprocessed.length) this.o.log?.warn({ items: unprocessed.length }, 'transcript items unprocessed (throttled); retrying');
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'ValidationException' && batch.length > 1) {
        // One item is invalid (DynamoDB rejects the whole batch): send each alone to find it, no attempt spent.
        for (const p of batch) p.solo = true;
        this.queue.unshift(...batch);
        return;
      }
      if (e.name === 'ValidationException') {
        this.reportErrors(1);
        this.drop(batch[0], 'rejected as invalid');
        return;
      }
      this.o.log?.warn({ err: { name: e.name, status: e.$metadata?.httpStatusCode }, items: batch.length }, 'transcript batch write failed; retrying');
      unprocessed = batch;
    }
    if (!unprocessed.length) return;
    this.reportErrors(unprocessed.length);
    for (const p of unprocessed) this.retry(p);
  }

  private retry(p: Pending): void {
    if (this.latest.get(p.key) !== p.seq) return; // superseded by a newer version of the item
    p.attempts++;
    if (p.attempts >= this.o.maxAttempts) {
      this.toSpool(p, 'gave up after retries');
      return;
    }
    // Exponential backoff with "equal jitter": half fixed, half random, so retries of many tasks spread out.
    const cap = Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** (p.attempts - 1));
    p.notBefore = Date.now() + cap / 2 + Math.random() * (cap / 2);
    this.queue.push(p);
  }

  private written(p: Pending): void {
    this.counters.written++;
    if (this.latest.get(p.key) === p.seq) this.latest.delete(p.key);
  }

  private droppedOf(callSid: string | undefined): number {
    return callSid === undefined ? this.counters.dropped : (this.droppedBy.get(callSid) ?? 0);
  }

  /** The queue is full: the oldest item leaves it, to the spool when there is one; always counted and logged. */
  private overflow(p: Pending): void {
    this.counters.overflowed++;
    try {
      this.o.onOverflow?.(1);
    } catch {
      // a metrics hook must not break the writer
    }
    if (this.counters.overflowed === 1 || this.counters.overflowed % 100 === 0) {
      this.o.log?.error({ overflowed: this.counters.overflowed, maxQueue: this.o.maxQueue, spool: this.o.spool?.where ?? 'none' }, 'transcript queue full: oldest items leave the queue');
    }
    this.toSpool(p, 'queue full');
  }

  /** Hands one item to the spool in the background; without a spool (or if it fails) the item is dropped and logged. */
  private toSpool(p: Pending, reason: string): void {
    const spool = this.o.spool;
    if (!spool) return this.drop(p, reason);
    if (this.latest.get(p.key) === p.seq) this.latest.delete(p.key);
    // Counted against its call like a drop, so a flush of that call reports it was not fully written to DynamoDB.
    this.droppedBy.set(p.callSid, (this.droppedBy.get(p.callSid) ?? 0) + 1);
    const w: Promise<void> = spool.write([p.item]).then(
      () => void this.counters.spooled++,
      () => this.drop(p, `${reason}; spool failed`),
    ).finally(() => this.spooling.delete(w));
    this.spooling.add(w);
  }

  private drop(p: Pending, reason: string): void {
    this.counters.dropped++;
    this.droppedBy.set(p.callSid, (this.droppedBy.get(p.callSid) ?? 0) + 1);
    if (this.latest.get(p.key) === p.seq) this.latest.delete(p.key);
    this.o.log?.error({ callSid: p.callSid, turn: p.item.turn, attempts: p.attempts }, `transcript item dropped: ${reason}`);
  }

  private reportErrors(n: number): void {
    this.counters.failedAttempts += n;
    try {
      this.o.onWriteError?.(n);
    } catch {
      // a metrics hook must not break the writer
    }
  }

  private rejectInput(err: unknown): void {
    this.reportErrors(1);
    this.counters.dropped++;
    this.o.log?.error({ err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'transcript record rejected');
  }

  private hasPending(callSid?: string): boolean {
    const match = (p: Pending) => callSid === undefined || p.callSid === callSid;
    if (this.queue.some(match)) return true;
    for (const p of this.inFlight) if (match(p)) return true;
    return false;
  }

  private settle(): void {
    for (const w of [...this.waiters]) {
      if (!this.hasPending(w.callSid)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  private wakeIn(ms: number): void {
    const at = Date.now() + ms;
    if (this.timer && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.pump();
    }, ms);
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private expiresAt(startedAtMs: number): number {
    return Math.floor((Number.isFinite(startedAtMs) ? startedAtMs : Date.now()) / 1000) + this.o.retentionDays * 86_400;
  }
}

function iso(ms: number): string {
  if (!Number.isFinite(ms)) throw new TypeError('timestamps must be epoch milliseconds');
  return new Date(ms).toISOString();
}
