// Redis connection for the stores (node-redis v6): connect with bounded timeouts and backoff reconnects.
import { createClient, type RedisClientType } from 'redis';

export type { RedisClientType };

/** Options of {@link connectRedis}. */
export interface ConnectRedisOptions {
  /** @default 2000 */
  connectTimeoutMs?: number;
  /** Called for connection errors after the first connect (node-redis reconnects by itself meanwhile). */
  onError?: (err: unknown) => void;
}

/**
 * Connects to `url` (`redis://` or `rediss://` for ElastiCache in-transit TLS, AUTH token as the URL password) and
 * resolves once connected. Rejects when the first connect fails, so a bad REDIS_URL shows at boot. node-redis
 * emits `error` on every failed reconnect and crashes the process if nobody listens, hence the listener.
 */
export async function connectRedis(url: string, opts: ConnectRedisOptions = {}): Promise<RedisClientType> {
  let connected = false;
  const client: RedisClientType = createClient({
    url,
    socket: {
      connectTimeout: opts.connectTimeoutMs ?? 2000,
      // Before the first connect: 3 quick retries, then give up (connect() rejects). Afterwards: reconnect forever,
      // exponential backoff capped at 2 s with jitter, so many tasks do not reconnect in lockstep.
      reconnectStrategy: (retries, cause) =>
        !connected && retries >= 3 ? cause : Math.min(2000, 50 * 2 ** Math.min(retries, 6)) + Math.floor(Math.random() * 100),
    },
  });
  client.on('error', (err) => {
    if (connected) opts.onError?.(err);
  });
  try {
    await client.connect();
  } catch (err) {
    client.destroy();
    throw err;
  }
  connected = true;
  return client;
}
