// Pins local/redis.ts: an answering Redis is used as is; a dead loopback REDIS_URL gets a private real redis-server that stop() removes.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../../fargate/src/store/redis';
import { freePort } from '../../local/ports';
import { DEFAULT_REDIS_URL, ensureRedis, findExecutable, isLoopbackRedisUrl } from '../../local/redis';


/** Whether a TCP connect to 127.0.0.1:port succeeds. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('ensureRedis', () => {
  it('starts a private redis-server on a free port when REDIS_URL points at a dead loopback port, and stop() leaves nothing listening', async () => {
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const lines: string[] = [];
    const redis = await ensureRedis({ url: dead, log: (l) => lines.push(l) });
    try {
      expect(redis.started).toBe(true);
      expect(redis.url).not.toBe(dead);
      expect(lines.join('\n')).toMatch(/starting a private redis-server \(.*redis-server\)/);
      const client = await connectRedis(redis.url);
      try {
        expect(await client.ping()).toBe('PONG');
        // A real server: INFO names redis_version, which no in-memory stand-in answers.
        expect(await client.info('server')).toMatch(/redis_version:\d+\.\d+/);
      } finally {
        client.disconnect();
      }
    } finally {
      await redis.stop();
    }
    const port = Number(new URL(redis.url).port);
    expect(await listening(port)).toBe(false);
    await redis.stop(); // idempotent
  });

  it('starts the private server on the port asked for when it is free', async () => {
    const want = await freePort();
    const redis = await ensureRedis({ url: `redis://127.0.0.1:${await freePort()}`, port: want });
    try {
      expect(redis.url).toBe(`redis://127.0.0.1:${want}`);
      const client = await connectRedis(redis.url);
      expect(await client.ping()).toBe('PONG');
      client.disconnect();
    } finally {
      await redis.stop();
    }
    expect(await listening(want)).toBe(false);
  });

  it('takes a free port when the port asked for is taken by something that is not Redis', async () => {
    const sockets = new Set<Socket>();
    const squatter = createServer((s) => (sockets.add(s), s.end()));
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const taken = (squatter.address() as { port: number }).port;
    try {
      const redis = await ensureRedis({ url: `redis://127.0.0.1:${taken}`, port: taken });
      try {
        expect(redis.started).toBe(true);
        expect(Number(new URL(redis.url).port)).not.toBe(taken);
        const client = await connectRedis(redis.url);
        expect(await client.ping()).toBe('PONG');
        client.disconnect();
      } finally {
        await redis.stop();
      }
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => squatter.close(r));
    }
  });

  it('uses the Redis that answers and starts nothing', async () => {
    const url = process.env.REDIS_URL || DEFAULT_REDIS_URL;
    const redis = await ensureRedis({ url });
    expect(redis).toMatchObject({ url, started: false });
    await redis.stop();
    const client = await connectRedis(url);
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  it('refuses to stand in for a remote REDIS_URL that does not answer', async () => {
    await expect(ensureRedis({ url: 'redis://192.0.2.1:6379' })).rejects.toThrow(/not reachable at redis:\/\/192\.0\.2\.1:6379.*loopback/);
  });

  it('redacts the password from its errors', async () => {
    await expect(ensureRedis({ url: 'redis://:s3cret@192.0.2.1:6379' })).rejects.toThrow(/^(?!.*s3cret)/s);
  });
});

describe('findExecutable', () => {
  it('returns the first executable of that name on the PATH list and skips non-executable files', () => {
    const a = mkdtempSync(join(tmpdir(), 'va-path-a-'));
    const b = mkdtempSync(join(tmpdir(), 'va-path-b-'));
    dirs.push(a, b);
    writeFileSync(join(a, 'redis-server'), '#!/bin/sh\n');
    chmodSync(join(a, 'redis-server'), 0o644);
    writeFileSync(join(b, 'redis-server'), '#!/bin/sh\n');
    chmodSync(join(b, 'redis-server'), 0o755);
    expect(findExecutable('redis-server', [a, b].join(delimiter))).toBe(join(b, 'redis-server'));
    expect(findExecutable('redis-server', a)).toBeUndefined();
    expect(findExecutable('redis-server', '')).toBeUndefined();
  });
});

describe('isLoopbackRedisUrl', () => {
  it('accepts this machine only', () => {
    expect(['redis://127.0.0.1:6379', 'redis://localhost', 'redis://[::1]:6380', 'rediss://u:p@127.0.0.2:1'].map(isLoopbackRedisUrl)).toEqual([true, true, true, true]);
    expect(['redis://10.0.0.5:6379', 'rediss://cache.example.com:6380'].map(isLoopbackRedisUrl)).toEqual([false, false]);
  });

  it('says which value is not a URL', () => {
    expect(() => isLoopbackRedisUrl('127.0.0.1:6379:x')).toThrow(/REDIS_URL is not a URL: "127\.0\.0\.1:6379:x"/);
  });
});
