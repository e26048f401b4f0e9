// The operations console's publisher: a LiveFeed that batches console events and posts them to every connected console with API Gateway's PostToConnection, off the audio path.
import { ApiGatewayManagementApiClient, GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DeleteCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AgentProfile } from '../agents/types';
import type { ConsoleConnection, ConsoleEvent, LiveFeed } from '../../../contracts/console';
import { REDACTION_TAGS, redact } from '../privacy/redaction';
import type { CallInstruments } from './instruments';
import type { Logger } from './logger';
import type { CallObserver } from './observer';
import { combineObservers } from './observers';

/** Options of {@link ConsoleFeed}. */
export interface ConsoleFeedOptions {
  /**
   * The WebSocket API's management endpoint, `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`
   * (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-how-to-call-websocket-api-connections.html),
   * or the local stand-in's URL (local/console-gateway.ts).
   */
  endpoint: string;
  region: string;
  /** The console connections table (ConsoleConnection rows, pk `connectionId`). */
  table: string;
  doc: DynamoDBDocumentClient;
  /** `close()` also destroys `doc`. @default false */
  ownsDoc?: boolean;
  log: Logger;
  /** Flush period. @default 250 */
  flushMs?: number;
  /** A batch this large is flushed at once instead of waiting for the period. @default 50 */
  maxBatch?: number;
  /** Queued events beyond this drop the oldest (counted in `stats().dropped`). @default 2000 */
  maxQueue?: number;
  /** How long a scan of the connections table is reused. @default 1000 */
  connectionsTtlMs?: number;
  /** A PostToConnection that has not answered after this long is abandoned. @default 2000 */
  postTimeoutMs?: number;
  /** Static credentials (the local stand-in does not check signatures). @default the SDK's default chain */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** @default Date.now */
  now?: () => number;
}

/** What the feed did, for tests and metrics. */
export interface ConsoleFeedStats {
  published: number;
  /** Events dropped: queue overflow, or a connection still busy with its previous batch. */
  dropped: number;
  /** PostToConnection calls that succeeded / failed (not counting 410s). */
  posted: number;
  failed: number;
  /** Connections removed after a 410 GoneException. */
  gone: number;
}

/** API Gateway takes at most 128 KB per PostToConnection (the WebSocket API quotas page); batches stay well under. */
const MAX_BATCH_BYTES = 96 * 1024;

/** A console without transcript rights gets `turn` events without their words. */
export function forConnection(e: ConsoleEvent, transcripts: boolean): ConsoleEvent {
  if (transcripts || e.type !== 'turn') return e;
  const { caller: _c, agent: _a, ...rest } = e;
  return rest;
}

/** Serialised batches of at most `maxBytes` each (an event larger than that travels alone). */
export function packBatches(events: ConsoleEvent[], maxBytes = MAX_BATCH_BYTES): string[] {
  const out: string[] = [];
  let parts: string[] = [];
  let size = 2;
  for (const e of events) {
    const s = JSON.stringify(e);
    if (parts.length && size + s.length + 1 > maxBytes) {
      out.push(`[${parts.join(',')}]`);
      parts = [];
      size = 2;
    }
    parts.push(s);
    size += s.length + 1;
  }
  if (parts.length) out.push(`[${parts.join(',')}]`);
  return out;
}

/** The caller as the console shows it: the redaction tag and the last two digits (never the number). */
export function maskCaller(caller: string | undefined): string {
  if (!caller) return 'unknown';
  const digits = caller.replace(/\D/g, '');
  if (digits.length >= 7) return `${REDACTION_TAGS.phone}…${digits.slice(-2)}`;
  return redact(caller);
}

/** A fixed-size ring of events: push is O(1), and the oldest goes when full. */
class Ring {
  private readonly items: (ConsoleEvent | undefined)[];
  private head = 0;
  size = 0;
  constructor(private readonly cap: number) {
    this.items = new Array(cap);
  }
  /** True when the oldest event had to go. */
  push(e: ConsoleEvent): boolean {
    const full = this.size === this.cap;
    this.items[(this.head + this.size) % this.cap] = e;
    if (full) this.head = (this.head + 1) % this.cap;
    else this.size++;
    return full;
  }
  take(n: number): ConsoleEvent[] {
    const out: ConsoleEvent[] = [];
    while (out.length < n && this.size > 0) {
      out.push(this.items[this.head]!);
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.cap;
      this.size--;
    }
    return out;
  }
}

