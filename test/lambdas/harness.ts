// Test helper for the tool Lambdas: dynalite + seed per file, a runtime on the real Redis with a unique key prefix, EMF capture.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createRuntime, type RuntimeOptions, type ToolRuntime } from '../../lambdas/shared/runtime';
import { startLocalBusinessStore, type LocalBusinessStore } from '../../local/tools-server';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fixed business clock: Tuesday 2026-03-10, 10:30 in New York (EDT, DST began March 8). */
export const NOW = new Date('2026-03-10T14:30:00Z');
export const TZ = 'America/New_York';

export interface Stack {
  store: LocalBusinessStore;
  prefix: string;
  env: Record<string, string>;
  runtime(overrides?: Record<string, string>, opts?: RuntimeOptions): ToolRuntime;
  close(): Promise<void>;
}

/** Starts dynalite seeded for {@link NOW} and hands out runtimes sharing one unique Redis key prefix. */
export async function startStack(name: string): Promise<Stack> {
  const store = await startLocalBusinessStore({ now: NOW, env: { BUSINESS_TIMEZONE: TZ } });
  const prefix = `va:test:${name}:${randomUUID().slice(0, 8)}:`;
  const env = {
    STAGE: 'test',
    DYNAMODB_ENDPOINT: store.endpoint,
    REDIS_URL,
    CACHE_KEY_PREFIX: prefix,
    BUSINESS_TIMEZONE: TZ,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    // Test files run in parallel on a small machine: budgets are stretched so a slow cold call is not an upstream
    // timeout. The timeout test sets the scale back to 1.
    TOOL_TIMEOUT_SCALE: '10',
  };
  const runtimes: ToolRuntime[] = [];
  return {
    store,
    prefix,
    env,
    runtime(overrides = {}, opts = {}) {
      const rt = createRuntime({ ...env, ...overrides }, { clock: () => NOW, ...opts });
      runtimes.push(rt);
      return rt;
    },
    async close() {
      await Promise.all(runtimes.map((r) => r.close()));
      await deleteKeys(`${prefix}*`);
      await store.close();
    },
  };
}

/** A short-lived ioredis connection to the shared Redis for assertions and cleanup, closed after `fn`. */
export async function withRedis<T>(fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
  c.on('error', () => undefined); // connect() rejects with it
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.quit();
  }
}

/** Deletes this file's keys from the shared Redis (SCAN MATCH, then DEL per batch). */
export async function deleteKeys(pattern: string): Promise<void> {
  await withRedis(async (c) => {
    for await (const batch of c.scanStream({ match: pattern, count: 500 }) as AsyncIterable<string[]>) if (batch.length > 0) await c.del(batch);
  });
}

/** Keys present under `pattern` in the real Redis. */
export async function redisKeys(pattern: string): Promise<string[]> {
  return withRedis(async (c) => {
    const out = new Set<string>();
    for await (const batch of c.scanStream({ match: pattern, count: 500 }) as AsyncIterable<string[]>) for (const k of batch) out.add(k);
    return [...out];
  });
}

/** A TCP port with nothing listening (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A server that accepts connections and never answers: an upstream slower than any budget. */
export async function blackhole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const s: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const sock of sockets) sock.destroy();
        s.close(() => r());
      }),
  };
}

export interface Emf {
  Stage: string;
  Tool: string;
  ToolHandlerTime?: number;
  CacheHit?: number;
  CacheMiss?: number;
  CacheErrors?: number;
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
}

/** Captures the EMF documents Powertools Metrics writes to stdout (what CloudWatch would ingest). */
export function captureEmf(): { docs: Emf[]; forTool(tool: string): Emf[]; clear(): void; restore(): void } {
  const docs: Emf[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
    let swallowed = false;
    for (const line of text.split('\n')) {
      if (!line.includes('"_aws"')) continue;
      try {
        docs.push(JSON.parse(line) as Emf);
        swallowed = true;
      } catch {
        // not an EMF line
      }
    }
    return swallowed ? true : (original as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  return {
    docs,
    forTool: (tool) => docs.filter((d) => d.Tool === tool),
    clear: () => void docs.splice(0),
    restore: () => {
      process.stdout.write = original;
    },
  };
}
