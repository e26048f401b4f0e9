// Pins the media service's Redis connection: bounded first connect, AUTH from the URL, outage fails commands, reconnects.
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, pingRedis, type RedisClientType } from '../../../fargate/src/store/redis';
import { SessionStore } from '../../../fargate/src/store/session-store';
import { privateRedis, type PrivateRedis } from './redis-server';

async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `redis://127.0.0.1:${port}`;
}

describe('connectRedis', () => {
  let server: PrivateRedis;
  const password = 'test-auth-token';

  beforeAll(async () => {
    server = await privateRedis({ password });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('rejects when nothing listens, after its few retries, instead of reconnecting forever', async () => {
    await expect(connectRedis(await deadUrl(), { connectTimeoutMs: 200 })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('authenticates with the password in the URL and refuses a wrong one', async () => {
    const client = await connectRedis(server.url);
    try {
      expect(await client.ping()).toBe('PONG');
    } finally {
      await client.close();
    }
    await expect(connectRedis(server.url.replace(password, 'wrong'))).rejects.toThrow(/WRONGPASS|invalid password/i);
  });

  it('pingRedis answers for a live server and rejects for a dead port or a wrong password', async () => {
    await expect(pingRedis(server.url, 1000)).resolves.toBeUndefined();
    await expect(pingRedis(await deadUrl(), 300)).rejects.toThrow();
    await expect(pingRedis(server.url.replace(password, 'wrong'), 1000)).rejects.toThrow();
  });

  it('fails writes during an outage instead of parking them, and writes again once Redis is back', async () => {
    const errors: unknown[] = [];
    const client: RedisClientType = await connectRedis(server.url, { onError: (err) => errors.push(err) });
    const failed: string[] = [];
    const store = new SessionStore(client, { keyPrefix: 'va:test-outage:', onError: (_err, op) => failed.push(op) });
    try {
      expect(await store.begin({ callSid: 'CA1', agent: 'booking', startedAt: 1 })).toBe(true);
      await server.stop();
      // Resolves (false) after a few reconnect attempts; a parked write would time the test out.
      expect(await store.recordTurn('CA1', { turn: 1, role: 'user', text: 'hello', at: 2 })).toBe(false);
      expect(failed).toEqual(['turn']);
      expect(errors.length).toBeGreaterThan(0); // reported through onError, never an unhandled 'error' event
      await server.start(); // the data is gone (no persistence); the connection comes back by itself
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        ok = await store.begin({ callSid: 'CA2', agent: 'booking', startedAt: 3 });
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ok).toBe(true);
      expect((await store.read('CA2'))?.meta.agent).toBe('booking');
    } finally {
      await client.close();
    }
  });
});
