// Pins the media server on a real port: health/ready, the signed TwiML webhook, token-gated streams, isolation of bad frames, capacity and drain.
import http from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundEvent } from '../../fargate/src/providers/types';
import { createMediaServer, type MediaServer, type StreamStart } from '../../fargate/src/server';
import { startTwilioEmulator, type TwilioEmulator } from '../../local/emulators/twilio';
import { claimsFromParameters, signStreamToken, verifyStreamToken } from '../../fargate/src/telephony/stream-token';
import { payActionUrl, payOutcomeFromStream } from '../../fargate/src/telephony/pay';
import { dialTwiml } from '../../fargate/src/telephony/twiml';
import { testConfig } from './fixtures/env';
import { openStream, postWebhook, streamParameters, until, type StreamClient } from './fixtures/twilio-peer';

const log = pino({ level: 'silent' });
const PUBLIC = 'https://voice.example.test';
const AUTH = 'twilio-auth-token-test';
const FROM = '+15551230001';
let sidCounter = 0;
const newCallSid = () => 'CA' + String(++sidCounter).padStart(32, '0');
const frame = (seed: number) => Uint8Array.from({ length: 160 }, (_, i) => (seed * 31 + i) & 0xff);

/** What the test handler saw of each call. */
interface Seen {
  start: StreamStart;
  events: InboundEvent[];
  abortReason?: unknown;
  ended: boolean;
}

function startServer(env: Record<string, string>, metrics?: { contentType: string; render(): Promise<string> }) {
  const seen = new Map<string, Seen>();
  const media = createMediaServer({
    config: testConfig({ PUBLIC_URL: PUBLIC, TWILIO_AUTH_TOKEN: AUTH, METRICS_PORT: '0', ...env }),
    log,
    agentFor: (to) => (to === '+15550002000' ? 'support' : 'booking'),
    ...(metrics ? { metrics } : {}),
    async onCall({ start, transport, signal }) {
      const rec: Seen = { start, events: [], ended: false };
      seen.set(start.callSid, rec);
      signal.addEventListener('abort', () => (rec.abortReason = signal.reason));
      for await (const ev of transport.inbound) {
        rec.events.push(ev);
        if (ev.kind === 'media') transport.play(ev.audio);
        if (ev.kind === 'dtmf' && ev.digit === '#') {
          transport.mark('after-echo');
          transport.clear();
        }
        if (ev.kind === 'dtmf' && ev.digit === '0') await transport.transfer(dialTwiml('+15557654321'));
        if (ev.kind === 'dtmf' && ev.digit === '9') return; // the agent ends the call itself
        if (ev.kind === 'dtmf' && ev.digit === '7') throw new Error('handler bug');
        if (ev.kind === 'dtmf' && ev.digit === '8') await new Promise((r) => setTimeout(r, 60_000)); // stuck handler
        if (ev.kind === 'dtmf' && ev.digit === '6') await new Promise((r) => setTimeout(r, 300)); // slow consumer
      }
      rec.ended = true;
    },
  });
  return { media, seen };
}

