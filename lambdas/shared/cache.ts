// Read-through tool cache on Redis: per-tool TTL, stale-while-revalidate, invalidation on writes, outage-tolerant.
import { createHash } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { Redis, type RedisOptions } from 'ioredis';
import { elastiCacheRedisOptions, parseRedisUrl } from '../../fargate/src/store/redis';
import type { RedisTarget } from './config';
import type { CallMeasures, ToolMetrics } from './observability';
import { secretValue } from './secrets';

/** The few key-value operations the cache needs; Redis in every deployed stage, process memory for a Redis-less laptop. */
export interface CacheStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(keys: string[]): Promise<void>;
  /** SET NX PX: true when this caller now holds the lock. */
  acquire(key: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Thrown instead of waiting when Redis is known to be unreachable. */
export class CacheUnavailableError extends Error {
  override name = 'CacheUnavailableError';
}

export interface RedisStoreOptions {
  /** Give up connecting after this long; the call is answered from the source meanwhile. @default 250 */
  connectTimeoutMs?: number;
  /** Per-command timeout: a hung Redis must not hold a tool past its budget. @default 150 */
  commandTimeoutMs?: number;
  /** After a failed connect, skip Redis for this long instead of paying the connect timeout on every call. @default 2000 */
  retryAfterMs?: number;
  /** CLIENT SETNAME, so `CLIENT LIST` shows which service holds a connection. */
  clientName?: string;
  logger?: Logger;
}

/**
 * One Redis connection per execution environment, opened lazily on first use and reused by every invocation.
 * Failure policy: never block a tool. No offline queue (commands fail at once while disconnected), a short
 * connect timeout, no reconnect loop on the first connect, at most 3 quick reconnects after a drop; then the
 * client is dropped and the next call dials afresh.
 */
export class RedisStore implements CacheStore {
  private client?: Redis;
  private connecting?: Promise<Redis>;
  private downUntil = 0;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly retryAfterMs: number;

  constructor(
    private readonly target: Exclude<RedisTarget, { kind: 'memory' }>,
    private readonly opts: RedisStoreOptions = {},
  ) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 250;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 150;
    this.retryAfterMs = opts.retryAfterMs ?? 2000;
  }

  private async ready(): Promise<Redis> {
    const c = this.client;
    if (c?.status === 'ready') return c;
    if (this.connecting) return this.connecting;
    // 'connect'/'reconnecting'/'close' after a drop: ioredis is retrying (at most 3 times, see retryStrategy).
    if (c && c.status !== 'end') throw new CacheUnavailableError('redis reconnecting');
    this.client = undefined;
    if (Date.now() < this.downUntil) throw new CacheUnavailableError('redis recently unreachable');
    this.connecting = this.connect().then(
      (client) => {
        this.connecting = undefined;
        return client;
      },
      (err: unknown) => {
        this.connecting = undefined;
        this.downUntil = Date.now() + this.retryAfterMs;
        throw err;
      },
    );
    return this.connecting;
  }

  private async connect(): Promise<Redis> {
    const t = this.target;
    const password = t.passwordSecretArn ? await secretValue(t.passwordSecretArn) : t.password;
    let everReady = false;
    const options: RedisOptions = {
      lazyConnect: true,
      connectTimeout: this.connectTimeoutMs,
      commandTimeout: this.commandTimeoutMs,
      // Fail fast instead of queueing: a command issued while disconnected rejects at once, and one in flight
      // when the connection drops is not retried on the next connection.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // ioredis counts attempts from 1; null ends the client. Never retry a first connect (the call is answered
      // from the source and the next call after retryAfterMs dials again); after a drop, 3 quick tries.
      retryStrategy: (times) => (!everReady || times > 3 ? null : Math.min(50 * 2 ** (times - 1), 400)),
      // No INFO round trip before 'ready' (ElastiCache is never loading from disk when it accepts connections).
      enableReadyCheck: false,
      // CLIENT SETNAME, so `CLIENT LIST` shows which service holds a connection.
      ...(this.opts.clientName ? { connectionName: this.opts.clientName } : {}),
    };
    // The one ElastiCache AUTH-token form (`AUTH <token>`, TLS with SNI) shared with the media service:
    // `rediss://` turns TLS on from the URL, REDIS_TLS does it for host/port; a secret's token wins over the URL's.
    const endpoint = t.kind === 'url' ? parseRedisUrl(t.url) : { host: t.host, port: t.port, tls: t.tls };
    const client = new Redis({ ...options, ...elastiCacheRedisOptions({ ...endpoint, ...(password ? { authToken: password } : {}) }) });
    // ioredis emits 'error' on every socket failure; without a listener it prints each one as unhandled.
    // Only the error's name is logged: messages can carry the host, never the AUTH token, but keep logs lean.
    client.on('error', (err: Error) => this.opts.logger?.debug('redis socket error', { error: err.name }));
    client.on('ready', () => {
      everReady = true;
    });
    this.client = client;
    const timer = new Promise<never>((_, reject) => {
      const id = setTimeout(() => reject(new CacheUnavailableError('redis connect timeout')), this.connectTimeoutMs + 50);
      id.unref();
    });
    try {
      await Promise.race([client.connect(), timer]);
      return client;
    } catch (err) {
      this.client = undefined;
      client.disconnect();
      throw err;
    }
  }

  async get(key: string): Promise<string | null> {
    const c = await this.ready();
    return c.get(key);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    const c = await this.ready();
    await c.set(key, value, 'EX', ttlSeconds);
  }

  async del(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const c = await this.ready();
    await c.del(keys);
  }

  async acquire(key: string, ttlMs: number): Promise<boolean> {
    const c = await this.ready();
    return (await c.set(key, '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (!c || c.status === 'end') return;
    if (c.status === 'ready') await c.quit().catch(() => c.disconnect());
    else c.disconnect();
  }
}

/** Process-memory store for a laptop without Redis (ARCHITECTURE §5). Not shared between processes. */
export class MemoryStore implements CacheStore {
  private readonly map = new Map<string, { value: string; expiresAt: number }>();

  private live(key: string): string | null {
    const e = this.map.get(key);
    if (!e) return null;
    if (e.expiresAt <= Date.now()) {
      this.map.delete(key);
      return null;
    }
    return e.value;
  }

  async get(key: string): Promise<string | null> {
    return this.live(key);
  }
  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.map.set(key, { value, expiresAt: Date.now() + ttlSeconds * 1000 });
  }
  async del(keys: string[]): Promise<void> {
    for (const k of keys) this.map.delete(k);
  }
  async acquire(key: string, ttlMs: number): Promise<boolean> {
    if (this.live(key) !== null) return false;
    this.map.set(key, { value: '1', expiresAt: Date.now() + ttlMs });
    return true;
  }
  async close(): Promise<void> {
    this.map.clear();
  }
}

/** How long one tool's entries are fresh, and how long after that a stale entry may still be served while refreshing. */
export interface CachePolicy {
  freshSeconds: number;
  staleSeconds: number;
}

interface Entry {
  v: unknown;
  /** Epoch ms when loaded from the source. */
  at: number;
}

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` share a cache entry. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Read-through cache for tool data. Every failure of the store is counted in the call's `errors`, logged,
 * and answered from the source: the cache can make a call faster, never fail it.
 */
export class ToolCache {
  private readonly refreshing = new Map<string, Promise<void>>();

  constructor(
    private readonly store: CacheStore,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly metrics: ToolMetrics,
  ) {}

  /** `{prefix}tool:{name}:{hash of args}` (CONTRACTS.md); the hash keeps phone numbers out of key names. */
  key(tool: string, args: unknown): string {
    const h = createHash('sha256').update(stableJson(args)).digest('base64url').slice(0, 22);
    return `${this.prefix}tool:${tool}:${h}`;
  }

  private storeFailed(tool: string, op: string, err: unknown, m?: CallMeasures): void {
    if (m) m.errors++;
    else this.metrics.cacheError(tool);
    this.log.warn('tool cache unavailable; answering from the source', { tool, op, error: (err as Error)?.name, reason: (err as Error)?.message });
  }

  /**
   * The value for `args`: fresh from the cache (hit), stale from the cache while a background refresh runs
   * (hit), or loaded from the source and stored (miss). In Lambda, a background refresh that has not finished
   * when the response is returned resumes on the next invocation of that environment.
   */
  async read<T>(tool: string, args: unknown, policy: CachePolicy, load: (signal?: AbortSignal) => Promise<T>, m: CallMeasures, signal?: AbortSignal): Promise<T> {
    const key = this.key(tool, args);
    let raw: string | null;
    try {
      raw = await this.store.get(key);
    } catch (err) {
      this.storeFailed(tool, 'get', err, m);
      return load(signal);
    }
    const entry = raw ? this.parse(raw) : undefined;
    if (entry) {
      m.hits++;
      if (Date.now() - entry.at >= policy.freshSeconds * 1000) this.refresh(tool, key, policy, load);
      return entry.v as T;
    }
    m.misses++;
    const value = await load(signal);
    await this.write(tool, key, value, policy, m);
    return value;
  }

  private parse(raw: string): Entry | undefined {
    try {
      const e = JSON.parse(raw) as Entry;
      return typeof e === 'object' && e !== null && typeof e.at === 'number' && 'v' in e ? e : undefined;
    } catch {
      return undefined;
    }
  }

  private async write(tool: string, key: string, value: unknown, policy: CachePolicy, m?: CallMeasures): Promise<void> {
    try {
      await this.store.set(key, JSON.stringify({ v: value, at: Date.now() } satisfies Entry), policy.freshSeconds + policy.staleSeconds);
    } catch (err) {
      this.storeFailed(tool, 'set', err, m);
    }
  }

  /** One refresh per key at a time: in this process (map) and across Lambdas (SET NX lock for 5 s). */
  private refresh<T>(tool: string, key: string, policy: CachePolicy, load: (signal?: AbortSignal) => Promise<T>): void {
    if (this.refreshing.has(key)) return;
    const run = (async () => {
      try {
        if (!(await this.store.acquire(`${key}:refresh`, 5_000))) return;
      } catch (err) {
        this.storeFailed(tool, 'lock', err);
        return;
      }
      let value: T;
      try {
        value = await load(AbortSignal.timeout(5_000));
      } catch (err) {
        this.log.warn('background refresh failed at the source', { tool, error: (err as Error)?.name });
        return;
      }
      await this.write(tool, key, value, policy);
    })().finally(() => this.refreshing.delete(key));
    this.refreshing.set(key, run);
  }

  /** Drops entries after a write (e.g. a booking makes that day's availability stale). Never throws. */
  async invalidate(tool: string, argsList: unknown[], m: CallMeasures): Promise<void> {
    try {
      await this.store.del(argsList.map((a) => this.key(tool, a)));
    } catch (err) {
      this.storeFailed(tool, 'del', err, m);
    }
  }

  /** Resolves when background refreshes have finished (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.refreshing.values()]);
  }

  async close(): Promise<void> {
    await this.settle();
    await this.store.close();
  }
}
