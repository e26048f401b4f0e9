// Pins the Deepgram emulator's wire behaviour as seen by the real @deepgram/sdk (v1 nova and v2 Flux) and a raw ws client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeepgramClient } from '@deepgram/sdk';
import WebSocket from 'ws';
import { startDeepgramEmulator, type DeepgramEmulator } from '../../../local/emulators/deepgram';
import { audio, frames, speech, waitFor } from './helpers';

type Msg = Record<string, any>;

let emu: DeepgramEmulator;
let client: DeepgramClient;

beforeAll(async () => {
  emu = await startDeepgramEmulator({ knobs: { finalMs: 20, seed: 7 } });
  client = new DeepgramClient({ apiKey: 'dg-test-key', baseUrl: `ws://127.0.0.1:${emu.port}` });
});
afterAll(async () => {
  await emu.close();
});

const V1_BASE = { model: 'nova-3', encoding: 'mulaw', sample_rate: 8000, channels: 1, reconnectAttempts: 0 } as const;

/** Opens a v1 connection through the SDK and collects every message and the close event. */
async function openV1(args: Record<string, unknown>) {
  const messages: Msg[] = [];
  let closed: { code: number; reason: string } | undefined;
  const conn = await client.listen.v1.connect({ ...V1_BASE, ...args } as Parameters<typeof client.listen.v1.connect>[0]);
  conn.on('message', (m) => messages.push(m as Msg));
  conn.on('close', (e) => (closed = { code: e.code, reason: e.reason }));
  conn.on('error', () => {});
  conn.connect();
  await conn.waitForOpen();
  /** Sends audio as fast as possible in 20 ms frames: the emulator must time speech by bytes, not wall clock. */
  const send = (bytes: Uint8Array) => {
    for (const f of frames(bytes)) conn.sendMedia(f);
  };
  return { conn, messages, send, closed: () => closed };
}

const results = (ms: Msg[]) => ms.filter((m) => m.type === 'Results');

