// Data subject requests (export / forget a caller's data), shared by `npm run privacy` and the privacy Lambda.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { CallerMemoryStore, callerHash, normalizePhone, type CallerMemory } from '../store/caller-memory';
import { BY_CALLER_INDEX, createDocumentClient } from '../store/dynamo';
import { connectRedis } from '../store/redis';
import { SessionStore, type Session } from '../store/session-store';

/** What a request needs: the transcripts table, Redis and the caller-hash key. */
export interface DataSubjectDeps {
  doc: DynamoDBDocumentClient;
  table: string;
  redis: Redis;
  callerHashKey: string;
  /** @default 'va:' */
  keyPrefix?: string;
}

/** `{ action: 'forget' | 'export', phone: '+1…' }` — the Lambda event and the CLI arguments. */
export const dataSubjectRequestSchema = z.object({
  action: z.enum(['forget', 'export']),
  phone: z.string().min(1, 'phone is required, E.164, e.g. +15551230001'),
});
export type DataSubjectRequest = z.infer<typeof dataSubjectRequestSchema>;

/** Everything stored about one caller. */
export interface CallerExport {
  action: 'export';
  callerHash: string;
  memory: CallerMemory | null;
  /** Oldest first; `items` are every transcript item of the call (turn 0 = call record), `session` the live state if any. */
  calls: { callSid: string; items: Record<string, unknown>[]; session: Session | null }[];
}

/** What a forget removed. */
export interface ForgetResult {
  action: 'forget';
  callerHash: string;
  calls: number;
  transcriptItems: number;
  sessions: number;
  memory: boolean;
}

/** Validates a request: throws a clear Error naming the bad field, or for a phone number that is not E.164. */
export function parseDataSubjectRequest(request: unknown): DataSubjectRequest {
  const parsed = dataSubjectRequestSchema.safeParse(request);
  if (!parsed.success) {
    throw new Error(`invalid privacy request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`).join('; ')}`);
  }
  return { action: parsed.data.action, phone: normalizePhone(parsed.data.phone) };
}

/** Validates a request ({@link parseDataSubjectRequest}) and runs it. */
export async function runDataSubjectRequest(deps: DataSubjectDeps, request: unknown): Promise<CallerExport | ForgetResult> {
  const { action, phone } = parseDataSubjectRequest(request);
  return action === 'export' ? exportCaller(deps, phone) : forgetCaller(deps, phone);
}

/** Returns every transcript item (via the byCaller index → callSids → all turns), session and the memory of the caller. */
export async function exportCaller(deps: DataSubjectDeps, phone: string): Promise<CallerExport> {
  const hash = callerHash(deps.callerHashKey, phone);
  const sessions = new SessionStore(deps.redis, { keyPrefix: deps.keyPrefix });
  const memory = await new CallerMemoryStore(deps.redis, { keyPrefix: deps.keyPrefix }).load(hash);
  const calls: CallerExport['calls'] = [];
  for (const callSid of await callSidsOf(deps, hash)) {
    calls.push({ callSid, items: await itemsOf(deps, callSid), session: (await sessions.read(callSid)) ?? null });
  }
  return { action: 'export', callerHash: hash, memory: memory ?? null, calls };
}

/** Deletes every transcript item, session and the memory of the caller; nothing of anyone else. Idempotent. */
export async function forgetCaller(deps: DataSubjectDeps, phone: string): Promise<ForgetResult> {
  const hash = callerHash(deps.callerHashKey, phone);
  const callSids = await callSidsOf(deps, hash);
  // Memory first: it also sets the guard that stops calls live right now from writing memory or transcripts back.
  const memory = await new CallerMemoryStore(deps.redis, { keyPrefix: deps.keyPrefix }).forget(hash);
  let transcriptItems = 0;
  for (const callSid of callSids) transcriptItems += await deleteCallTranscript(deps.doc, deps.table, callSid);
  const sessions = await new SessionStore(deps.redis, { keyPrefix: deps.keyPrefix }).delete(callSids);
  return { action: 'forget', callerHash: hash, calls: callSids.length, transcriptItems, sessions, memory };
}

/**
 * Opens the dependencies from the environment (CONTRACTS.md): TRANSCRIPTS_TABLE, DYNAMODB_ENDPOINT (optional),
 * REDIS_URL or REDIS_HOST/REDIS_PORT/REDIS_TLS with the AUTH token from REDIS_AUTH_SECRET_ARN (else REDIS_PASSWORD),
 * and the caller-hash key from CALLER_HASH_KEY_SECRET_ARN (else CALLER_HASH_KEY). Throws naming what is missing.
 */
export async function openDataSubjectDeps(env: NodeJS.ProcessEnv = process.env): Promise<DataSubjectDeps & { close(): Promise<void> }> {
  const table = env.TRANSCRIPTS_TABLE;
  if (!table) throw new Error('TRANSCRIPTS_TABLE is required');
  let secrets: SecretsManagerClient | undefined;
  const secret = async (arn: string, field: string): Promise<string> => {
    secrets ??= new SecretsManagerClient({ region: env.AWS_REGION });
    const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: arn }));
    if (!SecretString) throw new Error(`secret ${arn} has no SecretString`);
    return secretValue(SecretString, field);
  };
  const callerHashKey = env.CALLER_HASH_KEY_SECRET_ARN ? await secret(env.CALLER_HASH_KEY_SECRET_ARN, 'key') : env.CALLER_HASH_KEY;
  if (!callerHashKey) throw new Error('CALLER_HASH_KEY_SECRET_ARN or CALLER_HASH_KEY is required');
  let redisUrl = env.REDIS_URL;
  if (!redisUrl) {
    if (!env.REDIS_HOST) throw new Error('REDIS_URL or REDIS_HOST is required');
    const password = env.REDIS_AUTH_SECRET_ARN ? await secret(env.REDIS_AUTH_SECRET_ARN, 'password') : env.REDIS_PASSWORD;
    const auth = password ? `default:${encodeURIComponent(password)}@` : '';
    redisUrl = `${env.REDIS_TLS === 'true' ? 'rediss' : 'redis'}://${auth}${env.REDIS_HOST}:${env.REDIS_PORT ?? '6379'}`;
  }
  const redis = await connectRedis(redisUrl);
  const doc = createDocumentClient({ region: env.AWS_REGION, endpoint: env.DYNAMODB_ENDPOINT, maxAttempts: 3 });
  return {
    doc, table, redis, callerHashKey,
    async close() {
      doc.destroy();
      secrets?.destroy();
      await redis.close();
    },
  };
}

