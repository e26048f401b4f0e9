// Pins crash safety: a process killed with SIGKILL mid-call loses at most the turn in flight from the transcript table.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDynalite, type LocalDynamo } from './dynalite';

const FIXTURE = fileURLToPath(new URL('../fixtures/transcript-crash-child.ts', import.meta.url));
const TURNS = 6;

let db: LocalDynamo;
beforeAll(async () => {
  db = await startDynalite({ table: 'transcripts' });
});
afterAll(async () => {
  await db.close();
});

it('keeps every completed turn when the process is SIGKILLed mid-call (at most the turn in flight is missing)', async () => {
  const callSid = `CA${randomUUID().replace(/-/g, '')}`;
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, DYNAMODB_ENDPOINT: db.endpoint, TRANSCRIPTS_TABLE: 'transcripts', CALL_SID: callSid, TURN_MS: '500' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(`appended ${TURNS}\n`)) resolve();
    });
    child.once('exit', () => reject(new Error(`child exited early; output: ${out}`)));
  });
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');

  const { Items = [] } = await db.doc.send(new QueryCommand({
    TableName: 'transcripts', KeyConditionExpression: 'callSid = :c', ExpressionAttributeValues: { ':c': callSid }, ConsistentRead: true,
  }));
  const turns = Items.map((i) => i.turn as number);
  expect(turns[0]).toBe(0); // the call record, put at stream start
  const stored = turns.filter((t) => t > 0);
  for (let t = 1; t < TURNS; t++) expect(stored).toContain(t);
  expect(stored.every((t) => t <= TURNS)).toBe(true);
});
