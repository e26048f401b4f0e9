// Pins live session state in Redis: per-turn writes with a TTL, readable by another process, redacted, failures non-fatal.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, type RedisClientType } from '../../../fargate/src/store/redis';
import { SessionStore } from '../../../fargate/src/store/session-store';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('session store', () => {
  let redis: RedisClientType;
  let store: SessionStore;
  const prefix = `va:test-${randomUUID()}:`;

  beforeAll(async () => {
    redis = await connectRedis(REDIS_URL);
    store = new SessionStore(redis, { keyPrefix: prefix });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(keys);
    await redis.close();
  });

  it('lets an operator or a reconnecting process read the live call turn by turn', async () => {
    const callSid = `CA${randomUUID().replace(/-/g, '')}`;
    expect(await store.begin({ callSid, agent: 'booking', callerHash: 'h1', startedAt: 1000, profile: { model: 'small', voice: 'v1' } })).toBe(true);
    expect(await store.recordTurn(callSid, { turn: 1, role: 'user', text: 'Book a haircut, my card is 4111 1111 1111 1111', at: 1100 })).toBe(true);
    await store.recordToolResult(callSid, { toolCallId: 't1', name: 'check_availability', ok: true, content: '{"slots":["09:00"],"email":"a@b.com"}', at: 1200 });
    await store.recordTurn(callSid, { turn: 2, role: 'assistant', text: 'I have 9 AM', interrupted: true, at: 1300 });

    const other = await connectRedis(REDIS_URL);
    try {
      const s = await new SessionStore(other, { keyPrefix: prefix }).read(callSid);
      expect(s?.meta).toEqual({ callSid, agent: 'booking', callerHash: 'h1', startedAt: 1000, profile: { model: 'small', voice: 'v1' } });
      expect(s?.turns.map((t) => [t.turn, t.role, t.text, t.interrupted ?? false])).toEqual([
        [1, 'user', 'Book a haircut, my card is [card]', false],
        [2, 'assistant', 'I have 9 AM', true],
      ]);
      expect(s?.toolResults).toEqual([{ toolCallId: 't1', name: 'check_availability', ok: true, content: '{"slots":["09:00"],"email":"[email]"}', at: 1200 }]);
    } finally {
      await other.close();
    }
    const ttl = await redis.ttl(store.key(callSid));
    expect(ttl).toBeGreaterThan(7000);
    expect(ttl).toBeLessThanOrEqual(7200);

    expect(await store.end(callSid, 5000)).toBe(true);
    expect((await store.read(callSid))?.meta.endedAt).toBe(5000);
  });

  it('returns nothing for an unknown call and deletes sessions', async () => {
    expect(await store.read('CAunknown')).toBeUndefined();
    const callSid = `CA${randomUUID()}`;
    await store.begin({ callSid, agent: 'a', startedAt: 1 });
    expect(await store.delete([callSid, 'CAunknown'])).toBe(1);
    expect(await store.read(callSid)).toBeUndefined();
  });

  it('reports a failed write through onError and resolves false instead of throwing', async () => {
    const closed = await connectRedis(REDIS_URL);
    await closed.close();
    const errors: string[] = [];
    const broken = new SessionStore(closed, { keyPrefix: prefix, onError: (_err, op) => errors.push(op) });
    expect(await broken.recordTurn('CAx', { turn: 1, role: 'user', text: 'hi', at: 1 })).toBe(false);
    expect(await broken.end('CAx', 2)).toBe(false);
    expect(errors).toEqual(['turn', 'end']);
  });
});