/**
 * The task's console feed. `publish` only enqueues (O(1), never awaits, never throws); a timer flushes batches to
 * every connection in the table. Each connection has at most one post in flight: a console that is slow or never
 * answers misses batches (counted as dropped) instead of piling up requests, and nothing it does reaches a call.
 */
export class ConsoleFeed implements LiveFeed {
  private readonly queue: Ring;
  private readonly client: ApiGatewayManagementApiClient;
  private readonly busy = new Set<string>();
  /** Connections seen in the last scan: one that is new first gets the calls already live. */
  private known = new Set<string>();
  /** The `call-started` of each live call, for consoles that connect mid-call. */
  private readonly live = new Map<string, ConsoleEvent>();
  private readonly goneIds = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private connections: { at: number; rows: ConsoleConnection[] } | undefined;
  private scanning: Promise<ConsoleConnection[]> | undefined;
  private flushing = false;
  private soon = false;
  private closed = false;
  private readonly s: ConsoleFeedStats = { published: 0, dropped: 0, posted: 0, failed: 0, gone: 0 };
  private readonly o: Required<Pick<ConsoleFeedOptions, 'flushMs' | 'maxBatch' | 'connectionsTtlMs' | 'postTimeoutMs' | 'now'>>;

  constructor(private readonly opts: ConsoleFeedOptions) {
    this.o = { flushMs: opts.flushMs ?? 250, maxBatch: opts.maxBatch ?? 50, connectionsTtlMs: opts.connectionsTtlMs ?? 1000, postTimeoutMs: opts.postTimeoutMs ?? 2000, now: opts.now ?? Date.now };
    if (!/^https?:\/\//.test(opts.endpoint)) throw new Error(`CONSOLE_MANAGEMENT_ENDPOINT must be an http(s) URL, got "${opts.endpoint}"`);
    this.queue = new Ring(opts.maxQueue ?? 2000);
    this.client = new ApiGatewayManagementApiClient({
      region: opts.region,
      endpoint: opts.endpoint,
      maxAttempts: 1,
      requestHandler: { requestTimeout: this.o.postTimeoutMs, connectionTimeout: 1000 },
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
    });
    this.timer = setInterval(() => void this.flush(), this.o.flushMs);
    this.timer.unref();
  }

  publish(e: ConsoleEvent): void {
    if (this.closed) return;
    this.s.published++;
    if (e.type === 'call-started') this.live.set(e.callSid, e);
    else if (e.type === 'call-ended') this.live.delete(e.callSid);
    if (this.queue.push(e)) this.s.dropped++;
    if (this.queue.size >= this.o.maxBatch && !this.soon) {
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        void this.flush();
      });
    }
  }

  stats(): ConsoleFeedStats {
    return { ...this.s };
  }

  /** Posts what is queued, then stops. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    this.closed = true;
    this.client.destroy();
    if (this.opts.ownsDoc) this.opts.doc.destroy();
  }

  /** One round: take up to `maxBatch` events and post them to every idle connection. Never throws. */
  async flush(): Promise<void> {
    if (this.flushing || this.closed || this.queue.size === 0) return;
    this.flushing = true;
    try {
      const rows = await this.connectionRows();
      const events = this.queue.take(this.o.maxBatch);
      const inBatch = new Set(events.filter((e) => e.type === 'call-started').map((e) => (e as { callSid: string }).callSid));
      const catchUp = [...this.live].filter(([sid]) => !inBatch.has(sid)).map(([, e]) => e);
      const known = this.known;
      this.known = new Set(rows.map((r) => r.connectionId));
      for (const row of rows) {
        if (this.goneIds.has(row.connectionId)) continue;
        if (this.busy.has(row.connectionId)) {
          this.s.dropped += events.length;
          continue;
        }
        const first = known.has(row.connectionId) ? [] : catchUp;
        const batches = packBatches([...first, ...events].map((e) => forConnection(e, row.transcripts === true)));
        void this.postAll(row.connectionId, batches);
      }
    } catch (err) {
      this.opts.log.warn({ err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'console feed flush failed');
    } finally {
      this.flushing = false;
    }
  }

  private async postAll(connectionId: string, batches: string[]): Promise<void> {
    this.busy.add(connectionId);
    try {
      for (const data of batches) {
        await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: new TextEncoder().encode(data) }), { abortSignal: AbortSignal.timeout(this.o.postTimeoutMs) });
        this.s.posted++;
      }
    } catch (err) {
      if (err instanceof GoneException || (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 410) await this.forget(connectionId);
      else {
        this.s.failed++;
        this.opts.log.debug({ connectionId, err: { name: (err as Error)?.name } }, 'PostToConnection failed');
      }
    } finally {
      this.busy.delete(connectionId);
    }
  }

  /** A 410: the console is gone; its row goes too (the $disconnect Lambda may not have run). */
  private async forget(connectionId: string): Promise<void> {
    this.s.gone++;
    this.goneIds.add(connectionId);
    await this.opts.doc.send(new DeleteCommand({ TableName: this.opts.table, Key: { connectionId } })).catch((err: unknown) => {
      this.opts.log.warn({ connectionId, err: { name: (err as Error)?.name } }, 'could not delete a gone console connection');
    });
  }

  /** The table's rows, scanned at most once per `connectionsTtlMs`; a failed scan keeps the last list. */
  private async connectionRows(): Promise<ConsoleConnection[]> {
    const now = this.o.now();
    if (this.connections && now - this.connections.at < this.o.connectionsTtlMs) return this.connections.rows;
    this.scanning ??= this.scan().finally(() => (this.scanning = undefined));
    try {
      const rows = await this.scanning;
      this.connections = { at: now, rows };
      for (const id of this.goneIds) if (!rows.some((r) => r.connectionId === id)) this.goneIds.delete(id);
      return rows;
    } catch (err) {
      this.opts.log.warn({ err: { name: (err as Error)?.name } }, 'console connections scan failed');
      this.connections = { at: now, rows: this.connections?.rows ?? [] };
      return this.connections.rows;
    }
  }

  private async scan(): Promise<ConsoleConnection[]> {
    const rows: ConsoleConnection[] = [];
    const nowSec = Math.floor(this.o.now() / 1000);
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.opts.doc.send(new ScanCommand({ TableName: this.opts.table, ExclusiveStartKey: start }));
      for (const it of r.Items ?? []) {
        // DynamoDB TTL deletes lazily (up to days later): an expired row is treated as gone already.
        if (typeof it.connectionId === 'string' && !(Number(it.expiresAt) > 0 && Number(it.expiresAt) < nowSec)) rows.push(it as ConsoleConnection);
      }
      start = r.LastEvaluatedKey;
    } while (start);
    return rows;
  }
}

