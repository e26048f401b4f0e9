// Per-task warm pools of already-open provider sockets (STT, TTS), keyed by connection options, refilled in the background.
import type { Logger } from '../observability/logger';

/** What a pooled socket must offer. */
export interface PooledSocket {
  /** False once the socket closed (dropped by the vendor or closed by us). */
  readonly isOpen: boolean;
  /** Resolves when the socket closes, for whatever reason. */
  readonly closed: Promise<void>;
  /** Closes the socket (idempotent). */
  close(): void;
}

export interface WarmPoolOptions<T extends PooledSocket> {
  /** For logs (never contains secrets): e.g. `stt:booking`. */
  name: string;
  /** Open sockets to keep ready. 0 disables warming (acquire always dials). */
  size: number;
  /** Opens one socket; resolves once it is open. */
  dial: (signal: AbortSignal) => Promise<T>;
  log: Logger;
  /** First wait after a failed dial; doubles up to 30 s while dials keep failing. @default 1000 */
  retryMs?: number;
}

/** Keeps `size` open sockets ready for one set of connection options. */
export class WarmPool<T extends PooledSocket> {
  private readonly ready: T[] = [];
  private dialing = 0;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly shutdown = new AbortController();

  constructor(private readonly opts: WarmPoolOptions<T>) {
    this.fill();
  }

  /** Open sockets ready right now. */
  get readyCount(): number {
    return this.ready.filter((s) => s.isOpen).length;
  }

  /** An open socket: a ready one at once, else a fresh dial. The pool refills in the background either way. */
  async acquire(): Promise<T> {
    if (this.shutdown.signal.aborted) throw new Error(`warm pool ${this.opts.name} is closed`);
    let socket: T | undefined;
    while ((socket = this.ready.shift())) {
      if (socket.isOpen) break;
    }
    this.fill();
    if (socket) return socket;
    return this.opts.dial(this.shutdown.signal);
  }

  /** Resolves once `readyCount` reaches the pool size (for boot readiness and tests), or rejects after `timeoutMs`. */
  async warmed(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.readyCount < this.opts.size) {
      if (Date.now() > until) throw new Error(`warm pool ${this.opts.name}: ${this.readyCount}/${this.opts.size} sockets after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private fill(): void {
    if (this.shutdown.signal.aborted || this.retryTimer) return;
    while (this.ready.length + this.dialing < this.opts.size) this.dialOne();
  }

  private dialOne(): void {
    this.dialing++;
    this.opts.dial(this.shutdown.signal).then(
      (socket) => {
        this.dialing--;
        this.failures = 0;
        if (this.shutdown.signal.aborted) return socket.close();
        this.ready.push(socket);
        void socket.closed.then(() => {
          // A vendor dropped an idle socket (timeout, deploy, network): replace it.
          const i = this.ready.indexOf(socket);
          if (i < 0) return;
          this.ready.splice(i, 1);
          this.opts.log.info({ pool: this.opts.name }, 'warm socket dropped while idle; replacing');
          this.fill();
        });
      },
      (err: unknown) => {
        this.dialing--;
        if (this.shutdown.signal.aborted) return;
        const wait = Math.min(30_000, (this.opts.retryMs ?? 1000) * 2 ** this.failures++);
        this.opts.log.warn({ pool: this.opts.name, err: (err as Error)?.message, retryInMs: wait }, 'warm pool dial failed');
        if (!this.retryTimer) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.fill();
          }, wait);
          this.retryTimer.unref();
        }
      },
    );
  }

  /** Stops refilling and closes the idle sockets (sockets already handed to calls are theirs to close). */
  close(): void {
    this.shutdown.abort();
    clearTimeout(this.retryTimer);
    for (const s of this.ready.splice(0)) s.close();
  }
}

/**
 * One WarmPool per connection-options key, created on first use.
 *
 * Why keyed pools: a Deepgram socket's endpointing, utterance_end_ms, Flux thresholds, keyterms and redaction are
 * handshake query parameters (v1 cannot change them on an open socket), and an ElevenLabs socket is bound to one
 * voice and model in its URL. So a socket dialed for one agent cannot serve another. A deployment has a handful of
 * agent profiles, so each distinct set of connection options (the provider's `key`) gets its own small pool
 * (WARM_POOL_SIZE, default 2). The media service warms every agent's keys at boot, so in the common case
 * `acquire()` hands over an open socket at once; a key first seen at acquire time dials once (that call waits) and
 * then stays warm for the next call. The pool knows nothing of vendors: each socket keeps itself alive with its
 * vendor's keep-alive (Deepgram KeepAlive / Flux silence, ElevenLabs keep-alive context) and reports when it drops.
 */
export class WarmPools<T extends PooledSocket> {
  private readonly pools = new Map<string, WarmPool<T>>();

  constructor(private readonly opts: { size: number; log: Logger; retryMs?: number }) {}

  /** The pool for `key` (e.g. `stt.key`), created and filling on first call; call it at boot to warm an agent's sockets. */
  pool(key: string, dial: (signal: AbortSignal) => Promise<T>): WarmPool<T> {
    let p = this.pools.get(key);
    if (!p) {
      p = new WarmPool({ name: key.slice(0, 80), size: this.opts.size, dial, log: this.opts.log, retryMs: this.opts.retryMs });
      this.pools.set(key, p);
    }
    return p;
  }

  /** An open socket for `key`: from its pool when one is ready, else dialed now (and the pool starts warming). */
  acquire(key: string, dial: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.pool(key, dial).acquire();
  }

  /** Closes every pool's idle sockets. */
  close(): void {
    for (const p of this.pools.values()) p.close();
    this.pools.clear();
  }
}
