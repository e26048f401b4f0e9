// Pins the simulated Twilio caller against a tiny echo agent: pacing, Twilio message shapes, marks, clear, voice-to-voice, signatures, redirect.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeToneText } from '../../../local/audio/tone-text';
import { placeCall } from '../../../local/caller/caller';
import { parseScenario } from '../../../local/scenarios/scenario';
import { type EchoOptions, type EchoServer, type Logged, startEchoServer } from './echo-server';

const AUTH_TOKEN = 'test-auth-token-1234';
const servers: EchoServer[] = [];

async function echo(o: Partial<EchoOptions> = {}): Promise<EchoServer> {
  const s = await startEchoServer({ authToken: AUTH_TOKEN, ...o });
  servers.push(s);
  return s;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Caller speech: tone text has speech energy in every frame, so the echo agent's detector sees one clean utterance. */
const audio = new Map([['hello', encodeToneText('hello agent')]]);

function scenario(steps: unknown[]) {
  return parseScenario({ name: 'test', agent: 'echo', from: '+15551230001', to: '+15550001000', steps, llm: [] });
}

const inbound = (log: Logged[], event?: string) => log.filter((l) => l.dir === 'in' && (!event || l.msg.event === event));
const outbound = (log: Logged[], event?: string) => log.filter((l) => l.dir === 'out' && (!event || l.msg.event === event));
/** Inbound media frames the server received between two of its clock readings. */
const mediaBetween = (log: Logged[], from: number, to: number) => inbound(log, 'media').filter((l) => l.at > from && l.at < to).length;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('simulated caller: wire format and pacing', () => {
  let server: EchoServer;
  let report: Awaited<ReturnType<typeof placeCall>>;
  let log: Logged[];

  beforeAll(async () => {
    server = await echo();
    report = await placeCall({
      url: `ws://127.0.0.1:${server.port}/media`,
      scenario: scenario([{ dtmf: '12#' }, { pause: 9500 }]),
      audio,
      dtmfIntervalMs: 100,
    });
    await server.calls[0]!.closed;
    log = server.calls[0]!.log;
  });

  it('opens with connected, then start with sequenceNumber "1" and the Twilio start fields', () => {
    const [first, second] = inbound(log);
    expect(first!.msg).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(second!.msg).toEqual({
      event: 'start',
      sequenceNumber: '1',
      start: {
        accountSid: report.accountSid,
        streamSid: report.streamSid,
        callSid: report.callSid,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: { agent: 'echo', caller: '+15551230001' },
      },
      streamSid: report.streamSid,
    });
    expect(report.accountSid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(report.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(report.streamSid).toMatch(/^MZ[0-9a-f]{32}$/);
  });

  it('numbers every message after connected with consecutive string sequenceNumbers', () => {
    const seqs = inbound(log).slice(1).map((l) => l.msg.sequenceNumber);
    expect(seqs.every((s) => typeof s === 'string')).toBe(true);
    expect(seqs).toEqual(seqs.map((_, i) => String(i + 1)));
  });

  it('sends 160-byte frames with chunk counting from 1 and timestamp = 20 × (chunk - 1), as strings', () => {
    const media = inbound(log, 'media');
    media.forEach((l, i) => {
      expect(l.msg.streamSid).toBe(report.streamSid);
      expect(l.msg.media.track).toBe('inbound');
      expect(l.msg.media.chunk).toBe(String(i + 1));
      expect(l.msg.media.timestamp).toBe(String(20 * i));
      expect(Buffer.from(l.msg.media.payload, 'base64').length).toBe(160);
    });
    expect(media.length).toBe(report.framesSent);
  });

  it('keeps 50 frames per second with no drift over 10 s (server receive clock vs media timestamps)', () => {
    const media = inbound(log, 'media');
    const elapsed = media.at(-1)!.at - media[0]!.at;
    expect(elapsed).toBeGreaterThan(9000);
    expect(Math.abs(media.length - 1 - elapsed / 20)).toBeLessThanOrEqual(2);
    // Offset of receive time vs presentation timestamp: the last second's median must sit where the first second's did.
    const offsets = media.map((l) => l.at - Number(l.msg.media.timestamp));
    expect(Math.abs(median(offsets.slice(-50)) - median(offsets.slice(0, 50)))).toBeLessThanOrEqual(40);
  });

  it('sends each key as a dtmf message on track inbound_track', () => {
    const dtmf = inbound(log, 'dtmf').map((l) => l.msg);
    expect(dtmf.map((m) => m.dtmf)).toEqual([
      { track: 'inbound_track', digit: '1' },
      { track: 'inbound_track', digit: '2' },
      { track: 'inbound_track', digit: '#' },
    ]);
    for (const m of dtmf) expect(Object.keys(m).sort()).toEqual(['dtmf', 'event', 'sequenceNumber', 'streamSid']);
    expect(report.dtmfSent).toBe('12#');
    expect(report.turns[1]).toMatchObject({ kind: 'dtmf', input: '12#', ok: true });
  });

  it('ends a finished scenario with stop (account and call sid) and closes', () => {
    const last = inbound(log).at(-1)!.msg;
    expect(last).toEqual({
      event: 'stop',
      sequenceNumber: last.sequenceNumber,
      stop: { accountSid: report.accountSid, callSid: report.callSid },
      streamSid: report.streamSid,
    });
    expect(report).toMatchObject({ endedBy: 'scenario', completed: true, ok: true });
  });
});

describe('simulated caller: playout, marks and clear', () => {
  it('echoes a mark only after the audio queued before it has played, and an unqueued mark at once', async () => {
    const greeting = 'abcdefghijklmno'; // 15 blocks × 65 ms; 2600-byte chunks → marks after 325, 650, 975 ms
    const server = await echo({ greeting, markFirst: true });
    const report = await placeCall({ url: `ws://127.0.0.1:${server.port}/media`, scenario: scenario([{ waitForAgent: true }]), audio });
    await server.calls[0]!.closed;
    const log = server.calls[0]!.log;
    const echoed = inbound(log, 'mark');
    expect(echoed.map((l) => l.msg.mark.name)).toEqual(['empty', 'm1', 'm2', 'm3']);
    for (const e of echoed) expect(e.msg).toMatchObject({ streamSid: report.streamSid, sequenceNumber: expect.stringMatching(/^\d+$/) });
    const sentAt = (name: string) => outbound(log, 'mark').find((l) => l.msg.mark.name === name)!.at;
    const firstAudio = outbound(log, 'media')[0]!.at;
    echoed.slice(1).forEach((e, k) => expect(e.at - firstAudio).toBeGreaterThanOrEqual(325 * (k + 1) - 20));
    // Nothing queued: the echo comes back before the caller's next-but-one frame.
    expect(mediaBetween(log, sentAt('empty'), echoed[0]!.at)).toBeLessThanOrEqual(1);
    expect(report.turns[0]).toMatchObject({ kind: 'greeting', heard: greeting, ok: true });
    expect(report.turns[0]!.audio.length).toBe(greeting.length * 520);
    expect(report.marksEchoed).toBe(4);
  });

  it('on clear drops the queued audio, echoes pending marks at once, and does not count dropped audio as heard', async () => {
    const greeting = 'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz'; // ~4 s
    const server = await echo({ greeting, reply: () => 'ok' });
    const report = await placeCall({
      url: `ws://127.0.0.1:${server.port}/media`,
      scenario: scenario([{ say: 'hello', text: 'hello agent', bargeInAfterMs: 600 }, { waitForAgent: true }]),
      audio,
    });
    await server.calls[0]!.closed;
    const log = server.calls[0]!.log;
    const clear = outbound(log, 'clear');
    expect(clear).toHaveLength(1);
    const clearAt = clear[0]!.at;
    const sentMarks = outbound(log, 'mark').map((l) => l.msg.mark.name);
    const echoed = inbound(log, 'mark');
    expect(echoed.map((l) => l.msg.mark.name).sort()).toEqual([...sentMarks].sort());
    const flushed = echoed.filter((l) => l.at > clearAt && outbound(log, 'mark').find((s) => s.msg.mark.name === l.msg.mark.name)!.at < clearAt);
    expect(flushed.length).toBeGreaterThan(5);
    for (const e of flushed) expect(mediaBetween(log, clearAt, e.at)).toBeLessThanOrEqual(1);

    const [greet, say] = report.turns;
    const heard = greet!.heard + say!.heard;
    expect(heard.endsWith('ok')).toBe(true);
    const greetingHeard = heard.slice(0, -2);
    expect(greetingHeard.length).toBeGreaterThan(5);
    expect(greetingHeard.length).toBeLessThan(greeting.length - 20);
    expect(greeting.startsWith(greetingHeard)).toBe(true);
    expect(report.turns.reduce((n, t) => n + t.audio.length, 0)).toBeLessThan(server.calls[0]!.audioBytesSent);
    expect(say!.bargeIn).toMatchObject({ requestedAfterMs: 600, agentStartedAt: expect.any(Number), speechOnsetAt: expect.any(Number), agentAudibleAtOnset: true });
    expect(say!.bargeIn!.speechOnsetAt! - say!.bargeIn!.agentStartedAt!).toBeGreaterThanOrEqual(600);
    expect(say!.bargeIn!.reactionMs).toBeGreaterThanOrEqual(0);
    expect(report.clears).toBe(1);
    expect(say!.voiceToVoiceMs).toBeGreaterThan(0);
  });
  it('reports an agent that talks on through a backchannel: no clear, everything heard, no voice-to-voice', async () => {
    const greeting = 'we are open monday to saturday, on sundays we are closed.';
    const server = await echo({ greeting, bargeIn: false });
    const report = await placeCall({
      url: `ws://127.0.0.1:${server.port}/media`,
      scenario: scenario([{ say: 'hello', text: 'mm-hm', bargeInAfterMs: 500 }, { waitForAgent: true }]),
      audio,
    });
    const say = report.turns[1]!;
    expect(report.turns[0]!.heard + say.heard).toBe(greeting);
    expect(say.bargeIn).toMatchObject({ agentAudibleAtOnset: true });
    expect(say.bargeIn!.reactionMs).toBeUndefined();
    expect(say.voiceToVoiceMs).toBeUndefined();
    expect(report).toMatchObject({ clears: 0, ok: true });
  });
});

describe('simulated caller: voice-to-voice', () => {
  for (const endpointMs of [250, 600]) {
    it(`measures voice-to-voice within one frame of what the agent saw (agent endpointing ${endpointMs} ms)`, async () => {
      const server = await echo({ reply: () => 'sure thing', endpointMs });
      const report = await placeCall({
        url: `ws://127.0.0.1:${server.port}/media`,
        scenario: scenario([{ say: 'hello', text: 'hello agent' }, { waitForAgent: true }]),
        audio,
      });
      const [reply] = server.calls[0]!.replies;
      const truth = reply!.firstAudioAt - reply!.lastSpeechAt;
      const turn = report.turns[1]!;
      expect(turn).toMatchObject({ kind: 'say', heard: 'sure thing', ok: true });
      expect(truth).toBeGreaterThanOrEqual(endpointMs);
      expect(Math.abs(turn.voiceToVoiceMs! - truth)).toBeLessThanOrEqual(20);
    });
  }
});

describe('simulated caller: phone network', () => {
  it('adds its one-way delay to both legs: the agent hears the caller late and the caller hears the answer late', async () => {
    const server = await echo({ reply: () => 'sure thing', endpointMs: 250 });
    const report = await placeCall({
      url: `ws://127.0.0.1:${server.port}/media`,
      scenario: scenario([{ say: 'hello', text: 'hello agent' }, { waitForAgent: true }]),
      audio,
      network: { oneWayMs: 150, jitterMs: 20 },
    });
    const [reply] = server.calls[0]!.replies;
    const agentSide = reply!.firstAudioAt - reply!.lastSpeechAt;
    const turn = report.turns[1]!;
    expect(turn).toMatchObject({ kind: 'say', heard: 'sure thing', ok: true });
    // Both legs, each 150 ± 20 ms (one frame of rounding on top).
    expect(turn.voiceToVoiceMs! - agentSide).toBeGreaterThanOrEqual(2 * 130 - 20);
    expect(turn.voiceToVoiceMs! - agentSide).toBeLessThanOrEqual(2 * 170 + 20);
    // Jitter never reorders a stream: the frames still arrive in order.
    const chunks = inbound(server.calls[0]!.log, 'media').map((l) => Number(l.msg.media.chunk));
    expect(chunks).toEqual(chunks.map((_, i) => i + 1));
  });
});

describe('simulated caller: webhook and upgrade signatures', () => {
  it('fetches TwiML with a valid signature, dials the stream without its query string and signs the upgrade', async () => {
    const server = await echo({ greeting: 'hi' });
    const report = await placeCall({
      twimlUrl: `http://127.0.0.1:${server.port}/twiml`,
      authToken: AUTH_TOKEN,
      parameters: { CallerName: 'Test Caller' },
      scenario: scenario([{ waitForAgent: true }]),
      audio,
    });
    const [hook] = server.webhooks;
    expect(hook!.signatureValid).toBe(true);
    expect(hook!.params).toEqual({
      CallSid: report.callSid,
      AccountSid: report.accountSid,
      From: '+15551230001',
      To: '+15550001000',
      CallStatus: 'ringing',
      ApiVersion: '2010-04-01',
      Direction: 'inbound',
      CallerName: 'Test Caller',
    });
    const call = server.calls[0]!;
    expect(call.upgradeUrl).toBe('/media');
    expect(call.upgradeSignatureValid).toBe(true);
    expect(inbound(call.log, 'start')[0]!.msg.start.customParameters).toEqual({ agent: 'echo & co', token: `t-${report.callSid}` });
    expect(report.turns[0]!.heard).toBe('hi');
  });

  it('signs exactly as the twilio SDK validates (a forged token is refused and the call is not placed)', async () => {
    const server = await echo();
    await expect(
      placeCall({ twimlUrl: `http://127.0.0.1:${server.port}/twiml`, authToken: 'wrong-token', scenario: scenario([{ pause: 100 }]), audio }),
    ).rejects.toThrow(/answered 403/);
    expect(server.webhooks[0]!.signatureValid).toBe(false);
    expect(server.calls).toHaveLength(0);
    expect(twilio.validateRequest('wrong-token', 'x', 'http://example.com', {})).toBe(false);
  });
});

describe('simulated caller: how calls end', () => {
  it('on call-updated for its call sends stop and closes; a silent agent fails the turn instead of hanging', async () => {
    const server = await echo();
    const events = new EventEmitter();
    const twiml = '<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Number>+15557654321</Number></Dial></Response>';
    let redirectAt = 0;
    let callSid = '';
    const pending = placeCall({
      url: `ws://127.0.0.1:${server.port}/media`,
      scenario: scenario([{ waitForAgent: true }, { pause: 10_000 }]),
      audio,
      events,
      agentStartTimeoutMs: 300,
    });
    await new Promise((r) => setTimeout(r, 600));
    callSid = inbound(server.calls[0]!.log, 'start')[0]!.msg.start.callSid;
    events.emit('call-updated', { callSid: 'CA00000000000000000000000000000000', twiml });
    await new Promise((r) => setTimeout(r, 200));
    expect(inbound(server.calls[0]!.log, 'stop')).toHaveLength(0);
    redirectAt = performance.now();
    events.emit('call-updated', { callSid, twiml });
    const report = await pending;
    await server.calls[0]!.closed;
    const log = server.calls[0]!.log;
    const stop = inbound(log, 'stop');
    expect(stop).toHaveLength(1);
    expect(stop[0]!.at).toBeGreaterThanOrEqual(redirectAt);
    expect(inbound(log).at(-1)!.msg.event).toBe('stop');
    expect(report).toMatchObject({ endedBy: 'redirected', transferred: twiml, completed: false, ok: false });
    expect(report.turns[0]).toMatchObject({ ok: false, error: expect.stringMatching(/no agent speech within 300 ms/) });
    expect(events.listenerCount('call-updated')).toBe(0);
  });

  it('redirects through the onRedirect hook too', async () => {
    const server = await echo({ greeting: 'hello' });
    let redirect: ((twiml: string) => void) | undefined;
    const pending = placeCall({
      url: `ws://127.0.0.1:${server.port}/media`,
      scenario: scenario([{ waitForAgent: true }, { pause: 5000 }]),
      audio,
      onRedirect: (r) => (redirect = r),
    });
    await new Promise((r) => setTimeout(r, 300));
    redirect!('<Response><Pay/></Response>');
    const report = await pending;
    expect(report).toMatchObject({ endedBy: 'redirected', transferred: '<Response><Pay/></Response>' });
    await server.calls[0]!.closed;
    expect(inbound(server.calls[0]!.log).at(-1)!.msg.event).toBe('stop');
  });

  it('on a <Connect><Stream> redirect goes on in the new stream, even when the old one closes before the new one is up', async () => {
    const before = await echo({ greeting: 'hello' });
    const after = await echo({ greeting: 'hello', upgradeDelayMs: 400 });
    let redirect: ((twiml: string) => void) | undefined;
    const pending = placeCall({
      url: `ws://127.0.0.1:${before.port}/media`,
      scenario: scenario([{ waitForAgent: true }, { pause: 1500 }]),
      audio,
      onRedirect: (r) => (redirect = r),
    });
    await new Promise((r) => setTimeout(r, 300));
    redirect!(`<Response><Connect><Stream url="ws://127.0.0.1:${after.port}/media"><Parameter name="resume" value="true"/></Stream></Connect></Response>`);
    const report = await pending;
    await before.calls[0]!.closed;
    expect(inbound(before.calls[0]!.log).at(-1)!.msg.event).toBe('stop');
    expect(report.migrations).toHaveLength(1);
    expect(report.migrations[0]!.reconnectedAt).toBeGreaterThan(report.migrations[0]!.redirectedAt + 300);
    expect(report.endedBy).toBe('scenario');
    const start = inbound(after.calls[0]!.log, 'start')[0]!.msg.start;
    expect(start.customParameters).toEqual({ resume: 'true' });
    expect(start.streamSid).not.toBe(inbound(before.calls[0]!.log, 'start')[0]!.msg.start.streamSid);
  });

  it('ends when the server closes the stream, without sending stop', async () => {
    const server = await echo({ closeAfterMs: 300 });
    const report = await placeCall({ url: `ws://127.0.0.1:${server.port}/media`, scenario: scenario([{ pause: 5000 }]), audio });
    expect(report).toMatchObject({ endedBy: 'server-closed', completed: false });
    expect(inbound(server.calls[0]!.log, 'stop')).toHaveLength(0);
    expect(report.durationMs).toBeLessThan(5000);
  });

  it('reports an unreachable stream as a setup error, not a report', async () => {
    await expect(placeCall({ url: 'ws://127.0.0.1:1/media', scenario: scenario([{ pause: 100 }]), audio })).rejects.toThrow(/cannot open Media Stream/);
  });
});