/** The console events of one call that the observer seam sees: started, tools, running cost, ended. */
export function liveFeedObserver(feed: LiveFeed, call: { callSid: string; caller?: string; agent: string }, running: () => number | undefined, now: () => number = Date.now): CallObserver {
  const { callSid } = call;
  feed.publish({ type: 'call-started', callSid, agent: call.agent, caller: maskCaller(call.caller), at: now() });
  const cost = () => {
    const usd = running();
    if (usd !== undefined && Number.isFinite(usd)) feed.publish({ type: 'cost', callSid, usd, at: now() });
  };
  return {
    turn: () => {},
    toolCall: (name, ms, ok) => {
      feed.publish({ type: 'tool', callSid, name, ms: Math.round(ms), ok, at: now() });
      cost();
    },
    usage: () => cost(),
    end: (s) => {
      cost();
      // A call that goes on in another stream (migration, <Pay>) is not over: the next stream reports on.
      if (!s.handedOver) feed.publish({ type: 'call-ended', callSid, at: s.endedAt, escalated: s.escalated });
    },
  };
}

/** Per-call instruments whose observer also feeds the console (call started, tools, running cost, ended). */
export function withLiveFeed<C extends { start: { callSid: string } }>(
  inner: (call: C, profile: AgentProfile) => CallInstruments,
  feed: LiveFeed,
): (call: C & { start: { caller?: string } }, profile: AgentProfile) => CallInstruments {
  return (call, profile) => {
    const i = inner(call, profile);
    const live = liveFeedObserver(feed, { callSid: call.start.callSid, caller: call.start.caller, agent: profile.name }, () => i.running?.(Date.now()));
    return { ...i, observer: combineObservers(i.observer, live) };
  };
}
