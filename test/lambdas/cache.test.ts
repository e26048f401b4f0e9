// The read-through cache on the real Redis: stale-while-revalidate, one refresh at a time, TTLs, bad entries, outages.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, RedisStore, ToolCache, type CacheStore } from '../../lambdas/shared/cache';
import { createLogger, newMeasures, ToolMetrics } from '../../lambdas/shared/observability';
import { privateRedis } from '../fargate/store/redis-server';
import { closedPort, deleteKeys, REDIS_URL, withRedis } from './harness';

const prefix = `va:test:cache:${randomUUID().slice(0, 8)}:`;
const log = createLogger('cache-test', 'ERROR');
const metrics = new ToolMetrics('test', 'cache-test', false);
const redis = new Redis(REDIS_URL, { lazyConnect: true });
let store: RedisStore;
let cache: ToolCache;

beforeAll(async () => {
  await redis.connect();
  store = new RedisStore({ kind: 'url', url: REDIS_URL });
  cache = new ToolCache(store, prefix, log, metrics);
});
afterAll(async () => {
  await cache.close();
  await deleteKeys(`${prefix}*`);
  await redis.quit();
});

function loader<T>(values: T[]) {
  let calls = 0;
  const fn = async () => values[Math.min(calls++, values.length - 1)]!;
  return { fn, calls: () => calls };
}

describe('ToolCache on Redis', () => {
  it('serves a stale entry at once and refreshes it in the background', async () => {
    const policy = { freshSeconds: 0, staleSeconds: 60 };
    const src = loader(['v1', 'v2']);
    const m = newMeasures();
    expect(await cache.read('t', { k: 'swr' }, policy, src.fn, m)).toBe('v1');
    expect(await cache.read('t', { k: 'swr' }, policy, src.fn, m)).toBe('v1'); // stale, served without waiting
    await cache.settle();
    expect(src.calls()).toBe(2);
    const fresh = new ToolCache(store, prefix, log, metrics); // another instance sees the refreshed entry
    expect(await fresh.read('t', { k: 'swr' }, { freshSeconds: 60, staleSeconds: 60 }, async () => 'never', m)).toBe('v2');
    expect(m).toEqual({ hits: 2, misses: 1, errors: 0 });
  });

  it('runs one background refresh per key even when many stale reads arrive together', async () => {
    const policy = { freshSeconds: 0, staleSeconds: 60 };
    const src = loader(['a', 'b', 'c']);
    await cache.read('t', { k: 'stampede' }, policy, src.fn, newMeasures());
    const others = [1, 2, 3].map(() => new ToolCache(store, prefix, log, metrics)); // like three Lambdas
    await Promise.all([cache, ...others].flatMap((c) => [c.read('t', { k: 'stampede' }, policy, src.fn, newMeasures()), c.read('t', { k: 'stampede' }, policy, src.fn, newMeasures())]));
    await Promise.all([cache, ...others].map((c) => c.settle()));
    expect(src.calls()).toBe(2); // the first load plus exactly one refresh
  });

  it('stores entries under va:-prefixed tool keys with TTL = fresh + stale, the same key for reordered args', async () => {
    await cache.read('ttl_tool', { a: 1, b: 2 }, { freshSeconds: 30, staleSeconds: 90 }, async () => 1, newMeasures());
    const key = cache.key('ttl_tool', { b: 2, a: 1 });
    expect(key.startsWith(`${prefix}tool:ttl_tool:`)).toBe(true);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
  });

  it('treats a corrupt entry as a miss and overwrites it', async () => {
    const key = cache.key('t', { k: 'corrupt' });
    await redis.set(key, 'not json');
    const m = newMeasures();
    expect(await cache.read('t', { k: 'corrupt' }, { freshSeconds: 60, staleSeconds: 0 }, async () => 42, m)).toBe(42);
    expect(m.misses).toBe(1);
    expect(JSON.parse((await redis.get(key))!).v).toBe(42);
  });

  it('invalidate deletes the entries so the next read goes to the source', async () => {
    const src = loader(['old', 'new']);
    const policy = { freshSeconds: 60, staleSeconds: 60 };
    await cache.read('t', { k: 'inv' }, policy, src.fn, newMeasures());
    await cache.invalidate('t', [{ k: 'inv' }], newMeasures());
    expect(await cache.read('t', { k: 'inv' }, policy, src.fn, newMeasures())).toBe('new');
  });

  it('counts every operation against an unreachable Redis as a cache error and still answers', async () => {
    const dead: CacheStore = new RedisStore({ kind: 'url', url: `redis://127.0.0.1:${await closedPort()}` }, { connectTimeoutMs: 100 });
    const c = new ToolCache(dead, prefix, log, metrics);
    const m = newMeasures();
    expect(await c.read('t', { k: 'down' }, { freshSeconds: 60, staleSeconds: 0 }, async () => 'from source', m)).toBe('from source');
    expect(await c.read('t', { k: 'down' }, { freshSeconds: 60, staleSeconds: 0 }, async () => 'again', m)).toBe('again');
    await c.invalidate('t', [{ k: 'down' }], m);
    expect(m).toEqual({ hits: 0, misses: 0, errors: 3 });
    await c.close();
  });

  it('works the same on the in-memory store used without Redis', async () => {
    const c = new ToolCache(new MemoryStore(), prefix, log, metrics);
    const m = newMeasures();
    const src = loader([1, 2]);
    await c.read('t', { k: 'mem' }, { freshSeconds: 60, staleSeconds: 0 }, src.fn, m);
    expect(await c.read('t', { k: 'mem' }, { freshSeconds: 60, staleSeconds: 0 }, src.fn, m)).toBe(1);
    expect(m).toEqual({ hits: 1, misses: 1, errors: 0 });
  });
});

