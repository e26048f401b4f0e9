// Pins data subject requests: export returns all of a caller's data; forget removes all of it and nothing of anyone else.
import { randomUUID } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportCaller, forgetCaller, runDataSubjectRequest, type DataSubjectDeps } from '../../fargate/src/privacy/data-subject';
import { CallerMemoryStore, callerHash, type FinishedCall } from '../../fargate/src/store/caller-memory';
import { connectRedis, type RedisClientType } from '../../fargate/src/store/redis';
import { SessionStore } from '../../fargate/src/store/session-store';
import { TranscriptWriter } from '../../fargate/src/store/transcript-store';
import { startDynalite, type LocalDynamo } from './store/dynalite';

const KEY = `privacy-test-key-${randomUUID()}`;
const TABLE = 'transcripts';
const ANA = '+15551230001';
const BOB = '+15551230002';

const finished: FinishedCall = {
  agent: 'booking', startedAt: 1000, endedAt: 2000, turns: [{ role: 'user', text: 'my name is Ana' }],
  toolResults: [{ name: 'book_appointment', ok: true, content: '{"service":"haircut","start":"2026-11-25T09:00"}' }],
};

describe('data subject requests', () => {
  let db: LocalDynamo;
  let deps: DataSubjectDeps & { redis: RedisClientType };
  const prefix = `va:test-${randomUUID()}:`;
  const calls: Record<string, string[]> = { ana: [], bob: [] };

  beforeAll(async () => {
    db = await startDynalite({ table: TABLE });
    const redis = await connectRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    deps = { doc: db.doc, table: TABLE, redis, callerHashKey: KEY, keyPrefix: prefix };
    const writer = new TranscriptWriter({ doc: db.doc, table: TABLE });
    const sessions = new SessionStore(redis, { keyPrefix: prefix });
    const memory = new CallerMemoryStore(redis, { keyPrefix: prefix });
    // Ana: two calls of 30 turns (more than one BatchWriteItem to delete); Bob: one call.
    for (const [who, phone, n, turns] of [['ana', ANA, 2, 30], ['bob', BOB, 1, 3]] as const) {
      const hash = callerHash(KEY, phone);
      for (let c = 0; c < n; c++) {
        const callSid = `CA${randomUUID().replace(/-/g, '')}`;
        calls[who].push(callSid);
        const startedAt = Date.parse('2026-11-20T10:00:00Z') + c * 86_400_000;
        writer.putCall({ callSid, agent: 'booking', callerHash: hash, startedAt });
        await sessions.begin({ callSid, agent: 'booking', callerHash: hash, startedAt });
        for (let turn = 1; turn <= turns; turn++) {
          writer.append({ callSid, turn, role: turn % 2 ? 'user' : 'assistant', text: `${who} turn ${turn}`, startedAt: startedAt + turn, callerHash: hash });
          await sessions.recordTurn(callSid, { turn, role: 'user', text: `${who} turn ${turn}`, at: startedAt + turn });
        }
      }
      await memory.remember(hash, finished);
    }
    expect(await writer.flushAll()).toBe(true);
  });

  afterAll(async () => {
    const keys = await deps.redis.keys(`${prefix}*`);
    if (keys.length) await deps.redis.del(keys);
    await deps.redis.close();
    await db.close();
  });

  it('exports every transcript item, session and the memory of the caller, and nothing of anyone else', async () => {
    const out = await exportCaller(deps, '+1 (555) 123-0001');
    expect(out.callerHash).toBe(callerHash(KEY, ANA));
    expect(out.calls.map((c) => c.callSid).sort()).toEqual([...calls.ana].sort());
    for (const c of out.calls) {
      expect(c.items.map((i) => i.turn)).toEqual(Array.from({ length: 31 }, (_, i) => i));
      expect(c.session?.turns).toHaveLength(30);
    }
    expect(out.memory?.lastAppointment).toBe('haircut on 2026-11-25 09:00');
    expect(JSON.stringify(out)).not.toContain('bob');
  });

  it('forgets everything of the caller and nothing of anyone else', async () => {
    const res = await runDataSubjectRequest(deps, { action: 'forget', phone: ANA });
    expect(res).toEqual({ action: 'forget', callerHash: callerHash(KEY, ANA), calls: 2, transcriptItems: 62, sessions: 2, memory: true });

    for (const callSid of calls.ana) {
      const { Items = [] } = await db.doc.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'callSid = :c', ExpressionAttributeValues: { ':c': callSid }, ConsistentRead: true }));
      expect(Items).toEqual([]);
      expect(await deps.redis.exists(`${prefix}session:${callSid}`)).toBe(0);
    }
    expect(await deps.redis.exists(`${prefix}mem:${callerHash(KEY, ANA)}`)).toBe(0);
    expect(await exportCaller(deps, ANA)).toEqual({ action: 'export', callerHash: callerHash(KEY, ANA), memory: null, calls: [] });

    const bob = await exportCaller(deps, BOB);
    expect(bob.calls).toHaveLength(1);
    expect(bob.calls[0].items).toHaveLength(4);
    expect(bob.calls[0].session?.turns).toHaveLength(3);
    expect(bob.memory?.calls).toBe(1);

    // Idempotent: a second forget finds nothing.
    expect(await forgetCaller(deps, ANA)).toMatchObject({ calls: 0, transcriptItems: 0, sessions: 0, memory: false });
  });

  it('refuses a bad request with an error naming the field, touching nothing', async () => {
    await expect(runDataSubjectRequest(deps, { action: 'delete', phone: BOB })).rejects.toThrow(/action/);
    await expect(runDataSubjectRequest(deps, { action: 'forget' })).rejects.toThrow(/phone/);
    await expect(runDataSubjectRequest(deps, { action: 'forget', phone: '555-123-0002' })).rejects.toThrow(/E\.164/);
    expect((await exportCaller(deps, BOB)).calls).toHaveLength(1);
  });
});
