// Pins `npm run privacy -- export|forget --phone …`: the CLI runs the shared implementation against dynalite and Redis.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerHash } from '../../fargate/src/store/caller-memory';
import { TranscriptWriter } from '../../fargate/src/store/transcript-store';
import { startDynalite, type LocalDynamo } from './store/dynalite';

const CLI = fileURLToPath(new URL('../../local/privacy.ts', import.meta.url));
const KEY = `cli-test-key-${randomUUID()}`;
const PHONE = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('privacy CLI', () => {
  let db: LocalDynamo;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await startDynalite({ table: 'transcripts' });
    env = {
      TRANSCRIPTS_TABLE: 'transcripts', DYNAMODB_ENDPOINT: db.endpoint, CALLER_HASH_KEY: KEY,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', AWS_REGION: 'us-east-1',
    };
    const writer = new TranscriptWriter({ doc: db.doc, table: 'transcripts' });
    const hash = callerHash(KEY, PHONE);
    for (const callSid of ['CAcli1', 'CAcli2']) {
      writer.putCall({ callSid: `${callSid}${randomUUID()}`, agent: 'booking', callerHash: hash, startedAt: Date.now() });
    }
    expect(await writer.flushAll()).toBe(true);
  });

  afterAll(async () => {
    await db.close();
  });

  // Each run starts a Node process with tsx (seconds on a loaded machine), so the runs are few and overlap.
  it('exports as JSON and forgets; prints usage (exit 2) without a phone and a clear error (exit 1) for a bad number', async () => {
    const [exported, usage, bad] = await Promise.all([
      run(['export', '--phone', PHONE], env),
      run(['export'], env),
      run(['forget', '--phone', '4155550123'], env),
    ]);
    expect(exported.code).toBe(0);
    const data = JSON.parse(exported.stdout) as { callerHash: string; calls: unknown[] };
    expect(data.callerHash).toBe(callerHash(KEY, PHONE));
    expect(data.calls).toHaveLength(2);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: npm run privacy');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/privacy: phone must be E\.164/);
    expect(bad.stderr).not.toContain('4155550123');

    const forgot = await run(['--', 'forget', `--phone=${PHONE}`], env);
    expect(forgot.code).toBe(0);
    expect(JSON.parse(forgot.stdout)).toMatchObject({ action: 'forget', calls: 2, transcriptItems: 2 });
    const { Count } = await db.doc.send(new QueryCommand({
      TableName: 'transcripts', IndexName: 'byCaller', KeyConditionExpression: 'callerHash = :h', ExpressionAttributeValues: { ':h': callerHash(KEY, PHONE) },
    }));
    expect(Count).toBe(0);
  }, 180_000);
});
