// Pins the media server under the attacks and faults of issue 11: upgrade floods, token replay across tasks, dead or silent legs, log/keypad amplifiers, capitalised webhook hosts.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import twilio from 'twilio';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundEvent } from '../../fargate/src/providers/types';
import { createMediaServer, type MediaServer } from '../../fargate/src/server';
import { streamTwiml } from '../../fargate/src/telephony/twiml';
import { connectRedis, type RedisClient } from '../../fargate/src/store/redis';
import { redisStreamClaims } from '../../fargate/src/store/stream-claims';
import { testConfig } from './fixtures/env';
import { openStream, postWebhook, streamParameters, until, type StreamClient } from './fixtures/twilio-peer';

const PUBLIC = 'https://voice.example.test';
const AUTH = 'twilio-auth-token-test';
const FROM = '+15551230001';
const newCallSid = () => 'CA' + randomUUID().replace(/-/g, '');
const frame = (seed: number) => Uint8Array.from({ length: 160 }, (_, i) => (seed * 7 + i) & 0xff);

interface Seen {
  events: InboundEvent[];
  ended: boolean;
  abortReason?: unknown;
}

/** A media server whose handler echoes media and records what it saw; `lines` collects its log output. */
async function serve(env: Record<string, string>, redis?: RedisClient) {
  const seen = new Map<string, Seen>();
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const config = testConfig({ PUBLIC_URL: PUBLIC, TWILIO_AUTH_TOKEN: AUTH, METRICS_PORT: '0', ...env });
  const media = createMediaServer({
    config,
    log,
    agentFor: () => 'booking',
    calls: { update: async () => undefined },
    ...(redis ? { streamClaims: redisStreamClaims(redis, `va:test:${randomUUID()}:`) } : {}),
    async onCall({ start, transport, signal }) {
      const rec: Seen = { events: [], ended: false };
      seen.set(start.callSid, rec);
      signal.addEventListener('abort', () => (rec.abortReason = signal.reason));
      for await (const ev of transport.inbound) {
        rec.events.push(ev);
        if (ev.kind === 'media') transport.play(ev.audio);
      }
      rec.ended = true;
    },
  });
  const port = await media.listen(0);
  return { media, seen, lines, config, base: `http://127.0.0.1:${port}`, wsBase: `ws://127.0.0.1:${port}` };
}
type Served = Awaited<ReturnType<typeof serve>>;

/** The webhook, then a signed stream with the TwiML's Parameters, as Twilio runs a call. */
async function dial(s: Served, callSid = newCallSid()) {
  const hook = await postWebhook(s.base, { authToken: AUTH, publicUrl: PUBLIC, params: { CallSid: callSid, From: FROM, To: '+15550001000' } });
  expect(hook.status).toBe(200);
  const { params } = streamParameters(hook.body);
  const client = await openStream(s.wsBase);
  client.begin({ callSid, customParameters: params });
  return { client, callSid, params };
}

/** A full good call: three frames echoed back, then stop; resolves once its handler ended. */
async function goodCall(s: Served, c: { client: StreamClient; callSid: string }) {
  await until(() => s.seen.has(c.callSid), 5000, 'call start');
  for (let i = 0; i < 3; i++) c.client.media(frame(i));
  await c.client.waitFor((m) => m.event === 'media', 3);
  c.client.stop(c.callSid);
  await until(() => s.seen.get(c.callSid)!.ended, 5000, 'call end');
  expect(s.seen.get(c.callSid)!.events.map((e) => e.kind)).toEqual(['media', 'media', 'media', 'stop']);
}

/** Opens a raw upgrade; resolves with the HTTP status of a refusal, or 101 once open (the socket stays idle). */
function rawUpgrade(wsBase: string, signature: string | undefined, keep: WebSocket[]): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsBase}/media`, { headers: signature ? { 'x-twilio-signature': signature } : {} });
    keep.push(ws);
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(0));
  });
}

describe('upgrade flood (lockout)', () => {
  let s: Served;
  const junk: WebSocket[] = [];
  beforeAll(async () => {
    s = await serve({ MAX_CALLS: '2', MAX_PENDING_STREAMS: '16', STREAM_START_TIMEOUT_MS: '2000' });
  });
  afterAll(async () => {
    for (const ws of junk) ws.terminate();
    await s.media.close();
  });

  it('refuses unsigned or wrongly signed upgrades with 403 before any socket exists', async () => {
    expect(await rawUpgrade(s.wsBase, undefined, junk)).toBe(403);
    expect(await rawUpgrade(s.wsBase, twilio.getExpectedTwilioSignature(AUTH, 'wss://evil.example.test/media', {}), junk)).toBe(403);
    expect(await rawUpgrade(s.wsBase, twilio.getExpectedTwilioSignature('other-token', `wss://voice.example.test/media`, {}), junk)).toBe(403);
  });

  it('accepts and completes a real call in the middle of 200 idle (replayed-signature) and unsigned upgrades', async () => {
    const replayed = twilio.getExpectedTwilioSignature(AUTH, 'wss://voice.example.test/media', {});
    const burst = (n: number) => Array.from({ length: n }, (_, i) => rawUpgrade(s.wsBase, i % 2 ? replayed : undefined, junk));
    const first = burst(100);
    const real = dial(s);
    const second = burst(100);
    const statuses = await Promise.all([...first, ...second]);
    expect(statuses.filter((c) => c === 403)).toHaveLength(100); // every unsigned one
    await goodCall(s, await real);
    // Idle sockets never took a call slot: a second real call after the burst is accepted too.
    await goodCall(s, await dial(s));
    expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
  });

  it('closes a socket that sends no start within STREAM_START_TIMEOUT_MS', async () => {
    const idle = await openStream(s.wsBase);
    expect(await idle.closedWith()).toMatchObject({ code: 1008, reason: 'no start message in time' });
  });
});