/** Polls `fn` until it resolves (every 50 ms, at most `tries` times); rethrows the last failure. */
async function eventually<T>(fn: () => Promise<T>, tries = 100): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('RedisStore connection', () => {
  it('authenticates with the password on a host/port target, and answers from the source with a wrong one', async () => {
    const server = await privateRedis({ password: 'cache-auth-token' });
    const good = new RedisStore({ kind: 'host', host: '127.0.0.1', port: server.port, tls: false, password: 'cache-auth-token' });
    const bad = new ToolCache(new RedisStore({ kind: 'host', host: '127.0.0.1', port: server.port, tls: false, password: 'wrong' }), prefix, log, metrics);
    try {
      await good.set(`${prefix}auth`, 'yes', 60);
      expect(await good.get(`${prefix}auth`)).toBe('yes');
      const m = newMeasures();
      expect(await bad.read('t', { k: 'auth' }, { freshSeconds: 60, staleSeconds: 0 }, async () => 'from source', m)).toBe('from source');
      expect(m).toEqual({ hits: 0, misses: 0, errors: 1 });
    } finally {
      await good.close();
      await bad.close();
      await server.stop();
    }
  });

  it('reconnects by itself after its connection is killed, still one connection', async () => {
    const name = `cache-test-${randomUUID().slice(0, 8)}`;
    const s = new RedisStore({ kind: 'url', url: REDIS_URL }, { clientName: name });
    try {
      await s.set(`${prefix}drop`, 'kept', 60);
      const ids = () => withRedis(async (c) => ((await c.client('LIST')) as string).split('\n').filter((l) => l.includes(` name=${name} `)).map((l) => /^id=(\d+)/.exec(l)![1]!));
      const [id] = await ids();
      await withRedis((c) => c.client('KILL', 'ID', id!));
      expect(await eventually(() => s.get(`${prefix}drop`))).toBe('kept');
      const after = await ids();
      expect(after).toHaveLength(1);
      expect(after[0]).not.toBe(id);
    } finally {
      await s.close();
    }
  });

  it('fails calls while Redis is down instead of waiting, and dials afresh once it is back', async () => {
    const server = await privateRedis();
    const s = new RedisStore({ kind: 'url', url: server.url }, { retryAfterMs: 50 });
    try {
      await s.set('k', 'before', 60);
      await server.stop();
      await expect(s.get('k')).rejects.toThrow(); // commands fail at once: no offline queue
      await expect(s.set('k', 'during', 60)).rejects.toThrow();
      await server.start(); // empty again (no persistence)
      await eventually(() => s.set('k', 'after', 60));
      expect(await s.get('k')).toBe('after');
    } finally {
      await s.close();
      await server.stop();
    }
  });
});
