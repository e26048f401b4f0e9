// The console WebSocket Lambdas against dynalite, the real Redis and a local @connections endpoint: rows, auth, publish, acks.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { operatorChannel, operatorCommandSchema } from '../../contracts/console';
import {
  arnMatches,
  CONNECTION_MAX_SECONDS,
  connectionRow,
  consoleHandlers,
  type ConsoleEventIn,
  managementEndpointFor,
  openConsoleDeps,
  type OpenedConsoleDeps,
  parseActionBody,
  readConsoleConfig,
  redisUrlFrom,
} from '../../lambdas/console/handler';
import { REDIS_URL } from './harness';

const dynalite = createRequire(import.meta.url)('dynalite') as (opts?: { createTableMs?: number }) => Server;
const TABLE = 'console-connections';
const NOW = Date.UTC(2026, 11, 2, 1, 0, 0);
const OPERATOR = 'arn:aws:sts::123456789012:assumed-role/Operators/alice';
const READER = 'arn:aws:sts::123456789012:assumed-role/TranscriptReaders/*';

/** A local stand-in for the `POST /@connections/{id}` management endpoint that records what was posted. */
interface Posted {
  path: string;
  connectionId: string;
  body: unknown;
  authorization?: string;
}
let db: Server;
let mgmt: Server;
let mgmtUrl: string;
let posted: Posted[] = [];
let goneIds = new Set<string>();
let deps: OpenedConsoleDeps;
let clock = NOW;

beforeAll(async () => {
  db = dynalite({ createTableMs: 0 });
  await new Promise<void>((r) => db.listen(0, '127.0.0.1', () => r()));
  const endpoint = `http://127.0.0.1:${(db.address() as AddressInfo).port}`;
  const ddb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await ddb.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'connectionId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
    }),
  );
  ddb.destroy();

  mgmt = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const m = /^\/prod\/@connections\/([^/?]+)$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) {
        res.writeHead(404).end();
        return;
      }
      const connectionId = decodeURIComponent(m[1]!);
      if (goneIds.has(connectionId)) {
        res.writeHead(410, { 'content-type': 'application/json', 'x-amzn-errortype': 'GoneException' }).end('{"message":"gone"}');
        return;
      }
      posted.push({ path: req.url!, connectionId, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), authorization: req.headers.authorization });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => mgmt.listen(0, '127.0.0.1', () => r()));
  mgmtUrl = `http://127.0.0.1:${(mgmt.address() as AddressInfo).port}/prod`;

  deps = await openConsoleDeps(
    {
      CONSOLE_CONNECTIONS_TABLE: TABLE,
      DYNAMODB_ENDPOINT: endpoint,
      REDIS_URL,
      CONSOLE_TRANSCRIPT_READERS: ` ${READER} , arn:aws:iam::123456789012:user/bob`,
      CONSOLE_MANAGEMENT_ENDPOINT: mgmtUrl,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    },
    { withRedis: true, credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' }, clock: () => clock },
  );
});
afterAll(async () => {
  await deps?.close();
  await new Promise<void>((r) => mgmt.close(() => r()));
  await new Promise<void>((r) => db.close(() => r()));
});
beforeEach(() => {
  posted = [];
  goneIds = new Set();
  clock = NOW;
});

const handlers = () => consoleHandlers(async () => deps);
const CALL = () => `CA${randomUUID().replaceAll('-', '')}`;

function wsEvent(routeKey: string, connectionId: string, extra: { body?: string; userArn?: string } = {}): ConsoleEventIn {
  return {
    requestContext: {
      routeKey,
      messageId: 'm1',
      eventType: routeKey === '$connect' ? 'CONNECT' : routeKey === '$disconnect' ? 'DISCONNECT' : 'MESSAGE',
      extendedRequestId: 'x',
      requestTime: '02/Dec/2026:01:00:00 +0000',
      messageDirection: 'IN',
      stage: 'prod',
      connectedAt: NOW,
      requestTimeEpoch: NOW,
      requestId: 'r1',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      connectionId,
      apiId: 'abc123',
      ...(extra.userArn ? { identity: { userArn: extra.userArn } } : {}),
    },
    body: extra.body,
    isBase64Encoded: false,
  };
}

async function row(connectionId: string) {
  return (await deps.doc.send(new GetCommand({ TableName: TABLE, Key: { connectionId }, ConsistentRead: true }))).Item;
}

/** Subscribes to `channel` on the real Redis and collects what arrives. */
async function subscribe(channel: string): Promise<{ messages: string[]; close(): Promise<void> }> {
  const sub = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
  const messages: string[] = [];
  sub.on('message', (ch: string, msg: string) => {
    if (ch === channel) messages.push(msg);
  });
  await sub.subscribe(channel);
  return { messages, close: async () => void (await sub.quit()) };
}