describe('stream token replay across tasks (real Redis)', () => {
  let redis: RedisClient;
  let a: Served;
  let b: Served;
  beforeAll(async () => {
    redis = await connectRedis('redis://127.0.0.1:6379');
    a = await serve({ MAX_CALLS: '4' }, redis);
    // Task b shares Redis but not the process: it must see a's claims.
    b = { ...(await serve({ MAX_CALLS: '4' }, redis)) };
    b.media.close = b.media.close.bind(b.media);
  });
  afterAll(async () => {
    await a.media.close();
    await b.media.close();
    await redis.close();
  });

  it('a token opens one stream: a simultaneous replay on another task is closed 1008, and so is a replay after stop', async () => {
    // One Redis prefix per server above would hide replays; give both the same claims store instead.
    const shared = await serveSharedPair(redis);
    try {
      const callSid = newCallSid();
      const hook = await postWebhook(shared[0].base, { authToken: AUTH, publicUrl: PUBLIC, params: { CallSid: callSid, From: FROM, To: '+1555' } });
      const { params } = streamParameters(hook.body);
      const one = await openStream(shared[0].wsBase);
      const two = await openStream(shared[1].wsBase);
      one.begin({ callSid, customParameters: params });
      two.begin({ callSid, customParameters: params });
      await until(() => shared[0].seen.has(callSid) || shared[1].seen.has(callSid), 5000, 'one stream accepted');
      const loser = shared[0].seen.has(callSid) ? two : one;
      const winner = loser === one ? one === two ? one : two : one;
      expect(await loser.closedWith()).toMatchObject({ code: 1008, reason: 'stream token already used' });
      expect(shared[0].seen.has(callSid) && shared[1].seen.has(callSid)).toBe(false);
      winner.stop(callSid);
      await winner.closedWith();
      const again = await openStream(shared[0].wsBase);
      again.begin({ callSid, customParameters: params });
      expect(await again.closedWith()).toMatchObject({ code: 1008, reason: 'stream token already used' });
      // A migration mints a NEW token for the same call (with resume=true): accepted.
      const resumed = streamParameters(streamTwiml(shared[1].config, { callSid, caller: FROM, agent: 'booking', extra: { resume: 'true' } })).params;
      const moved = await openStream(shared[1].wsBase);
      moved.begin({ callSid, customParameters: resumed });
      await until(() => shared[1].seen.has(callSid) && shared[1].seen.get(callSid)!.events.length === 0, 5000, 'resumed stream');
      moved.stop(callSid);
      await moved.closedWith();
    } finally {
      for (const s of shared) await s.media.close();
    }
  });
});

/** Two media servers ("tasks") over one Redis claims namespace. */
async function serveSharedPair(redis: RedisClient): Promise<[Served, Served]> {
  const prefix = `va:test:${randomUUID()}:`;
  const claims = redisStreamClaims(redis, prefix);
  const make = async () => {
    const s = await serve({ MAX_CALLS: '4' });
    await s.media.close();
    const again = createMediaServer({
      config: s.config, log: pino({ level: 'silent' }), agentFor: () => 'booking', calls: { update: async () => undefined }, streamClaims: claims,
      async onCall({ start, transport }) {
        const rec: Seen = { events: [], ended: false };
        s.seen.set(start.callSid, rec);
        for await (const ev of transport.inbound) if (ev.kind !== 'stop') rec.events.push(ev);
        rec.ended = true;
      },
    });
    const port = await again.listen(0);
    return { ...s, media: again, base: `http://127.0.0.1:${port}`, wsBase: `ws://127.0.0.1:${port}` };
  };
  return [await make(), await make()];
}

