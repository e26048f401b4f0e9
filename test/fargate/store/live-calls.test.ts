// Pins live-call heartbeats on real Redis: a call taken over by another task is not unregistered by its old task; a lapsed heartbeat is swept once.
import { randomUUID } from 'node:crypto';
import { PutCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LiveCalls } from '../../../fargate/src/store/live-calls';
import { connectRedis, type RedisClient } from '../../../fargate/src/store/redis';
import { startDynalite, type LocalDynamo } from './dynalite';

let redis: RedisClient;
let db: LocalDynamo;
const prefix = `va:test:${randomUUID()}:`;
beforeAll(async () => {
  redis = await connectRedis('redis://127.0.0.1:6379');
  db = await startDynalite({ table: 'transcripts' });
});
afterAll(async () => {
  await redis.close();
  await db.close();
});

const tasks = (now: () => number) =>
  ['task-a', 'task-b'].map((owner) => new LiveCalls({ redis, doc: db.doc, table: 'transcripts', owner, periodMs: 1000, prefix, now }));

it('keeps a migrated call registered when its old task ends it, and unregisters it when the new task does', async () => {
  const [a, b] = tasks(Date.now);
  const callSid = 'CA' + randomUUID().replace(/-/g, '');
  await a!.begin(callSid);
  await b!.begin(callSid); // the call moved to task b
  await a!.end(callSid);
  expect(await redis.zscore(`${prefix}live-calls`, callSid)).not.toBeNull();
  expect(await redis.get(`${prefix}live:${callSid}`)).toBe('task-b');
  await b!.end(callSid);
  expect(await redis.zscore(`${prefix}live-calls`, callSid)).toBeNull();
});

it('closes a lapsed call once, even with two sweepers, and never a call still heartbeating', async () => {
  let now = Date.now();
  const [a, b] = tasks(() => now);
  const lost = 'CA' + randomUUID().replace(/-/g, '');
  const alive = 'CA' + randomUUID().replace(/-/g, '');
  for (const callSid of [lost, alive]) await db.doc.send(new PutCommand({ TableName: 'transcripts', Item: { callSid, turn: 0, kind: 'call', agent: 'booking', startedAt: new Date(now).toISOString() } }));
  await a!.begin(lost);
  await b!.begin(alive);
  a!.stop();
  // task a dies (no end, no more heartbeats); task b keeps beating for its call.
  (a as unknown as { live: Set<string> }).live.clear();
  now += 5000;
  await b!.begin(alive); // b's heartbeat (what its tick does before sweeping)
  const closed = (await Promise.all([a!.sweep(), b!.sweep()])).reduce((x, y) => x + y, 0);
  expect(closed).toBe(1);
  const rec = async (callSid: string) => (await db.doc.send(new GetCommand({ TableName: 'transcripts', Key: { callSid, turn: 0 }, ConsistentRead: true }))).Item;
  expect(await rec(lost)).toMatchObject({ endReason: 'task-lost', turns: 0 });
  expect((await rec(alive))!.endedAt).toBeUndefined();
  await b!.end(alive);
});