/** Deletes every transcript item of one call (turn 0 and all turns); returns how many there were. */
export async function deleteCallTranscript(doc: DynamoDBDocumentClient, table: string, callSid: string): Promise<number> {
  const keys = (await itemsOf({ doc, table }, callSid, true)).map((i) => ({ callSid: i.callSid, turn: i.turn }));
  await deleteKeys({ doc, table }, keys);
  return keys.length;
}

// ---------------------------------------------------------------------------------------------------------------

/** A secret is either the plain value or a JSON object holding it (CDK `generateSecretString` with a template). */
function secretValue(s: string, field: string): string {
  try {
    const o: unknown = JSON.parse(s);
    if (o && typeof o === 'object') {
      const v = (o as Record<string, unknown>)[field];
      if (typeof v === 'string') return v;
      const only = Object.values(o);
      if (only.length === 1 && typeof only[0] === 'string') return only[0];
      throw new Error(`secret JSON has no "${field}" field`);
    }
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  return s;
}

async function callSidsOf(deps: DataSubjectDeps, hash: string): Promise<string[]> {
  const out: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await deps.doc.send(new QueryCommand({
      TableName: deps.table,
      IndexName: BY_CALLER_INDEX,
      KeyConditionExpression: 'callerHash = :h',
      ExpressionAttributeValues: { ':h': hash },
      ExclusiveStartKey: start,
    }));
    for (const i of page.Items ?? []) if (typeof i.callSid === 'string' && !out.includes(i.callSid)) out.push(i.callSid);
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

async function itemsOf(deps: Pick<DataSubjectDeps, 'doc' | 'table'>, callSid: string, keysOnly = false): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await deps.doc.send(new QueryCommand({
      TableName: deps.table,
      KeyConditionExpression: 'callSid = :c',
      ExpressionAttributeValues: { ':c': callSid },
      ...(keysOnly ? { ProjectionExpression: 'callSid, turn' } : {}),
      ConsistentRead: true,
      ExclusiveStartKey: start,
    }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

async function deleteKeys(deps: Pick<DataSubjectDeps, 'doc' | 'table'>, keys: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 25) {
    let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; requests.length; attempt++) {
      if (attempt === 8) throw new Error(`could not delete ${requests.length} transcript items after ${attempt} attempts (throttled); run the request again`);
      if (attempt) await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2)));
      const out = await deps.doc.send(new BatchWriteCommand({ RequestItems: { [deps.table]: requests } }));
      requests = (out.UnprocessedItems?.[deps.table] ?? []) as typeof requests;
    }
  }
}
