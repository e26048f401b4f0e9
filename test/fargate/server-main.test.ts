// Pins main.ts as a process: boots from env, drains on SIGTERM (ready 503, upgrades refused, live call finishes), exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { testEnv } from './fixtures/env';
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
});