describe('pure parts', () => {
  it('matches ARN patterns with * as any run of characters and nothing else as special', () => {
    expect(arnMatches(READER, 'arn:aws:sts::123456789012:assumed-role/TranscriptReaders/carol')).toBe(true);
    expect(arnMatches(READER, OPERATOR)).toBe(false);
    expect(arnMatches('arn:aws:iam::123456789012:user/bob', 'arn:aws:iam::123456789012:user/bobby')).toBe(false);
    expect(arnMatches('arn:aws:iam::1234.6789012:user/x', 'arn:aws:iam::123456789012:user/x')).toBe(false);
    expect(arnMatches('*', OPERATOR)).toBe(true);
  });

  it('gives a row a TTL of the 2-hour WebSocket connection maximum', () => {
    const r = connectionRow('c1', OPERATOR, [], NOW + 999);
    expect(r).toEqual({ connectionId: 'c1', principal: OPERATOR, transcripts: false, connectedAt: NOW / 1000, expiresAt: NOW / 1000 + 7200 });
    expect(CONNECTION_MAX_SECONDS).toBe(7200);
  });

  it('derives the management endpoint from the event when none is configured', () => {
    const ctx = { domainName: 'abc123.execute-api.eu-west-1.amazonaws.com', stage: 'dev' };
    expect(managementEndpointFor({}, ctx)).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com/dev');
    expect(managementEndpointFor({ managementEndpoint: 'http://127.0.0.1:1/x' }, ctx)).toBe('http://127.0.0.1:1/x');
  });

  it('refuses a config without a table or with a management endpoint that is not a URL', () => {
    expect(() => readConsoleConfig({})).toThrow(/CONSOLE_CONNECTIONS_TABLE/);
    expect(() => readConsoleConfig({ CONSOLE_CONNECTIONS_TABLE: 't', CONSOLE_MANAGEMENT_ENDPOINT: 'abc.execute-api' })).toThrow(/CONSOLE_MANAGEMENT_ENDPOINT/);
  });

  it('builds the Redis URL as the tool Lambdas do: REDIS_URL, else TLS host/port with the AUTH token', async () => {
    await expect(redisUrlFrom({ REDIS_URL: 'redis://127.0.0.1:6379' })).resolves.toBe('redis://127.0.0.1:6379');
    await expect(redisUrlFrom({ REDIS_HOST: 'master.x.cache.amazonaws.com', REDIS_PORT: '6380', REDIS_TLS: 'true', REDIS_PASSWORD: 'p@ss/w' })).resolves.toBe(
      'rediss://default:p%40ss%2Fw@master.x.cache.amazonaws.com:6380',
    );
    await expect(redisUrlFrom({})).rejects.toThrow(/REDIS_URL or REDIS_HOST/);
  });

  it('turns bad JSON, an unknown action and invalid arguments into a refusing ack carrying the id', () => {
    expect(parseActionBody('{nope')).toEqual({ ok: false, ack: { type: 'ack', id: '', ok: false, error: 'body is not JSON' } });
    const unknown = parseActionBody(JSON.stringify({ action: 'launch', id: 'a1', callSid: CALL() }));
    expect(unknown).toMatchObject({ ok: false, ack: { id: 'a1', ok: false } });
    const badTo = parseActionBody(JSON.stringify({ action: 'take-over', id: 'a2', callSid: CALL(), to: '5550100' }));
    expect(badTo).toMatchObject({ ok: false, ack: { id: 'a2', ok: false, error: expect.stringContaining('to:') } });
  });
});

describe('$connect and $disconnect', () => {
  it('stores the IAM principal, transcript permission from the reader patterns, and the 2-hour expiry', async () => {
    const h = handlers();
    expect(await h.connect(wsEvent('$connect', 'conn-op=', { userArn: OPERATOR }))).toEqual({ statusCode: 200 });
    expect(await h.connect(wsEvent('$connect', 'conn-reader=', { userArn: 'arn:aws:sts::123456789012:assumed-role/TranscriptReaders/carol' }))).toEqual({ statusCode: 200 });
    expect(await row('conn-op=')).toEqual({ connectionId: 'conn-op=', principal: OPERATOR, transcripts: false, connectedAt: NOW / 1000, expiresAt: NOW / 1000 + 7200 });
    expect(await row('conn-reader=')).toMatchObject({ transcripts: true });
  });

  it('refuses a $connect that carries no IAM identity and stores nothing', async () => {
    expect(await handlers().connect(wsEvent('$connect', 'conn-anon'))).toMatchObject({ statusCode: 403 });
    expect(await row('conn-anon')).toBeUndefined();
  });

  it('deletes the row on $disconnect', async () => {
    const h = handlers();
    await h.connect(wsEvent('$connect', 'conn-bye', { userArn: OPERATOR }));
    await h.disconnect(wsEvent('$disconnect', 'conn-bye'));
    expect(await row('conn-bye')).toBeUndefined();
  });
});