describe('dead or silent legs', () => {
  it('ends a started stream after MEDIA_SILENCE_SECONDS without media: the inbound just ends, the socket closes 1000', async () => {
    const s = await serve({ MEDIA_SILENCE_SECONDS: '0.4' });
    try {
      const { client, callSid } = await dial(s);
      await until(() => s.seen.has(callSid), 5000, 'call start');
      client.media(frame(1));
      expect(await client.closedWith()).toMatchObject({ code: 1000 });
      const rec = s.seen.get(callSid)!;
      await until(() => rec.ended, 5000, 'handler end');
      expect(rec.events.map((e) => e.kind)).toEqual(['media']);
      expect(rec.abortReason).toBeUndefined(); // ended like a stop, not aborted
      await until(() => s.media.activeCalls() === 0, 5000, 'slot freed');
    } finally {
      await s.media.close();
    }
  });

  it('cuts a peer that stops answering pings, and its call is closed and aborted', async () => {
    const s = await serve({ WS_PING_SECONDS: '0.2', MEDIA_SILENCE_SECONDS: '60' });
    try {
      const callSid = newCallSid();
      const hook = await postWebhook(s.base, { authToken: AUTH, publicUrl: PUBLIC, params: { CallSid: callSid, From: FROM, To: '+1555' } });
      const { params } = streamParameters(hook.body);
      const ws = new WebSocket(`${s.wsBase}/media`, { autoPong: false, headers: { 'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH, 'wss://voice.example.test/media', {}) } });
      await new Promise((r) => ws.once('open', r));
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      const mz = 'MZ' + callSid.slice(2);
      ws.send(JSON.stringify({ event: 'start', streamSid: mz, start: { accountSid: 'AC' + '0'.repeat(32), streamSid: mz, callSid, tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 }, customParameters: params } }));
      await until(() => s.seen.has(callSid), 5000, 'call start');
      expect(await closed).toBe(1006); // terminated, no close frame: a dead peer
      await until(() => s.seen.get(callSid)!.ended, 5000, 'handler end');
      expect(s.seen.get(callSid)!.abortReason).toBe('closed');
    } finally {
      await s.media.close();
    }
  });
});

describe('amplifiers', () => {
  it('logs repeated unknown events a few times per call, not once each', async () => {
    const s = await serve({});
    try {
      const { client, callSid } = await dial(s);
      await until(() => s.seen.has(callSid), 5000, 'call start');
      for (let i = 0; i < 500; i++) client.send({ event: 'hologram', streamSid: client.streamSid });
      client.media(frame(1));
      await until(() => s.seen.get(callSid)!.events.length === 1, 5000, 'media after the flood');
      const logged = s.lines.filter((l) => l.includes('ignored unknown Media Streams event'));
      expect(logged.length).toBe(3 + 5); // 1st–3rd, then 100th…500th
      client.close();
    } finally {
      await s.media.close();
    }
  });

  it('caps keypad digits without # at 32 and lets # through', async () => {
    const s = await serve({});
    try {
      const { client, callSid } = await dial(s);
      await until(() => s.seen.has(callSid), 5000, 'call start');
      for (let i = 0; i < 100; i++) client.dtmf(String(i % 10));
      client.dtmf('#');
      client.dtmf('1');
      await until(() => s.seen.get(callSid)!.events.length === 34, 5000, 'digits');
      const digits = s.seen.get(callSid)!.events.map((e) => (e.kind === 'dtmf' ? e.digit : '?')).join('');
      expect(digits).toBe('01234567890123456789012345678901#1');
      expect(s.lines.filter((l) => l.includes('keypad input too long'))).toHaveLength(1);
      client.close();
    } finally {
      await s.media.close();
    }
  });
});

describe('webhook URL exactly as Twilio calls it (issue 16 item 4)', () => {
  it('accepts a webhook signed for a PUBLIC_URL whose host has capitals (an ALB DNS name)', async () => {
    const albUrl = 'https://Voice-Alb-1234567890.us-east-1.elb.amazonaws.com';
    const s = await serve({ PUBLIC_URL: albUrl });
    try {
      const params = { CallSid: newCallSid(), From: FROM, To: '+1555' };
      const signature = twilio.getExpectedTwilioSignature(AUTH, `${albUrl}/twiml`, params);
      // Reproduction: Twilio's own validator accepts the URL as called and rejects the lowercased origin.
      expect(twilio.validateRequest(AUTH, signature, `${albUrl}/twiml`, params)).toBe(true);
      expect(twilio.validateRequest(AUTH, signature, `${new URL(albUrl).origin}/twiml`, params)).toBe(false);
      const res = await postWebhook(s.base, { authToken: AUTH, publicUrl: albUrl, params });
      expect(res.status).toBe(200);
      expect(streamParameters(res.body).url).toBe('wss://Voice-Alb-1234567890.us-east-1.elb.amazonaws.com/media');
    } finally {
      await s.media.close();
    }
  });
});
