// Pins the call transport: lossless bounded inbound queue, 160-byte outbound frames, and call updates through the real twilio SDK.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundEvent } from '../../fargate/src/providers/types';
import { createCallControl, FRAME_BYTES, TwilioTransport } from '../../fargate/src/telephony/twilio-transport';
import { startTwilioEmulator, type TwilioEmulator } from '../../local/emulators/twilio';

const log = pino({ level: 'silent' });
const ACCOUNT = 'AC' + 'a'.repeat(32);
const CALL = 'CA' + 'b'.repeat(32);
const media = (n: number): InboundEvent => ({ kind: 'media', audio: Uint8Array.of(n), timestampMs: n * 20 });

function transport(opts: { maxQueued?: number; sent?: string[]; calls?: ReturnType<typeof createCallControl> } = {}) {
  const sent = opts.sent ?? [];
  return new TwilioTransport({
    streamSid: 'MZ1',
    callSid: CALL,
    send: (t) => sent.push(t),
    calls: opts.calls ?? { update: () => Promise.reject(new Error('no REST in this test')) },
    log,
    ...(opts.maxQueued ? { maxQueued: opts.maxQueued } : {}),
  });
}

async function drain(it: AsyncIterable<InboundEvent>): Promise<InboundEvent[]> {
  const out: InboundEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

describe('inbound queue', () => {
  it('keeps every event for a consumer that starts late, in order, and ends after them', async () => {
    const t = transport();
    const evs: InboundEvent[] = [...Array.from({ length: 100 }, (_, i) => media(i)), { kind: 'dtmf', digit: '5' }, { kind: 'stop' }];
    for (const ev of evs) t.deliver(ev);
    t.end();
    expect(await drain(t.inbound)).toEqual(evs);
    expect(t.droppedMedia).toBe(0);
  });

  it('wakes a waiting consumer for each event and ends when the call ends', async () => {
    const t = transport();
    const got = drain(t.inbound);
    t.deliver(media(1));
    await new Promise((r) => setTimeout(r, 5));
    t.deliver({ kind: 'mark', name: 'm1' });
    t.end();
    t.deliver(media(2)); // after end: ignored
    expect(await got).toEqual([media(1), { kind: 'mark', name: 'm1' }]);
  });

  it('drops the oldest media (never dtmf, mark or stop) once a slow consumer is maxQueued behind', async () => {
    const t = transport({ maxQueued: 10 });
    t.deliver({ kind: 'dtmf', digit: '1' });
    for (let i = 1; i <= 20; i++) t.deliver(media(i));
    t.deliver({ kind: 'stop' });
    t.end();
    const got = await drain(t.inbound);
    expect(got[0]).toEqual({ kind: 'dtmf', digit: '1' });
    expect(got.at(-1)).toEqual({ kind: 'stop' });
    expect(got.filter((e) => e.kind === 'media')).toEqual(Array.from({ length: 8 }, (_, i) => media(13 + i)));
    expect(t.droppedMedia).toBe(12);
  });

  it('stops queueing once the consumer stops reading', async () => {
    const t = transport({ maxQueued: 5 });
    t.deliver(media(1));
    for await (const ev of t.inbound) {
      expect(ev).toEqual(media(1));
      break;
    }
    for (let i = 0; i < 50; i++) t.deliver(media(i));
    expect(t.droppedMedia).toBe(0); // nothing was queued, so nothing had to be dropped
  });
});

describe('outbound messages', () => {
  it('sends agent audio as 160-byte media frames carrying exactly the bytes played', () => {
    const sent: string[] = [];
    const t = transport({ sent });
    const audio = Uint8Array.from({ length: 400 }, (_, i) => i & 0xff);
    t.play(audio);
    const frames = sent.map((s) => JSON.parse(s) as { event: string; streamSid: string; media: { payload: string } });
    expect(frames.map((f) => [f.event, f.streamSid])).toEqual(Array(3).fill(['media', 'MZ1']));
    const bytes = frames.map((f) => Buffer.from(f.media.payload, 'base64'));
    expect(bytes.map((b) => b.length)).toEqual([FRAME_BYTES, FRAME_BYTES, 80]);
    expect(new Uint8Array(Buffer.concat(bytes))).toEqual(audio);
  });

  it('sends mark and clear in the documented shapes', () => {
    const sent: string[] = [];
    const t = transport({ sent });
    t.mark('reply-1:0');
    t.clear();
    expect(sent.map((s) => JSON.parse(s))).toEqual([
      { event: 'mark', streamSid: 'MZ1', mark: { name: 'reply-1:0' } },
      { event: 'clear', streamSid: 'MZ1' },
    ]);
  });
});

describe('call updates over Twilio REST (twilio SDK → local peer)', () => {
  const requests: { method: string; path: string; auth: string; form: Record<string, string> }[] = [];
  let fail = false;
  const peer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method!, path: req.url!, auth: req.headers.authorization ?? '', form: Object.fromEntries(new URLSearchParams(body)) });
      if (fail) {
        res.writeHead(500, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ code: 20500, message: 'Internal Server Error', status: 500 }));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sid: CALL, account_sid: ACCOUNT, status: 'in-progress' }));
    });
  });
  let apiUrl = '';
  beforeAll(async () => {
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    apiUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => peer.close(() => r())));

  const calls = () => createCallControl({ accountSid: ACCOUNT, authToken: 'secret-token', apiUrl });

  it('transfers by replacing the TwiML of the live call, authenticated as the account', async () => {
    requests.length = 0;
    const twiml = '<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Number>+15557654321</Number></Dial></Response>';
    await transport({ calls: calls() }).transfer(twiml);
    expect(requests).toEqual([
      {
        method: 'POST',
        path: `/2010-04-01/Accounts/${ACCOUNT}/Calls/${CALL}.json`,
        auth: `Basic ${Buffer.from(`${ACCOUNT}:secret-token`).toString('base64')}`,
        form: { Twiml: twiml },
      },
    ]);
  });

  it('hangs up with Status=completed', async () => {
    requests.length = 0;
    await transport({ calls: calls() }).hangup('caller said goodbye');
    expect(requests.map((r) => r.form)).toEqual([{ Status: 'completed' }]);
  });

  it('does not hang up a call it already transferred', async () => {
    requests.length = 0;
    const t = transport({ calls: calls() });
    await t.transfer('<Response><Dial>+15557654321</Dial></Response>');
    await t.hangup('cleanup');
    expect(requests.map((r) => Object.keys(r.form))).toEqual([['Twiml']]);
  });

  it('rejects a transfer Twilio refuses, and a later hangup still goes out', async () => {
    requests.length = 0;
    const t = transport({ calls: calls() });
    fail = true;
    await expect(t.transfer('<Response/>')).rejects.toThrow();
    fail = false;
    await t.hangup('transfer failed');
    expect(requests.map((r) => r.form)).toEqual([{ Twiml: '<Response/>' }, { Status: 'completed' }]);
  });

  it('keeps a path prefix of TWILIO_API_URL', async () => {
    requests.length = 0;
    await createCallControl({ accountSid: ACCOUNT, authToken: 't', apiUrl: `${apiUrl}/twilio/` }).update(CALL, { status: 'completed' });
    expect(requests[0]!.path).toBe(`/twilio/2010-04-01/Accounts/${ACCOUNT}/Calls/${CALL}.json`);
  });
});

