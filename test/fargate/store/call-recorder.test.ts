// Pins the per-call recorder the pipeline uses: memory loaded at start, turns numbered and stored, memory and record at the end.
import { randomUUID } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../fargate/src/config';
import { CallRecorder, openStores, type Stores } from '../../../fargate/src/store/call-recorder';
import { forgetCaller } from '../../../fargate/src/privacy/data-subject';
import { callerHash } from '../../../fargate/src/store/caller-memory';
import { startDynalite, type LocalDynamo } from './dynalite';

const phone = () => `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;

describe('call recorder', () => {
  let db: LocalDynamo;
  let stores: Stores;
  const hashKey = `recorder-test-key-${randomUUID()}`;
  const writeErrors: number[] = [];

  beforeAll(async () => {
    db = await startDynalite({ table: 'transcripts' });
    const config = loadConfig({
      PUBLIC_URL: 'https://voice.example.com', STREAM_TOKEN_KEY: 's'.repeat(32), CALLER_HASH_KEY: hashKey,
      TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: 't', TRANSFER_NUMBER: '+15557654321',
      DEEPGRAM_API_KEY: 'd', GROQ_API_KEY: 'g', ELEVENLABS_API_KEY: 'e', TOOLS_URL: 'http://127.0.0.1:4105', TOOLS_AUTH: 'none',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', TRANSCRIPTS_TABLE: 'transcripts', DYNAMODB_ENDPOINT: db.endpoint,
      TRANSCRIPT_RETENTION_DAYS: '10',
    });
    stores = await openStores(config, pino({ level: 'silent' }), { onTranscriptWriteError: (n) => writeErrors.push(n) });
  });

  afterAll(async () => {
    await stores.close();
    await db.close();
  });

  async function oneCall(caller: string | undefined, booked: boolean) {
    const callSid = `CA${randomUUID().replace(/-/g, '')}`;
    const t0 = Date.now();
    const { recorder, memoryLine } = await CallRecorder.start(stores, { callSid, agent: 'booking', caller, startedAt: t0, profile: { voice: 'v' } });
    expect(recorder.turn({ role: 'user', text: 'Hi, my name is Ana. A haircut tomorrow at 9 please.', startedAt: t0 + 10 })).toBe(1);
    if (booked) {
      recorder.toolResult({ toolCallId: 'c1', name: 'book_appointment', ok: true, latencyMs: 40, content: '{"service":"haircut","start":"2026-11-25T09:00:00Z"}', arguments: '{"service":"haircut"}' });
    }
    expect(recorder.turn({ role: 'assistant', text: "You're booked for 9.", startedAt: t0 + 20, latency: { voiceToVoice: 450 } })).toBe(2);
    expect(await recorder.finish({ endedAt: t0 + 60_000, cost: { total: 0.03 } })).toBe(true);
    return { callSid, memoryLine, recorder };
  }

  it('welcomes a second call from the same caller with what the first call booked; a different caller gets nothing', async () => {
    const ana = phone();
    const first = await oneCall(ana, true);
    expect(first.memoryLine).toBe('');
    const second = await oneCall(ana, false);
    expect(second.memoryLine).toContain('Name: Ana.');
    expect(second.memoryLine).toContain('Last appointment: haircut on 2026-11-25 09:00.');
    const stranger = await oneCall(phone(), false);
    expect(stranger.memoryLine).toBe('');

    const { Items = [] } = await db.doc.send(new QueryCommand({ TableName: 'transcripts', KeyConditionExpression: 'callSid = :c', ExpressionAttributeValues: { ':c': first.callSid }, ConsistentRead: true }));
    expect(Items.map((i) => [i.turn, i.callerHash])).toEqual([[0, callerHash(hashKey, ana)], [1, callerHash(hashKey, ana)], [2, callerHash(hashKey, ana)]]);
    expect(Items[0]).toMatchObject({ turns: 2, escalated: false, cost: { total: 0.03 }, summary: expect.stringContaining('booked haircut on 2026-11-25 09:00') });
    const session = await stores.sessions.read(first.callSid);
    expect(session?.turns).toHaveLength(2);
    expect(session?.toolResults.map((t) => t.name)).toEqual(['book_appointment']);
    expect(writeErrors).toEqual([]);
    await stores.redis.del([stores.memory.key(callerHash(hashKey, ana)), ...[first, second, stranger].map((c) => stores.sessions.key(c.callSid))]);
  });

  it('stores a given hand-off summary and the escalation on the call record', async () => {
    const callSid = `CA${randomUUID().replace(/-/g, '')}`;
    const { recorder } = await CallRecorder.start(stores, { callSid, agent: 'support', startedAt: 1_000 });
    recorder.turn({ role: 'user', text: 'I want a person', startedAt: 1_100 });
    expect(await recorder.finish({ endedAt: 9_000, escalated: true, summary: 'caller asked for a person about a refund' })).toBe(true);
    const { Items = [] } = await db.doc.send(new QueryCommand({ TableName: 'transcripts', KeyConditionExpression: 'callSid = :c', ExpressionAttributeValues: { ':c': callSid }, ConsistentRead: true }));
    expect(Items[0]).toMatchObject({ turn: 0, summary: 'caller asked for a person about a refund', escalated: true, turns: 1, endedAt: new Date(9_000).toISOString() });
    expect(Items[0].callerHash).toBeUndefined();
    await stores.redis.del(stores.sessions.key(callSid));
  });

  it('writes nothing back for a call that was live while its caller was forgotten, and removes what it wrote', async () => {
    const number = phone();
    const callSid = `CA${randomUUID().replace(/-/g, '')}`;
    const { recorder } = await CallRecorder.start(stores, { callSid, agent: 'booking', caller: number, startedAt: Date.now() });
    recorder.turn({ role: 'user', text: 'my name is Ana', startedAt: Date.now() });
    expect(await stores.transcripts.flush(callSid)).toBe(true);

    const forgot = await forgetCaller({ doc: stores.doc, table: stores.table, redis: stores.redis, callerHashKey: hashKey }, number);
    expect(forgot.calls).toBe(1);
    recorder.turn({ role: 'assistant', text: 'Noted, Ana.', startedAt: Date.now() }); // the call goes on meanwhile
    expect(await recorder.finish({ endedAt: Date.now() })).toBe(true);

    const { Items = [] } = await db.doc.send(new QueryCommand({ TableName: 'transcripts', KeyConditionExpression: 'callSid = :c', ExpressionAttributeValues: { ':c': callSid }, ConsistentRead: true }));
    expect(Items).toEqual([]);
    expect(await stores.sessions.read(callSid)).toBeUndefined();
    expect(await stores.memory.load(callerHash(hashKey, number))).toBeUndefined();
    await stores.redis.del(`va:forgotten:${callerHash(hashKey, number)}`);
  });

  it('gives a withheld caller no memory and no caller hash', async () => {
    const call = await oneCall('anonymous', true);
    expect(call.recorder.callerHash).toBeUndefined();
    expect(call.memoryLine).toBe('');
    const again = await oneCall('anonymous', false);
    expect(again.memoryLine).toBe('');
    await stores.redis.del([call, again].map((c) => stores.sessions.key(c.callSid)));
  });
});
