// Pins main.ts as a process: boots from env, drains on SIGTERM (ready 503, upgrades refused, live call finishes), exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveCalls } from '../../fargate/src/store/live-calls';
import { testEnv } from './fixtures/env';
import { startDynalite } from './store/dynalite';
import { privateRedis } from './store/redis-server';
import { openStream, postWebhook, streamParameters, until } from './fixtures/twilio-peer';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = 'test/fargate/fixtures/main-with-echo-call.ts';
const children: ChildProcess[] = [];

/** Starts the real main.ts (its './runtime' swapped for the echo runtime) under tsx; collects its JSON log lines. */
function startMain(env: Record<string, string | undefined>) {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      logs.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      logs.push({ raw: l });
    }
  });
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, logs, exited, stderr: () => stderr };
}

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('main.ts', () => {
  it('on SIGTERM stops taking calls, lets the live call finish, then exits 0', async () => {
    const auth = 'twilio-auth-token-test';
    const publicUrl = 'https://voice.example.test';
    const proc = startMain(testEnv({ LOG_LEVEL: 'info', PORT: '0', DRAIN_SECONDS: '20', PUBLIC_URL: publicUrl, TWILIO_AUTH_TOKEN: auth }));
    await until(() => proc.logs.some((l) => l.msg === 'media service listening'), 40_000, 'main to listen');
    const port = proc.logs.find((l) => l.msg === 'media service listening')!.port as number;
    const base = `http://127.0.0.1:${port}`;
    const wsBase = `ws://127.0.0.1:${port}`;

    const callSid = 'CA' + '5'.repeat(32);
    const hook = await postWebhook(base, { authToken: auth, publicUrl, params: { CallSid: callSid, From: '+15551230001', To: '+15550001000' } });
    expect(hook.status).toBe(200);
    const client = await openStream(wsBase);
    client.begin({ callSid, customParameters: streamParameters(hook.body).params });
    client.media(Uint8Array.of(1, 2, 3));
    await client.waitFor((m) => m.event === 'media');

    proc.child.kill('SIGTERM');
    await until(async () => (await fetch(`${base}/ready`)).status === 503, 5000, '/ready to turn 503');
    await expect(openStream(wsBase)).rejects.toMatchObject({ status: 503 });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    // The call that was live before SIGTERM still works.
    client.media(Uint8Array.of(4, 5, 6));
    const echoed = await client.waitFor((m) => m.event === 'media', 2);
    expect(Buffer.from((echoed[1]!.media as { payload: string }).payload, 'base64')).toEqual(Buffer.from([4, 5, 6]));
    expect(proc.child.exitCode).toBeNull();

    client.stop(callSid);
    expect(await proc.exited).toBe(0);
    expect(proc.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'drained: all calls ended', 'echo runtime closed', 'media service stopped']));
    client.close();
  });

  it('exits 1 naming the variable when the environment is invalid', async () => {
    const proc = startMain(testEnv({ PUBLIC_URL: undefined, MAX_CALLS: 'many' }));
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toMatch(/PUBLIC_URL/);
    expect(proc.stderr()).toMatch(/MAX_CALLS/);
    expect(proc.logs.some((l) => l.msg === 'media service listening')).toBe(false);
  });

  it('after a SIGKILL, another task\'s sweeper closes the lost call\'s record: endedAt, endReason task-lost, turns from the transcript', async () => {
    const db = await startDynalite({ table: 'transcripts' });
    const redis = await privateRedis();
    const probe = new Redis(redis.url);
    try {
      const auth = 'twilio-auth-token-test';
      const publicUrl = 'https://voice.example.test';
      const callSid = 'CA' + '7'.repeat(32);
      const startedAt = new Date().toISOString();
      // What the call recorder stores at stream start and per heard turn.
      await db.doc.send(new PutCommand({ TableName: 'transcripts', Item: { callSid, turn: 0, kind: 'call', agent: 'echo', startedAt } }));
      for (let turn = 1; turn <= 3; turn++) await db.doc.send(new PutCommand({ TableName: 'transcripts', Item: { callSid, turn, kind: 'turn', role: 'user', text: `t${turn}`, at: startedAt } }));
      // A call that ended properly but whose index entry is stale must not be touched.
      const endedSid = 'CA' + '8'.repeat(32);
      await db.doc.send(new PutCommand({ TableName: 'transcripts', Item: { callSid: endedSid, turn: 0, kind: 'call', agent: 'echo', startedAt, endedAt: startedAt, turns: 5 } }));
      await probe.zadd('va:live-calls', 1, endedSid);

      const proc = startMain(testEnv({
        LOG_LEVEL: 'info', PUBLIC_URL: publicUrl, TWILIO_AUTH_TOKEN: auth, REDIS_URL: redis.url, DYNAMODB_ENDPOINT: db.endpoint,
        TRANSCRIPTS_TABLE: 'transcripts', LIVE_HEARTBEAT_SECONDS: '1', METRICS_PORT: '0',
      }));
      await until(() => proc.logs.some((l) => l.msg === 'media service listening'), 40_000, 'main to listen');
      const port = proc.logs.find((l) => l.msg === 'media service listening')!.port as number;
      const hook = await postWebhook(`http://127.0.0.1:${port}`, { authToken: auth, publicUrl, params: { CallSid: callSid, From: '+15551230001', To: '+15550001000' } });
      const client = await openStream(`ws://127.0.0.1:${port}`);
      client.begin({ callSid, customParameters: streamParameters(hook.body).params });
      await until(async () => (await probe.zscore('va:live-calls', callSid)) !== null, 10_000, 'the call heartbeat');
      proc.child.kill('SIGKILL');
      await proc.exited;
      client.close();

      const sweeper = new LiveCalls({ redis: probe, doc: db.doc, table: 'transcripts', owner: 'task-b', periodMs: 1000 });
      let closed = 0;
      await until(async () => (closed += await sweeper.sweep()) > 0, 20_000, 'the sweeper to close the lost call');
      const { Item } = await db.doc.send(new GetCommand({ TableName: 'transcripts', Key: { callSid, turn: 0 }, ConsistentRead: true }));
      expect(Item).toMatchObject({ endReason: 'task-lost', turns: 3, endedAt: expect.any(String) });
      const ended = await db.doc.send(new GetCommand({ TableName: 'transcripts', Key: { callSid: endedSid, turn: 0 }, ConsistentRead: true }));
      expect(ended.Item).toMatchObject({ turns: 5 });
      expect(ended.Item!.endReason).toBeUndefined();
      expect(await probe.zcard('va:live-calls')).toBe(0);
    } finally {
      probe.disconnect();
      await redis.stop();
      await db.close();
    }
  }, 90_000);
});