describe('Deepgram /v1/listen', () => {
  it('refuses utterance_end_ms=500 at the upgrade with HTTP 400, a dg-error header and a JSON error body', async () => {
    const res = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${emu.port}/v1/listen?encoding=mulaw&sample_rate=8000&interim_results=true&utterance_end_ms=500`, {
        headers: { Authorization: 'Token dg-test-key' },
      });
      ws.on('unexpected-response', (_req, r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body }));
      });
      ws.on('open', () => reject(new Error('upgrade was accepted')));
      ws.on('error', () => {});
    });
    expect(res.status).toBe(400);
    expect(String(res.headers['dg-error'])).toMatch(/utterance_end_ms/);
    expect(res.headers['dg-request-id']).toBeTruthy();
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({ err_code: 'INVALID_QUERY_PARAMETER', request_id: expect.any(String) });
    expect(body.err_msg).toMatch(/1000/);
  });

  it('honours an endpointing window shorter than the 250 ms burst gap: speech_final after 100 ms of silence', async () => {
    emu.setScript(['Yes please.']);
    const c = await openV1({ interim_results: 'true', endpointing: 100 });
    c.send(audio(200, speech(650), 160)); // 160 ms of silence: past the window, short of the burst gap
    const final = await waitFor('speech_final', () => results(c.messages).find((m) => m.speech_final));
    expect(final.channel.alternatives[0].transcript).toBe('yes please');
    c.send(audio(100, 500)); // the rest of that pause is not a new utterance
    await new Promise((r) => setTimeout(r, 100));
    expect(results(c.messages).filter((m) => m.is_final)).toHaveLength(1);
    c.conn.close();
  });

  it('sends interim Results once per interimEverySec of speech (about 1 s by default, 0.25 s as a test setting)', async () => {
    const counts: number[] = [];
    for (const every of [undefined, 0.25]) {
      emu.setKnobs({ interimEverySec: every });
      emu.setScript(['one two three four five six seven eight nine ten eleven twelve']);
      const c = await openV1({ interim_results: 'true', endpointing: 300 });
      c.send(audio(speech(3000), 600));
      await waitFor('final', () => results(c.messages).find((m) => m.is_final));
      counts.push(results(c.messages).filter((m) => !m.is_final).length);
      c.conn.close();
    }
    emu.setKnobs({ interimEverySec: undefined });
    expect(counts[0]).toBeGreaterThanOrEqual(2);
    expect(counts[0]).toBeLessThanOrEqual(3);
    expect(counts[1]).toBeGreaterThanOrEqual(11);
  });

  it('refuses an upgrade without Token/Bearer credentials with 401', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${emu.port}/v1/listen?encoding=mulaw&sample_rate=8000`);
      ws.on('unexpected-response', (_req, r) => resolve(r.statusCode ?? 0));
      ws.on('error', () => {});
    });
    expect(status).toBe(401);
  });

  it('sends SpeechStarted, interim, then a final with speech_final, then UtteranceEnd, timed from the received audio', async () => {
    emu.setScript(['Hello there, how are you today?']);
    const c = await openV1({ interim_results: 'true', endpointing: 300, utterance_end_ms: 1000, vad_events: 'true', punctuate: 'true' });
    c.send(audio(300, speech(1560), 1600));
    await waitFor('UtteranceEnd', () => c.messages.find((m) => m.type === 'UtteranceEnd'));
    const types = c.messages.map((m) => (m.type === 'Results' ? (m.is_final ? (m.speech_final ? 'final+speech_final' : 'final') : 'interim') : m.type));
    expect(types[0]).toBe('SpeechStarted');
    const firstFinal = types.indexOf('final+speech_final');
    expect(types.slice(1, firstFinal).every((t) => t === 'interim')).toBe(true);
    expect(firstFinal).toBeGreaterThan(1);
    expect(types.indexOf('UtteranceEnd')).toBe(firstFinal + 1);

    expect(c.messages[0]!.timestamp).toBeCloseTo(0.3, 2);
    const interims = results(c.messages).filter((m) => !m.is_final);
    expect(interims.length).toBeGreaterThanOrEqual(1);
    // Interims reveal the words progressively: the first shows a strict prefix.
    expect(interims[0]!.channel.alternatives[0].words.length).toBeLessThan(6);
    const final = results(c.messages).find((m) => m.is_final)!;
    expect(final).toMatchObject({ type: 'Results', channel_index: [0, 1], is_final: true, speech_final: true, from_finalize: false });
    expect(final.metadata).toMatchObject({ request_id: expect.any(String), model_uuid: expect.any(String), model_info: { arch: 'nova-3' } });
    const alt = final.channel.alternatives[0];
    expect(alt.transcript).toBe('Hello there, how are you today?');
    expect(alt.words.map((w: Msg) => w.word)).toEqual(['hello', 'there', 'how', 'are', 'you', 'today']);
    expect(alt.words[1]).toMatchObject({ punctuated_word: 'there,', confidence: expect.any(Number) });
    expect(alt.words[0].start).toBeCloseTo(0.3, 2);
    expect(alt.words[5].end).toBeCloseTo(1.86, 2);
    expect(final.start).toBe(0);
    expect(final.start + final.duration).toBeGreaterThanOrEqual(alt.words[5].end + 0.3 - 1e-6);
    const ue = c.messages.find((m) => m.type === 'UtteranceEnd')!;
    expect(ue).toEqual({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: alt.words[5].end });
    c.conn.close();
  });

  it('merges two bursts into one segment under a long endpointing and splits them under a short one', async () => {
    const clip = audio(speech(650), 400, speech(650), 1200);
    emu.setScript(['one two', 'three four']);
    const long = await openV1({ endpointing: 700 });
    long.send(clip);
    await waitFor('speech_final', () => results(long.messages).find((m) => m.speech_final));
    await new Promise((r) => setTimeout(r, 150));
    expect(results(long.messages).map((m) => m.channel.alternatives[0].transcript)).toEqual(['one two three four']);
    long.conn.close();

    const short = await openV1({ endpointing: 300 });
    short.send(clip);
    await waitFor('two speech_finals', () => results(short.messages).filter((m) => m.speech_final).length === 2);
    expect(results(short.messages).map((m) => [m.channel.alternatives[0].transcript, m.speech_final])).toEqual([
      ['one two', true],
      ['three four', true],
    ]);
    short.conn.close();
  });

  it('sends at least one interim for a burst shorter than the interim period, showing the whole line', async () => {
    emu.setScript(['yes']);
    const c = await openV1({ interim_results: 'true', endpointing: 300 });
    c.send(audio(speech(400), 600));
    await waitFor('final', () => results(c.messages).find((m) => m.is_final));
    expect(results(c.messages).map((m) => [m.is_final, m.channel.alternatives[0].transcript])).toEqual([
      [false, 'yes'],
      [true, 'yes'],
    ]);
    c.conn.close();
  });

  it('finalizes pending speech on Finalize with from_finalize true and keeps the next line for the next burst', async () => {
    emu.setScript(['book it please', 'thanks']);
    const c = await openV1({ endpointing: 2000, interim_results: 'false' });
    c.send(audio(speech(800), 100));
    await new Promise((r) => setTimeout(r, 100));
    c.conn.sendFinalize({ type: 'Finalize' });
    const f = await waitFor('from_finalize', () => results(c.messages).find((m) => m.from_finalize));
    expect(f).toMatchObject({ is_final: true, speech_final: false, from_finalize: true });
    expect(f.channel.alternatives[0].transcript).toBe('book it please');
    // The rest of the same burst (gap < 250 ms) is not a new burst; a later burst gets the next line.
    c.send(audio(speech(300), 2100, speech(400), 2100));
    await waitFor('second final', () => results(c.messages).filter((m) => m.is_final).length >= 2);
    expect(results(c.messages).map((m) => m.channel.alternatives[0].transcript)).toEqual(['book it please', 'thanks']);
    c.conn.close();
  });

  it('answers CloseStream with the pending final, then Metadata, then closes 1000', async () => {
    emu.setScript(['goodbye']);
    const c = await openV1({ endpointing: 'false' as never });
    const clip = audio(speech(500), 300);
    c.send(clip);
    await waitFor('final', () => results(c.messages).find((m) => m.is_final));
    c.conn.sendCloseStream({ type: 'CloseStream' });
    await waitFor('close', () => c.closed());
    expect(c.closed()!.code).toBe(1000);
    expect(c.messages.map((m) => m.type)).toEqual(['Results', 'Metadata']);
    expect(results(c.messages)[0]).toMatchObject({ is_final: true, speech_final: false });
    expect(c.messages[1]).toMatchObject({ type: 'Metadata', transaction_key: 'deprecated', channels: 1, duration: clip.length / 8000, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('closes 1011 NET-0001 after the no-audio timeout, and KeepAlive text frames hold it open', async () => {
    emu.setKnobs({ noAudioTimeoutMs: 600 });
    try {
      const idle = await openV1({});
      const kept = await openV1({});
      const ka = setInterval(() => kept.conn.sendKeepAlive({ type: 'KeepAlive' }), 100);
      await waitFor('idle close', () => idle.closed());
      expect(idle.closed()).toEqual({ code: 1011, reason: 'NET-0001' });
      await new Promise((r) => setTimeout(r, 900));
      expect(kept.closed()).toBeUndefined();
      clearInterval(ka);
      await waitFor('kept close after KeepAlive stops', () => kept.closed());
      expect(kept.closed()!.reason).toBe('NET-0001');
    } finally {
      emu.setKnobs({ noAudioTimeoutMs: undefined });
    }
  });

  it('refuses upgrades with 429 and retry-after while the httpError fault lasts, then accepts', async () => {
    emu.setKnobs({ httpError: { status: 429, retryAfter: 2, count: 1 } });
    const res = await new Promise<{ status: number; retry?: string }>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${emu.port}/v1/listen?encoding=mulaw&sample_rate=8000`, { headers: { Authorization: 'Bearer jwt' } });
      ws.on('unexpected-response', (_q, r) => resolve({ status: r.statusCode ?? 0, retry: r.headers['retry-after'] as string }));
      ws.on('error', () => {});
    });
    expect(res).toEqual({ status: 429, retry: '2' });
    const ok = await openV1({});
    expect(ok.closed()).toBeUndefined();
    ok.conn.close();
  });

  it('drops the connection without a close frame after dropAfterMs (clients see 1006), even after a slow accept', async () => {
    emu.setKnobs({ dropAfterMs: 50, acceptDelayMs: { p50: 30, p95: 60, dist: 'uniform' } });
    try {
      const c = await openV1({});
      await waitFor('close', () => c.closed());
      expect(c.closed()!.code).toBe(1006);
    } finally {
      emu.setKnobs({ dropAfterMs: undefined, acceptDelayMs: undefined });
    }
  });

  it('closes with the vendor error configured by closeWith', async () => {
    emu.setKnobs({ closeWith: { afterMs: 50, code: 1011, reason: 'NET-0000' } });
    try {
      const c = await openV1({});
      await waitFor('close', () => c.closed());
      expect(c.closed()).toEqual({ code: 1011, reason: 'NET-0000' });
    } finally {
      emu.setKnobs({ closeWith: undefined });
    }
  });
});

describe('Deepgram /v2/listen (Flux)', () => {
  async function openFlux(args: Record<string, unknown>) {
    const messages: Msg[] = [];
    let closed: { code: number } | undefined;
    const conn = await client.listen.v2.connect({
      model: 'flux-general-en',
      encoding: 'mulaw',
      sample_rate: 8000,
      reconnectAttempts: 0,
      ...args,
    } as Parameters<typeof client.listen.v2.connect>[0]);
    conn.on('message', (m) => messages.push(m as Msg));
    conn.on('close', (e) => (closed = { code: e.code }));
    conn.on('error', () => {});
    conn.connect();
    await conn.waitForOpen();
    return { conn, messages, closed: () => closed, send: (b: Uint8Array) => frames(b).forEach((f) => conn.sendMedia(f)) };
  }

  it('goes StartOfTurn → EagerEndOfTurn → TurnResumed → EagerEndOfTurn → EndOfTurn with matching transcripts', async () => {
    emu.setScript(['I need', 'a haircut.']);
    // eot 0.9 → 650 ms of silence, eager 0.5 → 350 ms (the default knob mapping).
    const c = await openFlux({ eot_threshold: 0.9, eager_eot_threshold: 0.5 });
    c.send(audio(speech(650), 500, speech(650), 1000));
    await waitFor('EndOfTurn', () => c.messages.find((m) => m.event === 'EndOfTurn'));
    expect(c.messages[0]).toMatchObject({ type: 'Connected', sequence_id: 0, request_id: expect.any(String) });
    expect(c.messages.map((m) => m.sequence_id)).toEqual(c.messages.map((_, i) => i));
    const events = c.messages.filter((m) => m.type === 'TurnInfo' && m.event !== 'Update');
    expect(events.map((m) => m.event)).toEqual(['StartOfTurn', 'EagerEndOfTurn', 'TurnResumed', 'EagerEndOfTurn', 'EndOfTurn']);
    expect(events[1]!.transcript).toBe('I need');
    expect(events[3]!.transcript).toBe('I need a haircut.');
    expect(events[4]).toMatchObject({ transcript: 'I need a haircut.', turn_index: 0, audio_window_start: 0 });
    // Only ListenV2TurnInfo's fields: no `trigger`.
    for (const m of c.messages.filter((x) => x.type === 'TurnInfo')) {
      expect(Object.keys(m).sort()).toEqual(['audio_window_end', 'audio_window_start', 'end_of_turn_confidence', 'event', 'request_id', 'sequence_id', 'transcript', 'turn_index', 'type', 'words']);
    }
    expect(events[4]!.words.map((w: Msg) => w.word)).toEqual(['I', 'need', 'a', 'haircut.']);
    expect(events[4]!.end_of_turn_confidence).toBeGreaterThanOrEqual(0.9);
    const updates = c.messages.filter((m) => m.event === 'Update');
    expect(updates.length).toBeGreaterThanOrEqual(4);
    c.conn.close();
  });

  it('sends no EagerEndOfTurn without eager_eot_threshold and increments turn_index after EndOfTurn', async () => {
    emu.setScript(['first', 'second']);
    const c = await openFlux({});
    c.send(audio(speech(400), 800, speech(400), 800));
    await waitFor('two EndOfTurn', () => c.messages.filter((m) => m.event === 'EndOfTurn').length === 2);
    const events = c.messages.filter((m) => m.type === 'TurnInfo' && m.event !== 'Update');
    expect(events.map((m) => [m.event, m.turn_index])).toEqual([
      ['StartOfTurn', 0],
      ['EndOfTurn', 0],
      ['StartOfTurn', 1],
      ['EndOfTurn', 1],
    ]);
    expect(events[3]!.transcript).toBe('second');
    c.conn.close();
  });

  it('answers Configure with ConfigureSuccess and ends the turn on ForceEndTurn', async () => {
    emu.setScript(['cancel my order']);
    const c = await openFlux({ eot_threshold: 0.9 });
    c.conn.sendConfigure({ type: 'Configure', thresholds: { eot_threshold: 0.8, eager_eot_threshold: 0.4 } } as never);
    await waitFor('ConfigureSuccess', () => c.messages.find((m) => m.type === 'ConfigureSuccess'));
    expect(c.messages.find((m) => m.type === 'ConfigureSuccess')).toMatchObject({ thresholds: { eot_threshold: 0.8, eager_eot_threshold: 0.4, eot_timeout_ms: 5000 } });
    c.send(audio(speech(700), 100));
    await waitFor('StartOfTurn', () => c.messages.find((m) => m.event === 'StartOfTurn'));
    c.conn.sendForceEndTurn({ type: 'ForceEndTurn' } as never);
    const end = await waitFor('EndOfTurn', () => c.messages.find((m) => m.event === 'EndOfTurn'));
    expect(end).toMatchObject({ transcript: 'cancel my order', turn_index: 0 });
    c.conn.close();
  });

  it('dies on a KeepAlive like the real Flux service (close without a status code, 1005)', async () => {
    const c = await openFlux({});
    c.conn.socket.send(JSON.stringify({ type: 'KeepAlive' }));
    await waitFor('close', () => c.closed());
    expect(c.closed()!.code).toBe(1005);
  });
});
