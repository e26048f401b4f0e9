// The Redis the local stack and the tests use: the one answering on REDIS_URL (or 127.0.0.1:6379), else a private real redis-server started here.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { RedisMemoryServer } from 'redis-memory-server';
import { pingRedis } from '../fargate/src/store/redis';

/*
 * Why redis-memory-server (0.17.1 of 2026-07, ~570 k downloads a month) and how it behaves, checked here with Node 20:
 * - With `binary.systemBinary` it spawns that redis-server (`--save "" --appendonly no`, an ephemeral port from
 *   get-port, a watchdog process that kills the server if this process dies): up in ~60 ms, stopped in ~120 ms.
 *   It never looks on PATH by itself, so {@link findExecutable} resolves `redis-server` there and passes it.
 * - Without a system binary it downloads https://download.redis.io/redis-stable.tar.gz and builds it with `make`
 *   (needs make and a C compiler; measured here with a local mirror of the 7.0.15 source: 7 min 24 s wall, 1 min 51 s
 *   CPU on a loaded 2-core machine, once, then cached under node_modules/.cache/redis-memory-server). Offline that
 *   fails at once (getaddrinfo ENOTFOUND download.redis.io), and we say so with what to install.
 * - Its postinstall does the same download during `npm ci` and fails the install offline; package.json sets
 *   `redisMemoryServer.disablePostinstall` so `npm ci` never downloads (lib/util/resolve-config.js reads that key).
 * The other npm wrapper, `redis-server` (1.2.2), only spawns a binary from PATH and obtains none.
 */

export interface LocalRedis {
  /** The URL to give every client (REDIS_URL). */
  url: string;
  /** Whether this call started a private server (false: an existing one answered). */
  started: boolean;
  /** Stops the private server (idempotent); a no-op for a server this did not start. */
  stop(): Promise<void>;
}

export interface EnsureRedisOptions {
  /** The Redis to try first. @default process.env.REDIS_URL || 'redis://127.0.0.1:6379' */
  url?: string;
  /** Where to look for redis-server. @default process.env.PATH */
  pathEnv?: string;
  /** Port for the private server when it is free (e.g. 6379 for fixtures that name it), else a free one. @default a free port */
  port?: number;
  /** Progress lines (which server, why). @default silent */
  log?: (line: string) => void;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The first executable `name` in a PATH-style list, or undefined. */
export function findExecutable(name: string, pathEnv: string): string | undefined {
  for (const dir of pathEnv.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Whether a Redis URL names this machine (a private server may stand in only for a local one). */
export function isLoopbackRedisUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    throw new Error(`REDIS_URL is not a URL: ${JSON.stringify(url)}`);
  }
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const redact = (url: string) => url.replace(/\/\/[^@]*@/, '//');

/**
 * Uses the Redis answering PING at `url`; when none does and `url` is on loopback, starts a private redis-server
 * (system binary from PATH, else redis-memory-server's download and build) on `opts.port` or a free port, and
 * returns its URL.
 */
export async function ensureRedis(opts: EnsureRedisOptions = {}): Promise<LocalRedis> {
  const url = opts.url || process.env.REDIS_URL || DEFAULT_REDIS_URL;
  const log = opts.log ?? (() => undefined);
  try {
    await pingRedis(url, 1000);
    return { url, started: false, stop: async () => undefined };
  } catch {
    // nothing answers: start one below when that is allowed
  }
  if (!isLoopbackRedisUrl(url)) {
    throw new Error(`Redis is not reachable at ${redact(url)}; a private server stands in only for a loopback REDIS_URL.`);
  }
  const systemBinary = findExecutable('redis-server', opts.pathEnv ?? process.env.PATH ?? '');
  log(
    systemBinary
      ? `no Redis at ${redact(url)}: starting a private redis-server (${systemBinary})`
      : `no Redis at ${redact(url)} and no redis-server on PATH: redis-memory-server downloads and builds Redis (needs network, make and a C compiler)`,
  );
  // Without autoStart nothing runs until start(), which spawns (or first obtains) the binary. A `port` that is taken
  // is replaced by a free one (get-port in RedisMemoryServer._startUpInstance: "starting with port …, since … was locked").
  const server = new RedisMemoryServer({ instance: { ip: '127.0.0.1', ...(opts.port ? { port: opts.port } : {}) }, ...(systemBinary ? { binary: { systemBinary } } : {}) });
  try {
    await server.start();
  } catch (err) {
    throw new Error(
      `No Redis at ${redact(url)} and a private one could not start (${(err as Error).message}). ` +
        'Install redis-server (Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`) or point REDIS_URL at a running server.',
    );
  }
  const privateUrl = `redis://127.0.0.1:${await server.getPort()}`;
  log(`private Redis at ${privateUrl} until exit`);
  let stopping: Promise<void> | undefined;
  return {
    url: privateUrl,
    started: true,
    stop: () => (stopping ??= server.stop().then(() => undefined)),
  };
}
