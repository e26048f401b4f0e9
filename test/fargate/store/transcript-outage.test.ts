// Pins the transcript guarantee under DynamoDB outages: a 2-minute outage loses no turn, overflow is counted and spooled, SIGTERM spills to the spool and `npm run transcripts -- replay` writes it back.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../../fargate/src/store/dynamo';
import { fileSpool, SPOOL_KEY } from '../../../fargate/src/store/transcript-spool';
import { TranscriptWriter } from '../../../fargate/src/store/transcript-store';
import { testEnv } from '../fixtures/env';
import { startDynalite, type LocalDynamo } from './dynalite';
import { failingProxy, type FailingProxy } from './failing-proxy';
import { privateRedis, type PrivateRedis } from './redis-server';

const TABLE = 'transcripts';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/spill-child.ts', import.meta.url));
const sid = () => `CA${randomUUID().replace(/-/g, '')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function turnsOf(doc: DynamoDBDocumentClient, callSid: string): Promise<number[]> {
  const out = await doc.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'callSid = :c', ExpressionAttributeValues: { ':c': callSid }, ConsistentRead: true }));
  return (out.Items ?? []).map((i) => i.turn as number);
}

let db: LocalDynamo;
let proxy: FailingProxy;
beforeAll(async () => {
  db = await startDynalite({ table: TABLE });
  proxy = await failingProxy(db.endpoint);
});
afterAll(async () => {
  await proxy.close();
  await db.close();
});

describe('DynamoDB outage mid-call', () => {
  it('loses no turn across a 2-minute outage: every turn is stored once DynamoDB recovers', async () => {
    const doc = createDocumentClient({ endpoint: proxy.endpoint });
    let errors = 0;
    const writer = new TranscriptWriter({ doc, table: TABLE, onWriteError: (n) => (errors += n) });
    const callSid = sid();
    try {
      writer.putCall({ callSid, agent: 'booking', startedAt: Date.now() });
      let turn = 0;
      const say = () => writer.append({ callSid, turn: ++turn, role: turn % 2 ? 'user' : 'assistant', text: `turn ${turn}`, startedAt: Date.now() });
      say();
      say();
      expect(await writer.flush(callSid, 10_000)).toBe(true);
      proxy.failing = true;
      // Six turns during a 120 s outage (the figure), one every 20 s.
      for (let i = 0; i < 6; i++) {
        await sleep(20_000);
        say();
      }
      proxy.failing = false;
      say();
      expect(await writer.flush(callSid, 30_000)).toBe(true);
      expect(await turnsOf(db.doc, callSid)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(proxy.refused).toBeGreaterThan(0);
      expect(errors).toBeGreaterThan(0);
      expect(writer.stats()).toMatchObject({ dropped: 0, spooled: 0, pending: 0 });
    } finally {
      writer.close();
      doc.destroy();
    }
  }, 200_000);

  it('says so when the bounded queue overflows (TranscriptQueueOverflow hook, error log) and spools what left it', async () => {
    const doc = createDocumentClient({ endpoint: proxy.endpoint });
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    const overflow: number[] = [];
    const logged: string[] = [];
    const log = { error: (o: unknown, m: string) => logged.push(m), warn: () => undefined } as never;
    const writer = new TranscriptWriter({ doc, table: TABLE, maxQueue: 5, spool: fileSpool(dir), onOverflow: (n) => overflow.push(n), log });
    const callSid = sid();
    proxy.failing = true;
    try {
      for (let turn = 1; turn <= 8; turn++) writer.append({ callSid, turn, role: 'user', text: `t${turn}`, startedAt: Date.now() });
      expect(overflow.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
      expect(logged).toContain('transcript queue full: oldest items leave the queue');
      await writer.spill();
      expect(await readdir(dir)).toHaveLength(1);
      expect(writer.stats()).toMatchObject({ dropped: 0, spooled: 8, pending: 0 });
    } finally {
      proxy.failing = false;
      writer.close();
      doc.destroy();
    }
  });
});

describe('SIGTERM during an outage', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await privateRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('spills every unwritten turn to the Redis spool, and `npm run transcripts -- replay` writes them all back', async () => {
    const callSid = sid();
    const dir = await mkdtemp(join(tmpdir(), 'spool-'));
    const env = { ...process.env, ...testEnv({ REDIS_URL: redis.url, DYNAMODB_ENDPOINT: proxy.endpoint, TRANSCRIPTS_TABLE: TABLE, TRANSCRIPT_SPOOL_DIR: dir }), CALL_SID: callSid, TURN_MS: '100' };
    proxy.failing = true;
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('appended 6\n')) resolve();
      });
      child.once('exit', () => reject(new Error(`child exited early: ${err}`)));
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const appended = Number(/appended (\d+)\n(?![\s\S]*appended)/.exec(out)![1]);
    expect(await turnsOf(db.doc, callSid)).toEqual([]); // nothing reached DynamoDB
    const probe = new Redis(redis.url);
    try {
      expect(await probe.llen(SPOOL_KEY)).toBe(appended + 1); // every turn and the call record
    } finally {
      probe.disconnect();
    }

    proxy.failing = false;
    const cli = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'local/transcripts.ts'), 'replay', '--table', TABLE, '--redis', redis.url, '--dir', dir, '--endpoint', db.endpoint], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let cliOut = '';
    cli.stdout.on('data', (c: Buffer) => (cliOut += c.toString()));
    expect(await new Promise((r) => cli.once('exit', r))).toBe(0);
    expect(JSON.parse(cliOut)).toMatchObject({ written: appended + 1 });
    expect(await turnsOf(db.doc, callSid)).toEqual(Array.from({ length: appended + 1 }, (_, i) => i));
  }, 60_000);
});
