// The console feed against the local stand-in gateway (real SDK client, dynalite table, Redis, WebSocket consoles).
import { ApiGatewayManagementApiClient, DeleteConnectionCommand, GetConnectionCommand, GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { consoleEventSchema, operatorChannel, operatorCommandSchema, type ConsoleEvent } from '../../contracts/console';
import { ConsoleFeed, forConnection, maskCaller, packBatches } from '../../fargate/src/observability/console-feed';
import { createDocumentClient } from '../../fargate/src/store/dynamo';
import { Redis } from '../../fargate/src/store/redis';
import { startConsoleGateway, type ConsoleGateway } from '../../local/console-gateway';
import { ensureConsoleTable, localConsoleHandlers } from '../../local/console-handlers';
import { startLocalBusinessStore, type LocalBusinessStore } from '../../local/tools-server';

const TABLE = 'console-connections-feed-test';
const log = pino({ level: 'silent' });
const SID = 'CA' + 'f'.repeat(32);
const creds = { accessKeyId: 'local', secretAccessKey: 'local' };
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

let ddb: LocalBusinessStore;
let doc: ReturnType<typeof createDocumentClient>;
let gw: ConsoleGateway;
let handlers: ReturnType<typeof localConsoleHandlers>;

beforeAll(async () => {
  ddb = await startLocalBusinessStore();
  doc = createDocumentClient({ region: 'us-east-1', endpoint: ddb.endpoint });
  await ensureConsoleTable(doc, TABLE);
  gw = await startConsoleGateway({ handlers: (managementEndpoint) => (handlers = localConsoleHandlers({ table: TABLE, dynamoEndpoint: ddb.endpoint, redisUrl: REDIS_URL, managementEndpoint })) });
});

afterAll(async () => {
  await gw.close();
  await handlers.close();
  doc.destroy();
  await ddb.close();
});

/** A console on the stand-in: every event it was sent, in order. */
async function openConsole(): Promise<{ ws: WebSocket; events: ConsoleEvent[]; batches: number; id: string }> {
  const before = new Set(gw.connections());
  const ws = new WebSocket(gw.wsUrl);
  const c = { ws, events: [] as ConsoleEvent[], batches: 0, id: '' };
  ws.on('message', (d) => {
    c.batches++;
    for (const e of JSON.parse(d.toString()) as unknown[]) c.events.push(consoleEventSchema.parse(e));
  });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  c.id = gw.connections().find((id) => !before.has(id))!;
  return c;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const turn = (n: number): ConsoleEvent => ({ type: 'turn', callSid: SID, turn: n, at: n, caller: `caller ${n}`, agent: `agent ${n}`, interrupted: false, waterfall: { voiceToVoiceMs: 600 } });

describe('console feed', () => {
  it('posts queued events to every connected console as JSON-array batches', async () => {
    const a = await openConsole();
    const b = await openConsole();
    const feed = new ConsoleFeed({ endpoint: gw.managementEndpoint, region: 'us-east-1', table: TABLE, doc, log, credentials: creds, flushMs: 50 });
    for (let i = 1; i <= 30; i++) feed.publish(turn(i));
    await until(() => a.events.length === 30 && b.events.length === 30);
    expect(a.events.map((e) => (e as { turn: number }).turn)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(a.batches).toBeLessThan(30);
    await feed.close();
    a.ws.close();
    b.ws.close();
  });

  it('strips caller and agent words from turn events for connections without transcript rights', async () => {
    const c = await openConsole();
    await doc.send(new PutCommand({ TableName: TABLE, Item: { ...(await doc.send(new GetCommand({ TableName: TABLE, Key: { connectionId: c.id } }))).Item, transcripts: false } }));
    const feed = new ConsoleFeed({ endpoint: gw.managementEndpoint, region: 'us-east-1', table: TABLE, doc, log, credentials: creds, flushMs: 50 });
    feed.publish(turn(1));
    feed.publish({ type: 'cost', callSid: SID, usd: 0.01, at: 1 });
    await until(() => c.events.length === 2);
    expect(c.events[0]).toMatchObject({ type: 'turn', turn: 1 });
    expect(c.events[0]).not.toHaveProperty('caller');
    expect(c.events[0]).not.toHaveProperty('agent');
    await feed.close();
    c.ws.close();
  });

  it('deletes the row of a connection that answers 410 Gone and stops posting to it', async () => {
    const gone = 'R29uZUNvbm5lY3Q=';
    await doc.send(new PutCommand({ TableName: TABLE, Item: { connectionId: gone, principal: 'local', transcripts: true, connectedAt: Date.now(), expiresAt: Math.floor(Date.now() / 1000) + 600 } }));
    const feed = new ConsoleFeed({ endpoint: gw.managementEndpoint, region: 'us-east-1', table: TABLE, doc, log, credentials: creds, flushMs: 50 });
    feed.publish(turn(1));
    await until(async () => !(await doc.send(new GetCommand({ TableName: TABLE, Key: { connectionId: gone } }))).Item);
    expect(feed.stats().gone).toBe(1);
    feed.publish(turn(2));
    await feed.flush();
    expect(feed.stats().gone).toBe(1);
    await feed.close();
  });

  it('a console that connects mid-call first gets the live calls, not the ended ones', async () => {
    const feed = new ConsoleFeed({ endpoint: gw.managementEndpoint, region: 'us-east-1', table: TABLE, doc, log, credentials: creds, flushMs: 50, connectionsTtlMs: 0 });
    const ended = 'CA' + 'e'.repeat(32);
    feed.publish({ type: 'call-started', callSid: SID, agent: 'booking', caller: '[phone]…01', at: 1 });
    feed.publish({ type: 'call-started', callSid: ended, agent: 'booking', caller: '[phone]…02', at: 1 });
    feed.publish({ type: 'call-ended', callSid: ended, at: 2, escalated: false });
    await feed.flush();
    const late = await openConsole();
    feed.publish({ type: 'cost', callSid: SID, usd: 0.02, at: 3 });
    await until(() => late.events.length === 2);
    expect(late.events.map((e) => e.type)).toEqual(['call-started', 'cost']);
    expect(late.events[0]).toMatchObject({ callSid: SID });
    await feed.close();
    late.ws.close();
  });

  it('publish never waits and drops the oldest events beyond the queue bound, counting them', async () => {
    const feed = new ConsoleFeed({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', table: TABLE, doc, log, credentials: creds, maxQueue: 10, flushMs: 60_000, maxBatch: 1000 });
    for (let i = 1; i <= 25; i++) feed.publish(turn(i));
    expect(feed.stats()).toMatchObject({ published: 25, dropped: 15 });
    await feed.close();
  });

  it('a console endpoint that never answers leaves publish immediate and the post abandoned at its timeout', async () => {
    const hang: Server = createServer(() => undefined);
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    const id = 'SGFuZ2luZ0Nvbm4=';
    await doc.send(new PutCommand({ TableName: TABLE, Item: { connectionId: id, principal: 'local', transcripts: true, connectedAt: Date.now(), expiresAt: Math.floor(Date.now() / 1000) + 600 } }));
    const feed = new ConsoleFeed({ endpoint: `http://127.0.0.1:${(hang.address() as AddressInfo).port}/local`, region: 'us-east-1', table: TABLE, doc, log, credentials: creds, flushMs: 20, postTimeoutMs: 300 });
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) feed.publish(turn(i));
    expect(performance.now() - t0).toBeLessThan(200);
    await until(() => feed.stats().failed >= 1);
    expect(feed.stats().dropped).toBeGreaterThan(0);
    await feed.close();
    hang.closeAllConnections();
    hang.close();
    await doc.send(new (await import('@aws-sdk/lib-dynamodb')).DeleteCommand({ TableName: TABLE, Key: { connectionId: id } }));
  });
});

describe('console stand-in gateway', () => {
  it('answers the SDK management calls like API Gateway: Post, Get, Delete, then 410 GoneException', async () => {
    const c = await openConsole();
    const api = new ApiGatewayManagementApiClient({ region: 'us-east-1', endpoint: gw.managementEndpoint, credentials: creds });
    await api.send(new PostToConnectionCommand({ ConnectionId: c.id, Data: new TextEncoder().encode(JSON.stringify([{ type: 'cost', callSid: SID, usd: 1, at: 1 }])) }));
    await until(() => c.events.length === 1);
    const info = await api.send(new GetConnectionCommand({ ConnectionId: c.id }));
    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.Identity?.SourceIp).toBe('127.0.0.1');
    const closed = new Promise((r) => c.ws.once('close', r));
    await api.send(new DeleteConnectionCommand({ ConnectionId: c.id }));
    await closed;
    await expect(api.send(new PostToConnectionCommand({ ConnectionId: c.id, Data: new Uint8Array([91, 93]) }))).rejects.toBeInstanceOf(GoneException);
    await until(async () => !(await doc.send(new GetCommand({ TableName: TABLE, Key: { connectionId: c.id } }))).Item);
    api.destroy();
  });

  it('stores a row on $connect and publishes a valid operator action on the call channel, acknowledging it', async () => {
    const c = await openConsole();
    const rows = (await doc.send(new ScanCommand({ TableName: TABLE }))).Items ?? [];
    expect(rows.find((r) => r.connectionId === c.id)).toMatchObject({ principal: 'local', transcripts: true });
    const sid = 'CA' + Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32);
    const sub = new Redis(REDIS_URL);
    const got: unknown[] = [];
    sub.on('message', (_ch, msg) => got.push(JSON.parse(msg)));
    await sub.subscribe(operatorChannel(sid));
    c.ws.send(JSON.stringify({ action: 'whisper', id: 'w1', callSid: sid, text: 'offer the 3 pm slot' }));
    c.ws.send(JSON.stringify({ action: 'take-over', id: 'bad', callSid: sid, to: 'not a number' }));
    await until(() => got.length === 1 && c.events.filter((e) => e.type === 'ack').length === 2);
    expect(operatorCommandSchema.parse(got[0])).toMatchObject({ action: { action: 'whisper', text: 'offer the 3 pm slot' }, by: 'local', connectionId: c.id });
    const acks = c.events.filter((e) => e.type === 'ack');
    expect(acks.find((a) => a.id === 'w1')).toMatchObject({ ok: true });
    expect(acks.find((a) => a.id === 'bad')).toMatchObject({ ok: false, error: expect.stringContaining('to') });
    sub.disconnect();
    c.ws.close();
  });
});

describe('console feed helpers', () => {
  it('masks the caller to the phone tag and its last two digits', () => {
    expect(maskCaller('+15551234567')).toBe('[phone]…67');
    expect(maskCaller(undefined)).toBe('unknown');
  });
  it('keeps non-turn events whole for any connection', () => {
    const e: ConsoleEvent = { type: 'tool', callSid: SID, name: 'book', ms: 12, ok: true, at: 1 };
    expect(forConnection(e, false)).toBe(e);
  });
  it('splits batches at the byte budget without losing events', () => {
    const events = Array.from({ length: 100 }, (_, i) => turn(i));
    const packed = packBatches(events, 2000);
    expect(packed.length).toBeGreaterThan(1);
    for (const p of packed) expect(p.length).toBeLessThanOrEqual(2000);
    expect(packed.flatMap((p) => JSON.parse(p) as ConsoleEvent[])).toEqual(events);
  });
});