describe('call updates against the Twilio REST emulator', () => {
  let emu: TwilioEmulator;
  beforeAll(async () => {
    emu = await startTwilioEmulator({ accountSid: ACCOUNT, authToken: 'emu-token' });
  });
  afterAll(() => emu.close());
  const calls = () => createCallControl({ accountSid: ACCOUNT, authToken: 'emu-token', apiUrl: emu.url });
  const onCall = (callSid: string) => new TwilioTransport({ streamSid: 'MZ2', callSid, send: () => {}, calls: calls(), log });

  it('hangs up once; a second hangup is a no-op instead of an error from Twilio', async () => {
    const sid = 'CA' + 'c'.repeat(32);
    const t = onCall(sid);
    await t.hangup('goodbye');
    await expect(t.hangup('cleanup')).resolves.toBeUndefined();
    expect(emu.requests.filter((r) => r.callSid === sid).map((r) => r.params)).toEqual([{ Status: 'completed' }]);
    // Twilio refuses to update an ended call (21220): that is what the no-op avoids.
    await expect(calls().update(sid, { status: 'completed' })).rejects.toMatchObject({ status: 400, code: 21220 });
  });

  it('surfaces a Twilio 5xx as a rejected transfer', async () => {
    emu.setKnobs({ httpError: { status: 503 } });
    await expect(onCall('CA' + 'd'.repeat(32)).transfer('<Response/>')).rejects.toMatchObject({ status: 503 });
  });

  it('refuses wrong credentials (401) rather than acting on the call', async () => {
    const bad = createCallControl({ accountSid: ACCOUNT, authToken: 'wrong', apiUrl: emu.url });
    await expect(bad.update('CA' + 'e'.repeat(32), { status: 'completed' })).rejects.toMatchObject({ status: 401 });
  });
});
