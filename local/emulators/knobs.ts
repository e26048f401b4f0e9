// Latency and fault knobs shared by the provider emulators: seedable latency sampling, fault budgets, ordered delayed sends, paced streams.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

/**
 * A latency: a fixed number of ms, or a distribution sampled per event.
 * `lognormal` (default) fits p50/p95 exactly (σ = ln(p95/p50)/1.645), like real network/model latency with a long tail;
 * `uniform` draws from [p50 - (p95 - p50), p95] (jitter around the median), clamped at 0.
 */
export type Latency = number | { p50: number; p95: number; dist?: 'lognormal' | 'uniform' };

/** A refused request or upgrade: HTTP status (429, 5xx, ...) with an optional `retry-after` in seconds. */
export interface HttpFault {
  status: number;
  /** Seconds, sent as the `retry-after` header. */
  retryAfter?: number;
  /** How many upcoming requests/upgrades fail; decremented per use. @default 1 */
  count?: number;
}

/** Faults every emulator understands. All optional; absent = healthy. */
export interface FaultKnobs {
  /** Delay before an upgrade or HTTP request is answered (a slow accept). */
  acceptDelayMs?: Latency;
  /** Drop each new connection this many ms after it opens, without a close frame (clients see 1006). */
  dropAfterMs?: number;
  /** Close each new connection with this vendor error code/reason after `afterMs`. */
  closeWith?: { afterMs: number; code: number; reason: string };
  /** Refuse the next `count` upgrades/requests with this HTTP status. */
  httpError?: HttpFault;
}

/** Mulberry32: a tiny seedable PRNG so latency draws are reproducible per seed. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws one latency in ms (never negative) from a Latency knob; `undefined` → 0. */
export function sampleLatency(latency: Latency | undefined, rng: () => number): number {
  if (latency === undefined) return 0;
  if (typeof latency === 'number') return Math.max(0, latency);
  const { p50, p95 } = latency;
  if (latency.dist === 'uniform') {
    const lo = Math.max(0, p50 - (p95 - p50));
    return lo + rng() * (p95 - lo);
  }
  if (p50 <= 0) return 0;
  const sigma = Math.max(0, Math.log(Math.max(p95, p50) / p50) / 1.645);
  // Box-Muller; 1 - rng() keeps log() away from 0.
  const z = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  return Math.exp(Math.log(p50) + sigma * z);
}

/** Takes one use of an HttpFault budget: returns the fault to apply (and decrements `count`), or undefined. */
export function takeHttpFault(holder: { httpError?: HttpFault }): HttpFault | undefined {
  const f = holder.httpError;
  if (!f) return undefined;
  const left = (f.count ?? 1) - 1;
  if (left <= 0) delete holder.httpError;
  else holder.httpError = { ...f, count: left };
  return f;
}

/** Resolves after `ms` (0 → next macrotask). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** A clock a {@link pacer} reads and waits on (tests pass one whose timers fire late). */
export interface PaceClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PaceClock = { now: () => performance.now(), sleep };

/**
 * Paces a stream at one item per `perItemMs` from now: `due(i)` resolves when item `i` is due. It waits for
 * deadlines, not one sleep per item, because a timer fires a millisecond or more late (later when the event loop
 * is busy): 150 reasoning tokens at 1000 tokens/s took ~170 ms alone and up to ~260 ms beside 19 other streams, and
 * in the 50-call bench the large model's (500 T/s) answer started ~80 ms late. An item already late is due at once, so
 * the stream keeps its rate.
 */
export function pacer(perItemMs: number, clock: PaceClock = realClock): (index: number) => Promise<void> {
  const start = clock.now();
  return async (index) => {
    const wait = start + index * perItemMs - clock.now();
    if (wait > 0) await clock.sleep(wait);
  };
}

/**
 * Sends in the order scheduled even when latencies are sampled: each item is due at max(now + delay, previous due),
 * so a fast final never overtakes a slow interim (a vendor socket is one ordered stream).
 */
export class OrderedSender {
  private lastDue = 0;
  /** Due times never decrease, so the queue is already in send order; one timer serves its head. */
  private readonly queue: { due: number; fn: () => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  /** Runs `fn` after `delayMs`, never before anything scheduled earlier. */
  schedule(delayMs: number, fn: () => void): void {
    const due = Math.max(Date.now() + Math.max(0, delayMs), this.lastDue);
    this.lastDue = due;
    this.queue.push({ due, fn });
    if (this.queue.length === 1) this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    const head = this.queue[0];
    if (!head) {
      this.timer = undefined;
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    this.timer = setTimeout(() => this.pump(), Math.max(0, head.due - Date.now()));
  }

  private pump(): void {
    // Timers can fire a millisecond early relative to Date.now(); a 1 ms tolerance keeps the order and the pace.
    while (this.queue.length && this.queue[0]!.due <= Date.now() + 1) {
      const { fn } = this.queue.shift()!;
      try {
        fn();
      } catch {
        // A failed send (socket gone) must not stop later ones.
      }
    }
    this.arm();
  }

  /** Resolves once everything scheduled so far has run. */
  idle(): Promise<void> {
    return this.queue.length === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  /** Cancels everything not yet sent. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** What every emulator start function returns (plus its own controls). */
export interface EmulatorHandle {
  /** Base URL (http://127.0.0.1:PORT); WebSocket clients may use it as is or with ws://. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:port (0 = ephemeral) and resolves the bound port. */
export async function listenLoopback(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Closes an HTTP server, cutting idle keep-alive sockets so close() does not hang. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

/** Reads a request body as text, refusing bodies over `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = 2_000_000): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Writes a JSON response with the given status and extra headers. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
