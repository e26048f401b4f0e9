// Pins the privacy Lambda: the caller-hash key from Secrets Manager, export and forget through the shared implementation.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeForTests, handler } from '../../lambdas/privacy/handler';
import { CallerMemoryStore, callerHash } from '../../fargate/src/store/caller-memory';
import { connectRedis, type RedisClientType } from '../../fargate/src/store/redis';
import { TranscriptWriter } from '../../fargate/src/store/transcript-store';
import { startDynalite, type LocalDynamo } from '../fargate/store/dynalite';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:caller-hash-key-AbCdEf';
const HASH_KEY = `lambda-test-key-${randomUUID()}`;
// Distinct numbers per run, so the real `va:` keys of this file never meet another test's.
const phone = () => `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;

/** The Secrets Manager JSON 1.1 wire protocol for GetSecretValue, enough for the real SDK client. */
function secretsManager(secrets: Record<string, string>): Server {
  return createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const id = (JSON.parse(body) as { SecretId: string }).SecretId;
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue' || !(id in secrets)) {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'Secrets Manager can\'t find the specified secret.' }));
        return;
      }
      res.end(JSON.stringify({ ARN: id, Name: 'caller-hash-key', SecretString: secrets[id], VersionId: randomUUID(), VersionStages: ['AWSCURRENT'], CreatedDate: 1.7e9 }));
    });
  });
}

describe('privacy Lambda', () => {
  let db: LocalDynamo;
  let sm: Server;
  let redis: RedisClientType;
  const saved = { ...process.env };

  beforeAll(async () => {
    db = await startDynalite({ table: 'transcripts' });
    sm = secretsManager({ [SECRET_ARN]: JSON.stringify({ key: HASH_KEY }) });
    await new Promise<void>((r) => sm.listen(0, '127.0.0.1', () => r()));
    redis = await connectRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    Object.assign(process.env, {
      TRANSCRIPTS_TABLE: 'transcripts',
      DYNAMODB_ENDPOINT: db.endpoint,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      CALLER_HASH_KEY_SECRET_ARN: SECRET_ARN,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(sm.address() as AddressInfo).port}`,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    delete process.env.CALLER_HASH_KEY;
  });

  afterAll(async () => {
    await closeForTests();
    process.env = saved;
    await redis.close();
    await new Promise<void>((r) => sm.close(() => r()));
    await db.close();
  });

  it('exports and then forgets a caller, hashing the number with the key from Secrets Manager', async () => {
    const number = phone();
    const hash = callerHash(HASH_KEY, number);
    const callSid = `CA${randomUUID().replace(/-/g, '')}`;
    const writer = new TranscriptWriter({ doc: db.doc, table: 'transcripts' });
    writer.putCall({ callSid, agent: 'booking', callerHash: hash, startedAt: Date.now() });
    writer.append({ callSid, turn: 1, role: 'user', text: 'hello', startedAt: Date.now(), callerHash: hash });
    expect(await writer.flushAll()).toBe(true);
    await new CallerMemoryStore(redis).remember(hash, { agent: 'booking', startedAt: 1, endedAt: 2, turns: [], toolResults: [] });

    const exported = await handler({ action: 'export', phone: number });
    expect(exported).toMatchObject({ action: 'export', callerHash: hash, memory: { calls: 1 } });
    expect(exported.action === 'export' && exported.calls.map((c) => [c.callSid, c.items.length])).toEqual([[callSid, 2]]);

    expect(await handler({ action: 'forget', phone: number })).toEqual({ action: 'forget', callerHash: hash, calls: 1, transcriptItems: 2, sessions: 0, memory: true });
    expect(await handler({ action: 'export', phone: number })).toEqual({ action: 'export', callerHash: hash, memory: null, calls: [] });
    expect(await redis.exists(`va:mem:${hash}`)).toBe(0);
    expect(await redis.exists(`va:forgotten:${hash}`)).toBe(1);
    await redis.del(`va:forgotten:${hash}`);
  });

  it('rejects a malformed event with an error naming the field', async () => {
    await expect(handler({ action: 'forget', phone: '12' })).rejects.toThrow(/E\.164/);
    await expect(handler({ phone: phone() })).rejects.toThrow(/action/);
    await expect(handler(null)).rejects.toThrow(/invalid privacy request/);
  });
});