describe('$default (operator actions)', () => {
  it('publishes the command on the call channel and acks ok when the call is live', async () => {
    const h = handlers();
    await h.connect(wsEvent('$connect', 'conn-act=', { userArn: OPERATOR }));
    const callSid = CALL();
    const sub = await subscribe(operatorChannel(callSid));
    try {
      clock = NOW + 5_000;
      const action = { action: 'whisper', id: 'w-1', callSid, text: 'Offer the Thursday slot first.' };
      expect(await h.action(wsEvent('$default', 'conn-act=', { body: JSON.stringify(action) }))).toEqual({ statusCode: 200 });
      await expect.poll(() => sub.messages.length).toBe(1);
      const command = operatorCommandSchema.parse(JSON.parse(sub.messages[0]!));
      expect(command).toEqual({ action, by: OPERATOR, connectionId: 'conn-act=', at: NOW + 5_000 });
      expect(posted).toHaveLength(1);
      expect(posted[0]).toMatchObject({ path: '/prod/@connections/conn-act%3D', connectionId: 'conn-act=', body: [{ type: 'ack', id: 'w-1', ok: true }] });
      // SigV4-signed for execute-api, as API Gateway requires for the @connections API.
      expect(posted[0]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDLOCAL\/\d{8}\/us-east-1\/execute-api\/aws4_request/);
    } finally {
      await sub.close();
    }
  });

  it('acks "call not live" when no task subscribes to the call', async () => {
    const h = handlers();
    await h.connect(wsEvent('$connect', 'conn-dead', { userArn: OPERATOR }));
    await h.action(wsEvent('$default', 'conn-dead', { body: JSON.stringify({ action: 'hang-up', id: 'h-1', callSid: CALL() }) }));
    expect(posted.map((p) => p.body)).toEqual([[{ type: 'ack', id: 'h-1', ok: false, error: 'call not live' }]]);
  });

  it('refuses an action from a connection with no row, or an expired one, and publishes nothing', async () => {
    const h = handlers();
    const callSid = CALL();
    const sub = await subscribe(operatorChannel(callSid));
    try {
      await h.action(wsEvent('$default', 'conn-forged', { body: JSON.stringify({ action: 'hang-up', id: 'f-1', callSid }) }));
      await h.connect(wsEvent('$connect', 'conn-old', { userArn: OPERATOR }));
      clock = NOW + (CONNECTION_MAX_SECONDS + 1) * 1000;
      await h.action(wsEvent('$default', 'conn-old', { body: JSON.stringify({ action: 'hang-up', id: 'f-2', callSid }) }));
      expect(posted.map((p) => [p.connectionId, p.body])).toEqual([
        ['conn-forged', [{ type: 'ack', id: 'f-1', ok: false, error: 'not authorized: no console connection' }]],
        ['conn-old', [{ type: 'ack', id: 'f-2', ok: false, error: 'not authorized: no console connection' }]],
      ]);
      await new Promise((r) => setTimeout(r, 100));
      expect(sub.messages).toEqual([]);
    } finally {
      await sub.close();
    }
  });

  it('acks bad input without throwing or publishing', async () => {
    const h = handlers();
    await h.connect(wsEvent('$connect', 'conn-bad', { userArn: OPERATOR }));
    await h.action(wsEvent('$default', 'conn-bad', { body: 'not json' }));
    await h.action(wsEvent('$default', 'conn-bad', { body: JSON.stringify({ action: 'whisper', id: 'b-1', callSid: 'CA-nope', text: 'x' }) }));
    expect(posted.map((p) => p.body)).toEqual([
      [{ type: 'ack', id: '', ok: false, error: 'body is not JSON' }],
      [{ type: 'ack', id: 'b-1', ok: false, error: expect.stringContaining('callSid') }],
    ]);
  });

  it('returns normally when the sender is gone before its ack (410), and logs only other delivery failures', async () => {
    const warnings: unknown[] = [];
    // A recorder in place of the Powertools logger, for the three levels the handlers use.
    const log = { info: () => undefined, error: () => undefined, warn: (...a: unknown[]) => void warnings.push(a) } as unknown as typeof deps.log;
    const h = consoleHandlers(async () => ({ ...deps, log }));
    await h.connect(wsEvent('$connect', 'conn-gone', { userArn: OPERATOR }));
    goneIds.add('conn-gone');
    const hangUp = JSON.stringify({ action: 'hang-up', id: 'g-1', callSid: CALL() });
    await expect(h.action(wsEvent('$default', 'conn-gone', { body: hangUp }))).resolves.toEqual({ statusCode: 200 });
    expect(posted).toEqual([]);
    // The SDK maps the 410 to GoneException: an expected end, not worth a warning.
    expect(warnings).toEqual([]);
    // An endpoint that is not there at all (404 from the stand-in) is a real failure: logged, still not thrown.
    const elsewhere = consoleHandlers(async () => ({ ...deps, log, config: { ...deps.config, managementEndpoint: mgmtUrl.replace('/prod', '/nowhere') } }));
    await expect(elsewhere.action(wsEvent('$default', 'conn-gone', { body: hangUp }))).resolves.toEqual({ statusCode: 200 });
    expect(warnings).toHaveLength(1);
  });
});