describe('media server', () => {
  let main: ReturnType<typeof startServer>;
  let base = '';
  let wsBase = '';
  const open: StreamClient[] = [];

  let rest: TwilioEmulator;

  beforeAll(async () => {
    // The local Twilio REST emulator stands in for api.twilio.com; the server reaches it through the twilio SDK.
    const cfg = testConfig();
    rest = await startTwilioEmulator({ accountSid: cfg.TWILIO_ACCOUNT_SID, authToken: AUTH });
    main = startServer(
      { MAX_CALLS: '10', TWILIO_API_URL: rest.url },
      { contentType: 'text/plain; version=0.0.4', render: async () => `voice_active_calls ${main.media.activeCalls()}\n` },
    );
    const port = await main.media.listen(0);
    base = `http://127.0.0.1:${port}`;
    wsBase = `ws://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    for (const c of open) c.close();
    await main.media.close();
    await rest.close();
  });

  /** Answers the webhook like Twilio, then opens the stream with the Parameters the TwiML carried. */
  async function dial(opts: { to?: string; callSid?: string } = {}) {
    const callSid = opts.callSid ?? newCallSid();
    const hook = await postWebhook(base, {
      authToken: AUTH,
      publicUrl: PUBLIC,
      params: { CallSid: callSid, AccountSid: 'AC' + '0'.repeat(32), From: FROM, To: opts.to ?? '+15550001000', CallStatus: 'ringing', ApiVersion: '2010-04-01', Direction: 'inbound' },
    });
    expect(hook.status).toBe(200);
    const { params } = streamParameters(hook.body);
    const client = await openStream(wsBase);
    open.push(client);
    client.begin({ callSid, customParameters: params });
    return { client, callSid, params };
  }

  describe('HTTP', () => {
    it('answers /healthz with 200', async () => {
      const res = await fetch(`${base}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('ok');
    });

    it('answers /ready with 200 and the call count while it has room', async () => {
      const res = await fetch(`${base}/ready`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ready: true, draining: false, maxCalls: 10 });
    });

    it('answers 404 for unknown paths and 405 for the wrong method', async () => {
      expect((await fetch(`${base}/nope`)).status).toBe(404);
      expect((await fetch(`${base}/twiml`)).status).toBe(405);
    });

    it('serves /metrics (and /ready) only on the internal METRICS_PORT listener, not on the public one', async () => {
      expect((await fetch(`${base}/metrics`)).status).toBe(404);
      const internal = `http://127.0.0.1:${main.media.metricsPort()}`;
      const res = await fetch(`${internal}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4');
      expect(await res.text()).toMatch(/^voice_active_calls \d+\n$/);
      expect((await fetch(`${internal}/ready`)).status).toBe(200);
    });
  });

  describe('POST /twiml', () => {
    const params = { CallSid: 'CA' + 'f'.repeat(32), From: FROM, To: '+15550002000', AccountSid: 'AC' + '0'.repeat(32) };

    it('answers a correctly signed webhook with <Connect><Stream> carrying agent, caller and a token for this call', async () => {
      const res = await postWebhook(base, { authToken: AUTH, publicUrl: PUBLIC, params });
      expect(res.status).toBe(200);
      expect(res.type).toBe('text/xml');
      expect(res.body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response><Connect><Stream url="wss:\/\/voice\.example\.test\/media">/);
      const { url, params: p } = streamParameters(res.body);
      expect(new URL(url).search).toBe('');
      expect(Object.keys(p)).toEqual(['agent', 'caller', 'token']);
      expect(p).toMatchObject({ agent: 'support', caller: FROM });
      const key = testConfig().STREAM_TOKEN_KEY;
      expect(verifyStreamToken(key, p.token, { callSid: params.CallSid, caller: FROM, agent: 'support' }).ok).toBe(true);
    });

    it('refuses a forged signature with 403', async () => {
      const res = await postWebhook(base, { authToken: 'not-the-token', publicUrl: PUBLIC, params });
      expect(res.status).toBe(403);
      expect(res.body).not.toContain('<Response>');
    });

    it('refuses a missing signature with 403', async () => {
      expect((await postWebhook(base, { authToken: AUTH, publicUrl: PUBLIC, params, signature: null })).status).toBe(403);
    });

    it('refuses a signature made for another URL or over other params', async () => {
      expect((await postWebhook(base, { authToken: AUTH, publicUrl: 'https://evil.example.test', params })).status).toBe(403);
      const sigForOther = (await import('twilio')).default.getExpectedTwilioSignature(AUTH, `${PUBLIC}/twiml`, { ...params, To: '+15550001000' });
      expect((await postWebhook(base, { authToken: AUTH, publicUrl: PUBLIC, params, signature: sigForOther })).status).toBe(403);
    });

    it('refuses an oversized body with 413', async () => {
      const big = { ...params, Junk: 'x'.repeat(70 * 1024) };
      expect((await postWebhook(base, { authToken: AUTH, publicUrl: PUBLIC, params: big })).status).toBe(413);
    });

    it('refuses an oversized chunked body (no Content-Length) with 413', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${base}/twiml`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'x' } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        for (let i = 0; i < 70; i++) req.write(`Junk${i}=${'x'.repeat(1024)}&`);
        req.end();
      });
      expect(status).toBe(413);
    });

    describe('/pay-result', () => {
      const twilioSdk = async () => (await import('twilio')).default;
      const key = testConfig().STREAM_TOKEN_KEY;
      async function postPay(action: string, pay: Record<string, string>, signature?: string) {
        const sig = signature ?? (await twilioSdk()).getExpectedTwilioSignature(AUTH, action, pay);
        const u = new URL(action);
        return fetch(`${base}${u.pathname}${u.search}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig },
          body: new URLSearchParams(pay).toString(),
        });
      }

      it('resumes the call after <Pay> with the outcome, the amount from the signed action URL and a resume token; no card data', async () => {
        const action = payActionUrl(PUBLIC, key, { callSid: params.CallSid, amount: '42.50' });
        const pay = { ...params, Result: 'success', PaymentConfirmationCode: 'ch_a9dc6297', PaymentCardNumber: 'xxxx-xxxx-xxxx-1111', PaymentToken: 'tok_123' };
        const res = await postPay(action, pay);
        expect(res.status).toBe(200);
        const body = await res.text();
        const { params: p } = streamParameters(body);
        expect(p).toMatchObject({ agent: 'support', caller: FROM, resume: 'true', payResult: 'success', payAmount: '42.50', payConfirmationCode: 'ch_a9dc6297' });
        expect(verifyStreamToken(key, p.token, claimsFromParameters(params.CallSid, p)).ok).toBe(true);
        expect(payOutcomeFromStream(p)).toMatchObject({ ok: true, sentence: expect.stringContaining('42.50') });
        expect(body).not.toContain('1111');
        expect(body).not.toContain('tok_123');
      });

      it('refuses a forged signature, a missing or tampered pay token, and a pay token minted for another call', async () => {
        const action = payActionUrl(PUBLIC, key, { callSid: params.CallSid, amount: '42.50' });
        const pay = { ...params, Result: 'success' };
        expect((await postPay(action, pay, 'AAAA')).status).toBe(403);
        expect((await postPay(`${PUBLIC}/pay-result`, pay)).status).toBe(403);
        expect((await postPay(action.replace(/\.[^.]+$/, '.' + 'A'.repeat(43)), pay)).status).toBe(403);
        const other = payActionUrl(PUBLIC, key, { callSid: 'CA' + 'e'.repeat(32), amount: '1.00' });
        expect((await postPay(other, pay)).status).toBe(403);
      });
    });

    it('answers 400 to a signed webhook without CallSid', async () => {
      expect((await postWebhook(base, { authToken: AUTH, publicUrl: PUBLIC, params: { From: FROM, To: '+15550001000' } })).status).toBe(400);
    });
  });

  describe('/media streams', () => {
    it('refuses an upgrade on another path with 404', async () => {
      await expect(openStream(wsBase, '/elsewhere')).rejects.toMatchObject({ status: 404 });
    });

    it('runs a call: start reaches the handler, media is decoded in order, dtmf and mark arrive, stop ends it', async () => {
      const { client, callSid, params } = await dial();
      await until(() => main.seen.has(callSid), 5000, 'handler call');
      expect(main.media.activeCalls()).toBeGreaterThanOrEqual(1);
      const rec = main.seen.get(callSid)!;
      expect(rec.start).toMatchObject({ callSid, streamSid: client.streamSid, accountSid: 'AC' + '0'.repeat(32), agent: 'booking', caller: FROM, customParameters: params });
      expect(rec.start.startedAt).toBeGreaterThan(0);

      client.media(frame(1));
      client.media(frame(2));
      client.dtmf('5');
      client.mark('heard-1');
      client.stop(callSid);
      await until(() => rec.ended, 5000, 'handler end');
      expect(rec.events).toEqual([
        { kind: 'media', audio: frame(1), timestampMs: 0 },
        { kind: 'media', audio: frame(2), timestampMs: 20 },
        { kind: 'dtmf', digit: '5' },
        { kind: 'mark', name: 'heard-1' },
        { kind: 'stop' },
      ]);
      expect(rec.abortReason).toBe('stop');
      // The handler echoed each frame back as an outbound media message on this stream.
      const echoed = await client.waitFor((m) => m.event === 'media', 2);
      expect(echoed.map((m) => [m.streamSid, Buffer.from((m.media as { payload: string }).payload, 'base64')])).toEqual([
        [client.streamSid, Buffer.from(frame(1))],
        [client.streamSid, Buffer.from(frame(2))],
      ]);
      // The handler returned, so the server closed the socket normally.
      expect((await client.closedWith()).code).toBe(1000);
    });

    it('loses no inbound event while the handler is busy', async () => {
      const { client, callSid } = await dial();
      client.dtmf('6');
      for (let i = 0; i < 50; i++) client.media(frame(i));
      client.stop(callSid);
      await until(() => main.seen.get(callSid)?.ended === true, 5000, 'handler end');
      const evs = main.seen.get(callSid)!.events;
      expect(evs).toHaveLength(52);
      expect(evs.slice(1, 51)).toEqual(Array.from({ length: 50 }, (_, i) => ({ kind: 'media', audio: frame(i), timestampMs: i * 20 })));
    });

    it('sends mark and clear in the documented shapes', async () => {
      const { client } = await dial();
      client.dtmf('#');
      const [mark] = await client.waitFor((m) => m.event === 'mark');
      const [clear] = await client.waitFor((m) => m.event === 'clear');
      expect(mark).toEqual({ event: 'mark', streamSid: client.streamSid, mark: { name: 'after-echo' } });
      expect(clear).toEqual({ event: 'clear', streamSid: client.streamSid });
      client.close();
    });

    it('transfers a live call through the twilio SDK to TWILIO_API_URL', async () => {
      const { client, callSid } = await dial();
      client.dtmf('0');
      await until(() => rest.requests.some((r) => r.callSid === callSid), 5000, 'REST update');
      expect(rest.requests.filter((r) => r.callSid === callSid).map((r) => r.params)).toEqual([{ Twiml: dialTwiml('+15557654321') }]);
      client.close();
    });

    it('counts a call until its socket closes, and aborts its signal on close', async () => {
      await until(() => main.media.activeCalls() === 0, 5000, 'earlier calls to end');
      const { client, callSid } = await dial();
      await until(() => main.media.activeCalls() === 1, 5000, 'call counted');
      client.close();
      await until(() => main.media.activeCalls() === 0, 5000, 'call uncounted');
      await until(() => main.seen.get(callSid)?.ended === true, 5000, 'handler end');
      expect(main.seen.get(callSid)!.abortReason).toBe('closed');
    });

    it('closes the stream when the handler returns', async () => {
      const { client } = await dial();
      client.dtmf('9');
      expect((await client.closedWith()).code).toBe(1000);
    });

    it('closes only that stream when its handler throws', async () => {
      const other = await dial();
      const { client } = await dial();
      client.dtmf('7');
      expect((await client.closedWith()).code).toBe(1000);
      other.client.media(frame(7));
      await other.client.waitFor((m) => m.event === 'media');
      other.client.close();
    });

    describe('stream token', () => {
      const key = testConfig().STREAM_TOKEN_KEY;

      async function startWith(customParameters: Record<string, string>, callSid: string) {
        const calls = main.seen.size;
        const client = await openStream(wsBase);
        open.push(client);
        client.begin({ callSid, customParameters });
        const closed = await client.closedWith();
        expect(main.seen.size).toBe(calls); // the handler never ran
        expect(main.seen.has(callSid)).toBe(false);
        return closed;
      }

      it('closes a start without a token with 1008 and never calls the handler', async () => {
        expect(await startWith({ agent: 'booking', caller: FROM }, newCallSid())).toMatchObject({ code: 1008, reason: 'stream token missing' });
      });

      it('closes a start with a forged token with 1008', async () => {
        const callSid = newCallSid();
        const token = signStreamToken('f'.repeat(40), { callSid, caller: FROM, agent: 'booking' }, 60);
        expect(await startWith({ agent: 'booking', caller: FROM, token }, callSid)).toMatchObject({ code: 1008, reason: 'stream token forged' });
      });

      it('closes a start with an expired token with 1008', async () => {
        const callSid = newCallSid();
        const token = signStreamToken(key, { callSid, caller: FROM, agent: 'booking' }, 60, Date.now() - 61_000);
        expect(await startWith({ agent: 'booking', caller: FROM, token }, callSid)).toMatchObject({ code: 1008, reason: 'stream token expired' });
      });

      it('closes a start whose token was minted for another call with 1008', async () => {
        const token = signStreamToken(key, { callSid: newCallSid(), caller: FROM, agent: 'booking' }, 60);
        expect(await startWith({ agent: 'booking', caller: FROM, token }, newCallSid())).toMatchObject({ code: 1008, reason: 'stream token forged' });
      });

      it('closes a start that swapped the agent parameter with 1008', async () => {
        const callSid = newCallSid();
        const token = signStreamToken(key, { callSid, caller: FROM, agent: 'booking' }, 60);
        expect(await startWith({ agent: 'admin', caller: FROM, token }, callSid)).toMatchObject({ code: 1008 });
      });
    });

    describe('a bad frame closes only its own stream', () => {
      /** A healthy call that must keep working while another misbehaves. */
      async function withBystander(misbehave: (c: StreamClient) => void, expectedCode: number) {
        const good = await dial();
        await until(() => main.seen.has(good.callSid), 5000, 'bystander start');
        const badClient = await openStream(wsBase);
        open.push(badClient);
        misbehave(badClient);
        expect((await badClient.closedWith()).code).toBe(expectedCode);
        good.client.media(frame(42));
        await until(() => main.seen.get(good.callSid)!.events.some((e) => e.kind === 'media'), 5000, 'bystander media');
        expect(main.seen.get(good.callSid)!.events).toEqual([{ kind: 'media', audio: frame(42), timestampMs: 0 }]);
        expect(good.client.closed).toBeUndefined();
        good.client.close();
      }
      /** Starts a valid call on `c`; resolves with its callSid once the handler runs. */
      const started = async (c: StreamClient) => {
        const callSid = newCallSid();
        const hook = await postWebhook(base, { authToken: AUTH, publicUrl: PUBLIC, params: { CallSid: callSid, From: FROM, To: '+15550001000' } });
        c.begin({ callSid, customParameters: streamParameters(hook.body).params });
        await until(() => main.seen.has(callSid), 5000, 'start');
        return callSid;
      };

      it('malformed JSON → 1007', () => withBystander((c) => c.sendRaw('{"event":"media",'), 1007));

      it('an oversized frame → 1009', () => withBystander((c) => c.sendRaw(JSON.stringify({ event: 'media', pad: 'x'.repeat(70 * 1024) })), 1009));

      it('media before start → 1008', () =>
        withBystander((c) => {
          c.streamSid = 'MZ1';
          c.media(frame(1));
        }, 1008));

      it('a binary frame → 1003', () => withBystander((c) => c.sendRaw(Buffer.from([1, 2, 3])), 1003));

      it('a malformed message mid-call (odd DTMF digit, media that is not base64) is dropped and the call goes on', async () => {
        const { client, callSid } = await dial();
        await until(() => main.seen.has(callSid), 5000, 'call start');
        client.dtmf('Z');
        client.send({ event: 'media', streamSid: client.streamSid, media: { track: 'inbound', chunk: '1', timestamp: '0', payload: '!!notbase64!!' } });
        client.send({ event: 'media', streamSid: client.streamSid, sequenceNumber: 'seven', media: { track: 5, chunk: 'x', timestamp: '0', payload: '' } });
        client.dtmf('5');
        await until(() => main.seen.get(callSid)!.events.length === 2, 5000, 'the good messages');
        expect(main.seen.get(callSid)!.events).toEqual([{ kind: 'media', audio: new Uint8Array(0), timestampMs: 0 }, { kind: 'dtmf', digit: '5' }]);
        expect(client.closed).toBeUndefined();
        client.close();
      });

      it('malformed JSON mid-call → 1007, and that call is aborted', async () => {
        let badSid: Promise<string> | undefined;
        await withBystander((c) => {
          badSid = started(c).then((sid) => (c.sendRaw('not json'), sid));
        }, 1007);
        const bad = main.seen.get(await badSid!)!;
        await until(() => bad.ended, 5000, 'bad call handler to end');
        expect(bad.abortReason).toBe('protocol violation');
      });
    });

    it('ignores an unknown event and keeps the call going', async () => {
      const { client, callSid } = await dial();
      client.send({ event: 'hologram', streamSid: client.streamSid });
      client.media(frame(3));
      await until(() => (main.seen.get(callSid)?.events.length ?? 0) === 1, 5000, 'media after unknown event');
      expect(main.seen.get(callSid)!.events).toEqual([{ kind: 'media', audio: frame(3), timestampMs: 0 }]);
      expect(client.closed).toBeUndefined();
      client.close();
    });
  });
});

describe('capacity and drain', () => {
  let srv: ReturnType<typeof startServer>;
  let media: MediaServer;
  let base = '';
  let wsBase = '';
  const clients: StreamClient[] = [];
  const key = testConfig().STREAM_TOKEN_KEY;

  beforeAll(async () => {
    srv = startServer({ MAX_CALLS: '1' });
    media = srv.media;
    const port = await media.listen(0);
    base = `http://127.0.0.1:${port}`;
    wsBase = `ws://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await media.close();
  });

  async function call() {
    const callSid = newCallSid();
    const client = await openStream(wsBase);
    clients.push(client);
    client.begin({ callSid, customParameters: { agent: 'booking', caller: FROM, token: signStreamToken(key, { callSid, caller: FROM, agent: 'booking' }, 60) } });
    await until(() => srv.seen.has(callSid), 5000, 'call start');
    return { client, callSid };
  }

  it('answers /ready 503 and refuses upgrades with 503 at MAX_CALLS, and recovers when the call ends', async () => {
    const { client, callSid } = await call();
    expect(media.activeCalls()).toBe(1);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, draining: false, activeCalls: 1, maxCalls: 1 });
    await expect(openStream(wsBase)).rejects.toMatchObject({ status: 503 });
    client.stop(callSid);
    await client.closedWith();
    await until(async () => (await fetch(`${base}/ready`)).status === 200, 5000, 'ready again');
    expect(media.activeCalls()).toBe(0);
  });

  it('drains: refuses new calls, lets the active one finish, then resolves', async () => {
    const { client, callSid } = await call();
    let drained = false;
    const draining = media.drain(10_000).then(() => (drained = true));
    expect((await fetch(`${base}/ready`)).status).toBe(503);
    await expect(openStream(wsBase)).rejects.toMatchObject({ status: 503 });
    // The active call still works while draining.
    client.media(frame(9));
    await client.waitFor((m) => m.event === 'media');
    expect(drained).toBe(false);
    client.stop(callSid);
    await draining;
    expect(srv.seen.get(callSid)!.ended).toBe(true);
    expect(media.activeCalls()).toBe(0);
  });
});

describe('local PUBLIC_URL', () => {
  it('points the Stream at ws:// when PUBLIC_URL is plain http (the local kit on loopback)', async () => {
    const srv = startServer({ PUBLIC_URL: 'http://127.0.0.1:8080' });
    const port = await srv.media.listen(0);
    const res = await postWebhook(`http://127.0.0.1:${port}`, { authToken: AUTH, publicUrl: 'http://127.0.0.1:8080', params: { CallSid: newCallSid(), From: FROM, To: '+1555' } });
    expect(res.status).toBe(200);
    expect(streamParameters(res.body).url).toBe('ws://127.0.0.1:8080/media');
    await srv.media.close();
  });
});

describe('drain timeout', () => {
  it('aborts calls still running after the timeout and closes their sockets with 1001', async () => {
    const srv = startServer({ MAX_CALLS: '2' });
    const port = await srv.media.listen(0);
    const callSid = newCallSid();
    const key = testConfig().STREAM_TOKEN_KEY;
    const client = await openStream(`ws://127.0.0.1:${port}`);
    client.begin({ callSid, customParameters: { agent: 'booking', caller: FROM, token: signStreamToken(key, { callSid, caller: FROM, agent: 'booking' }, 60) } });
    await until(() => srv.seen.has(callSid), 5000, 'call start');
    await srv.media.drain(200);
    expect(srv.seen.get(callSid)!.abortReason).toBe('drain timeout');
    expect((await client.closedWith()).code).toBe(1001);
    expect(srv.media.activeCalls()).toBe(0);
    await srv.media.close();
  });
});
