// Redis connection for the stores (ioredis): the one ElastiCache AUTH-token form, bounded connect/commands, backoff, ping.
import { Redis, type ChainableCommander, type RedisOptions } from 'ioredis';

export { Redis };

/** Where a Redis server is and how to authenticate to it. */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  /** In-transit TLS (`rediss://`, REDIS_TLS=true): required by the stack's ElastiCache group. */
  readonly tls: boolean;
  /** The ElastiCache AUTH token (or a local password). */
  readonly authToken?: string;
  /** An RBAC / ACL user other than `default`; absent in AUTH-token mode. */
  readonly username?: string;
}

/** The connection part of the ioredis options: spread first, then the caller's timeouts and retry policy. */
export type ElastiCacheConnectionOptions = Pick<RedisOptions, 'host' | 'port' | 'tls' | 'password' | 'username'> & { protocol: 2 };

/**
 * ioredis options for `e`, in the form ElastiCache documents for AUTH-token mode: TLS to the endpoint and the
 * token alone, `AUTH <token>` ("redis-cli -h <endpoint> --tls -a '<token>' -p <port>",
 * https://docs.aws.amazon.com/AmazonElastiCache/latest/red-ug/auth.html; RBAC users are the two-argument form,
 * https://docs.aws.amazon.com/AmazonElastiCache/latest/red-ug/Clusters.RBAC.html). RESP2, because ioredis 6
 * otherwise opens with `HELLO 3 AUTH default <token>`. SNI is the endpoint name. The one place every client
 * (media service, privacy Lambda, tool Lambdas) gets its connection options from.
 */
export function elastiCacheRedisOptions(e: RedisEndpoint): ElastiCacheConnectionOptions {
  return {
    host: e.host,
    port: e.port,
    protocol: 2,
    ...(e.tls ? { tls: { servername: e.host } } : {}),
    ...(e.authToken ? { password: e.authToken } : {}),
    ...(e.username ? { username: e.username } : {}),
  };
}

/**
 * Reads `redis://` / `rediss://[user:]token@host:port`. The user `default` is dropped: `AUTH <token>` already
 * authenticates as the default user, and it is the form AUTH-token mode documents (see elastiCacheRedisOptions).
 * Throws naming the scheme when the URL is not a Redis URL.
 */
export function parseRedisUrl(url: string): RedisEndpoint {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`not a Redis URL (scheme ${u.protocol} — expected redis: or rediss:)`);
  const user = decodeURIComponent(u.username);
  const token = decodeURIComponent(u.password);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    tls: u.protocol === 'rediss:',
    ...(token ? { authToken: token } : {}),
    ...(token && user && user !== 'default' ? { username: user } : {}),
  };
}

/** An ioredis client plus `close()`, the graceful shutdown the stores' owners call. */
export class RedisClient extends Redis {
  /**
   * QUIT (pending replies arrive first) when connected, else drops the socket and stops reconnecting. Idempotent:
   * closing a closed client resolves.
   */
  async close(): Promise<void> {
    if (this.status === 'end') return;
    if (this.status === 'ready') {
      try {
        await this.quit();
        return;
      } catch {
        // the connection failed while quitting: fall through and drop it
      }
    }
    this.disconnect();
  }
}

/** The client the stores are opened with. */
export type RedisClientType = RedisClient;

/** Options of {@link connectRedis}. */
export interface ConnectRedisOptions {
  /** Per connection attempt (TCP + TLS). @default 2000 */
  connectTimeoutMs?: number;
  /**
   * A command issued while the connection is down waits for at most this many reconnect attempts, then rejects
   * (MaxRetriesPerRequestError), so a Redis outage fails a store call instead of parking it. @default 3
   */
  maxRetriesPerRequest?: number;
  /** Called for connection errors after the first connect (the client reconnects by itself meanwhile). */
  onError?: (err: unknown) => void;
}

/**
 * Connects to `url` (`redis://` or `rediss://` for ElastiCache in-transit TLS, AUTH token as the URL password) and
 * resolves once the connection is ready. Before the first connect: 3 quick retries, then it rejects, so a bad
 * REDIS_URL shows at boot. Afterwards it reconnects forever with exponential backoff capped at 2 s plus jitter, so
 * many tasks do not reconnect in lockstep. ioredis emits `error` on every failed attempt and would print
 * "Unhandled error event" for each one without a listener, hence the listener.
 */
export async function connectRedis(url: string, opts: ConnectRedisOptions = {}): Promise<RedisClient> {
  let connected = false;
  let lastError: unknown;
  const client = new RedisClient({
    ...elastiCacheRedisOptions(parseRedisUrl(url)),
    lazyConnect: true,
    connectTimeout: opts.connectTimeoutMs ?? 2000,
    // ioredis counts attempts from 1; null stops reconnecting and ends the client.
    retryStrategy: (times) =>
      !connected && times > 3 ? null : Math.min(2000, 50 * 2 ** Math.min(times - 1, 6)) + Math.floor(Math.random() * 100),
    maxRetriesPerRequest: opts.maxRetriesPerRequest ?? 3,
  });
  client.on('error', (err: unknown) => {
    if (connected) opts.onError?.(err);
    else lastError = err;
  });
  try {
    // connect() rejects on the first failed attempt while the retries go on; 'ready' or 'end' is the real outcome.
    await new Promise<void>((resolve, reject) => {
      const onReady = () => {
        client.off('end', onEnd);
        resolve();
      };
      const onEnd = () => {
        client.off('ready', onReady);
        reject(lastError instanceof Error ? lastError : new Error('redis connection ended before it was ready'));
      };
      client.once('ready', onReady);
      client.once('end', onEnd);
      client.connect().catch(() => undefined);
    });
  } catch (err) {
    client.disconnect();
    throw err;
  }
  connected = true;
  return client;
}

/**
 * Resolves when a Redis server answers PING at `url` within `timeoutMs`; rejects otherwise. One attempt, no
 * reconnects, and the connection is closed either way (a reachability check, e.g. before starting the local stack).
 */
export async function pingRedis(url: string, timeoutMs = 1500): Promise<void> {
  const client = new Redis({
    ...elastiCacheRedisOptions(parseRedisUrl(url)),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`redis did not answer PING within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/**
 * Runs a MULTI and returns the replies, rejecting with the first command error. ioredis resolves `exec()` with
 * `[error, reply]` pairs (and `null` when a WATCH aborted it) instead of rejecting; the stores treat any failed command
 * as a failed write.
 */
export async function execMulti(multi: ChainableCommander): Promise<unknown[]> {
  const replies = await multi.exec();
  if (!replies) throw new Error('redis transaction aborted');
  return replies.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}
