// A console that never reads, and PostToConnection calls that hang or fail, leave a live call as it is without a console.
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { CallReport } from '../../local/caller/caller';
import { loadScenario } from '../../local/scenarios/scenario';
import type { LocalStack } from '../../local/stack';
import { createDocumentClient } from '../../fargate/src/store/dynamo';
import { call, settled, stackFor } from './helpers';

const booking = loadScenario('booking');
const HANGS = 'SGFuZ3NGb3JldmVy';
const FAILS = 'RmFpbHNBbHdheXM=';

/**
 * The media service's management endpoint for this test: PostToConnection to HANGS never answers, to FAILS gets a
 * 500, and everything else goes on to the stand-in gateway (where one console never reads its socket).
 */
let chaos: Server;
let gatewayEndpoint = '';
const hits = { hangs: 0, fails: 0, forwarded: 0 };
let stack: LocalStack;

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  chaos = createServer(async (req, res) => {
    const id = decodeURIComponent(req.url!.split('/@connections/')[1] ?? '');
    const data = await body(req);
    if (id === HANGS) return void hits.hangs++;
    if (id === FAILS) {
      hits.fails++;
      return void res.writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'InternalServerErrorException' }).end('{"message":"boom"}');
    }
    hits.forwarded++;
    try {
      const r = await fetch(`${gatewayEndpoint}/@connections/${encodeURIComponent(id)}`, { method: req.method, body: req.method === 'POST' ? data : undefined });
      res.writeHead(r.status, Object.fromEntries(r.headers)).end(Buffer.from(await r.arrayBuffer()));
    } catch {
      res.writeHead(502).end();
    }
  });
  await new Promise<void>((r) => chaos.listen(0, '127.0.0.1', () => r()));
  stack = await stackFor(booking, { console: true, env: { CONSOLE_MANAGEMENT_ENDPOINT: `http://127.0.0.1:${(chaos.address() as AddressInfo).port}/local` } });
  gatewayEndpoint = stack.console!.managementEndpoint;
});

afterAll(async () => {
  await stack?.close();
  chaos?.closeAllConnections();
  chaos?.close();
});

const v2v = (r: CallReport) => r.turns.filter((t) => t.kind === 'say').map((t) => t.voiceToVoiceMs ?? NaN);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('console isolation', () => {
  it('a never-reading console and hanging or failing PostToConnection leave the call unchanged', { timeout: 150_000 }, async () => {
    // Baseline: no console connected.
    const quiet = await call(stack, booking);
    await settled(stack, quiet.callSid);

    // A console that connects and then never reads, plus two connections whose posts hang or fail.
    const deaf = new WebSocket(stack.console!.wsUrl);
    await new Promise((r, j) => (deaf.once('open', r), deaf.once('error', j)));
    (deaf as unknown as { _socket: { pause(): void } })._socket.pause();
    const doc = createDocumentClient({ region: 'us-east-1', endpoint: stack.dynamoEndpoint });
    const row = (connectionId: string) => ({ connectionId, principal: 'local', transcripts: true, connectedAt: Date.now(), expiresAt: Math.floor(Date.now() / 1000) + 600 });
    for (const id of [HANGS, FAILS]) await doc.send(new PutCommand({ TableName: stack.consoleTable!, Item: row(id) }));
    doc.destroy();

    const watched = await call(stack, booking);
    await settled(stack, watched.callSid);
    deaf.terminate();

    // The console path was exercised: posts hung, failed and reached the deaf console.
    expect(hits.hangs).toBeGreaterThan(0);
    expect(hits.fails).toBeGreaterThan(0);
    expect(hits.forwarded).toBeGreaterThan(0);

    for (const r of [quiet, watched]) {
      expect(r.ok).toBe(true);
      expect(r.completed).toBe(true);
    }
    // Same turns, each answered, no apology line (the profile's "having trouble on my end"), no hand-off; the
    // words may differ where the business data moved on (the first call booked the slot the second asks for).
    expect(watched.turns.map((t) => [t.kind, t.input, t.ok, t.heard.length > 0])).toEqual(quiet.turns.map((t) => [t.kind, t.input, t.ok, t.heard.length > 0]));
    expect(watched.heard.toLowerCase()).not.toContain('having trouble');
    expect(watched.transferred).toBeUndefined();
    const stored = async (sid: string) => (await stack.transcript(sid)).filter((t) => Number(t.turn) > 0).map((t) => t.role);
    expect(await stored(watched.callSid)).toEqual(await stored(quiet.callSid));
    const [a, b] = [v2v(quiet), v2v(watched)];
    expect(b.every(Number.isFinite)).toBe(true);
    console.info(`v2v ms without console ${a.join(', ')} | with deaf/hanging/failing consoles ${b.join(', ')}; frames sent ${quiet.framesSent} vs ${watched.framesSent}`);
    // The emulators' own jitter between two identical calls is a few tens of ms; a delayed frame path would add
    // far more. 250 ms on the mean is well above that jitter and well below any real stall.
    expect(Math.abs(mean(b) - mean(a))).toBeLessThan(250);
    // Agent audio kept playing in every turn of the watched call (the words, hence the frame counts, differ with the data).
    expect(watched.turns.every((t) => t.agentAudioMs > 0)).toBe(true);
  });
});
