// Pins the ElevenLabs emulator's stream-input / multi-stream-input / HTTP stream behaviour with a raw ws client and fetch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeToneText } from '../../../local/audio/tone-text';
import { startElevenLabsEmulator, type ElevenLabsEmulator } from '../../../local/emulators/elevenlabs';
import { waitFor } from './helpers';

type Frame = Record<string, any>;
let emu: ElevenLabsEmulator;

beforeAll(async () => {
  emu = await startElevenLabsEmulator({ knobs: { firstByteMs: 10, msPerChar: 0 } });
});
afterAll(async () => {
  await emu.close();
});

/** Opens a socket and collects frames and the close code/reason. */
async function open(path: string, query = 'model_id=eleven_flash_v2_5&output_format=ulaw_8000', headers: Record<string, string> = { 'xi-api-key': 'el-test' }) {
  const ws = new WebSocket(`ws://127.0.0.1:${emu.port}/v1/text-to-speech/voice123/${path}?${query}`, { headers });
  const frames: Frame[] = [];
  let closed: { code: number; reason: string } | undefined;
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  ws.on('close', (code, reason) => (closed = { code, reason: reason.toString() }));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const send = (o: unknown) => ws.send(typeof o === 'string' ? o : JSON.stringify(o));
  return { ws, frames, send, closed: () => closed };
}

const audioOf = (frames: Frame[]) => Buffer.concat(frames.filter((f) => f.audio).map((f) => Buffer.from(f.audio, 'base64')));

describe('ElevenLabs stream-input (single context)', () => {
  it('speaks flushed text as ulaw tones that decode back to the text, with alignment frames, then isFinal', async () => {
    const s = await open('stream-input', 'model_id=eleven_flash_v2_5&output_format=ulaw_8000&sync_alignment=true');
    s.send({ text: ' ', voice_settings: { stability: 0.5, similarity_boost: 0.8 }, generation_config: { chunk_length_schedule: [120, 160, 250, 290] } });
    s.send({ text: 'Hello there, how can I help you today? ' });
    s.send({ text: '', flush: true });
    s.send({ text: 'Hello there, how can I help you today? ', flush: true });
    await waitFor('isFinal', () => s.frames.find((f) => f.isFinal === true));
    const audioFrames = s.frames.filter((f) => f.audio);
    expect(audioFrames.length).toBe(8); // one chunk per word
    for (const f of audioFrames) {
      // Only the spec's audio-message fields: no "isFinal": null, the spec spelling charsDurationsMs.
      expect(Object.keys(f).sort()).toEqual(['alignment', 'audio', 'normalizedAlignment']);
      expect(Object.keys(f.alignment).sort()).toEqual(['charStartTimesMs', 'chars', 'charsDurationsMs']);
      expect(f.normalizedAlignment.chars.join('')).toBe(f.alignment.chars.join(''));
      // One 65 ms tone block (520 bytes of μ-law) per character.
      expect(Buffer.from(f.audio, 'base64').length).toBe(f.alignment.chars.length * 520);
      expect(f.alignment.charsDurationsMs[0]).toBe(65);
    }
    expect(decodeToneText(audioOf(s.frames))).toBe('hello there, how can i help you today? ');
    expect(s.frames[s.frames.length - 1]).toEqual({ isFinal: true });
    s.send({ text: '' });
    await waitFor('close', () => s.closed());
    expect(s.closed()!.code).toBe(1000);
  });

  it('buffers text until the chunk_length_schedule threshold, then speaks it; {"text":""} speaks the rest and closes', async () => {
    const s = await open('stream-input', 'output_format=ulaw_8000', {});
    s.send({ text: ' ', xi_api_key: 'key-in-first-message', generation_config: { chunk_length_schedule: [50] } });
    s.send({ text: 'Twenty chars of it. ' });
    await new Promise((r) => setTimeout(r, 200));
    expect(s.frames).toEqual([]);
    s.send({ text: 'And now some more text to pass fifty. ' });
    await waitFor('audio', () => s.frames.length > 0);
    s.send({ text: 'Tail. ' });
    s.send({ text: '' });
    await waitFor('close', () => s.closed());
    expect(s.closed()!.code).toBe(1000);
    expect(decodeToneText(audioOf(s.frames))).toBe('twenty chars of it. and now some more text to pass fifty. tail. ');
    expect(s.frames[s.frames.length - 1]).toEqual({ isFinal: true });
  });

  it('refuses a socket without any API key with an error frame and close 1008', async () => {
    const s = await open('stream-input', 'output_format=ulaw_8000', {});
    s.send({ text: ' ' });
    await waitFor('close', () => s.closed());
    expect(s.closed()!.code).toBe(1008);
    expect(s.frames[0]).toMatchObject({ error: 'invalid_api_key', code: 1008 });
  });

  it('refuses output formats it does not implement with a clear 1008 error frame', async () => {
    const s = await open('stream-input', 'output_format=mp3_44100_128');
    await waitFor('close', () => s.closed());
    expect(s.closed()!.code).toBe(1008);
    expect(s.frames[0]).toMatchObject({ error: 'unsupported_output_format', code: 1008 });
    expect(s.frames[0]!.message).toMatch(/ulaw_8000/);
  });

  it('answers invalid JSON with invalid_input_message and close 1008', async () => {
    const s = await open('stream-input');
    s.send('{not json');
    await waitFor('close', () => s.closed());
    expect(s.frames[0]).toEqual({
      message: 'Could not parse input message, make sure it is a json and follows the schema outlined in protocol.',
      error: 'invalid_input_message',
      code: 1008,
    });
    expect(s.closed()!.code).toBe(1008);
  });

  it('times out an idle socket with input_timeout_exceeded and close 1008', async () => {
    emu.setKnobs({ inactivityTimeoutMs: 200 });
    try {
      const s = await open('stream-input');
      s.send({ text: ' ' });
      await waitFor('close', () => s.closed());
      expect(s.closed()!.code).toBe(1008);
      expect(s.frames[0]).toMatchObject({ error: 'input_timeout_exceeded', code: 1008 });
      expect(s.frames[0]!.message).toMatch(/^Have not received a new text input within the timeout of 0\.2 seconds/);
    } finally {
      emu.setKnobs({ inactivityTimeoutMs: undefined });
    }
  });
});

describe('ElevenLabs faults', () => {
  it('sends the configured vendor error frame and close code (closeWith)', async () => {
    emu.setKnobs({ closeWith: { afterMs: 30, code: 1011, reason: 'internal_error' } });
    try {
      const s = await open('stream-input');
      await waitFor('close', () => s.closed());
      expect(s.closed()).toEqual({ code: 1011, reason: 'internal_error' });
      expect(s.frames[0]).toMatchObject({ error: 'internal_error', code: 1011 });
    } finally {
      emu.setKnobs({ closeWith: undefined });
    }
  });

  it('refuses the upgrade with 429 and retry-after while the httpError fault lasts', async () => {
    emu.setKnobs({ httpError: { status: 429, retryAfter: 1 } });
    const res = await new Promise<{ status: number; retry: unknown }>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${emu.port}/v1/text-to-speech/v/stream-input?output_format=ulaw_8000`, { headers: { 'xi-api-key': 'k' } });
      ws.on('unexpected-response', (_q, r) => resolve({ status: r.statusCode ?? 0, retry: r.headers['retry-after'] }));
      ws.on('error', () => {});
    });
    expect(res).toEqual({ status: 429, retry: '1' });
  });
});

describe('ElevenLabs multi-stream-input', () => {
  const finals = (frames: Frame[], id?: string) => frames.filter((f) => f.isFinal === true && (id === undefined || f.contextId === id));

  it('tags audio with contextId, speaks on flush without isFinal, sends isFinal once a context is closed, and keeps a context alive on {"text":""}', async () => {
    const s = await open('multi-stream-input');
    s.send({ text: ' ', voice_settings: { stability: 0.5 }, context_id: 'turn-1' });
    s.send({ text: 'First answer. ', context_id: 'turn-1', flush: true });
    s.send({ text: 'Second one. ', context_id: 'turn-2', flush: true });
    await waitFor('both flushed', () => decodeToneText(audioOf(s.frames)).length === 'first answer. second one. '.length);
    await new Promise((r) => setTimeout(r, 50));
    expect(finals(s.frames)).toEqual([]); // "This is sent when a context is closed": a flush does not close it
    s.send({ text: '', context_id: 'turn-1' }); // KeepContextAlive
    s.send({ text: 'More. ', context_id: 'turn-1', flush: true });
    s.send({ context_id: 'turn-1', close_context: true });
    await waitFor('turn-1 final', () => finals(s.frames, 'turn-1').length === 1);
    expect(decodeToneText(audioOf(s.frames.filter((f) => f.contextId === 'turn-1')))).toBe('first answer. more. ');
    expect(decodeToneText(audioOf(s.frames.filter((f) => f.contextId === 'turn-2')))).toBe('second one. ');
    expect(s.frames.indexOf(finals(s.frames, 'turn-1')[0]!)).toBe(s.frames.length - 1); // after the flushed audio
    expect(finals(s.frames).every((f) => typeof f.contextId === 'string' && f.audio === undefined)).toBe(true);
    s.send({ close_socket: true });
    await waitFor('close', () => s.closed());
    expect(s.closed()!.code).toBe(1000);
    expect(finals(s.frames, 'turn-2').length).toBe(1); // close_socket closes every context
  });

  it('sends alignment on every chunk only with sync_alignment=true', async () => {
    const plain = await open('multi-stream-input');
    const synced = await open('multi-stream-input', 'model_id=eleven_flash_v2_5&output_format=ulaw_8000&sync_alignment=true');
    for (const s of [plain, synced]) {
      s.send({ text: ' ', context_id: 'a' });
      s.send({ text: 'Three words here. ', context_id: 'a', flush: true });
      s.send({ context_id: 'a', close_context: true });
      await waitFor('final', () => finals(s.frames).length === 1);
    }
    const aligned = (s: typeof plain) => s.frames.filter((f) => f.audio).map((f) => f.alignment !== undefined);
    expect(aligned(synced)).toEqual([true, true, true]);
    expect(aligned(plain)).toEqual([true, false, false]);
  });

  it('times out each context on its own after inactivity_timeout without a message naming it (isFinal, then the socket once none is left)', async () => {
    emu.setKnobs({ inactivityTimeoutMs: 250 });
    try {
      const s = await open('multi-stream-input');
      s.send({ text: ' ', context_id: 'quiet' });
      s.send({ text: ' ', context_id: 'busy' });
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 80));
        s.send({ text: '', context_id: 'busy' }); // the socket is never idle, yet "quiet" hears nothing
      }
      expect(finals(s.frames).map((f) => f.contextId)).toEqual(['quiet']);
      expect(emu.timedOutContexts.at(-1)).toBe('quiet');
      expect(s.closed()).toBeUndefined();
      await waitFor('close', () => s.closed());
      expect(finals(s.frames).map((f) => f.contextId)).toEqual(['quiet', 'busy']);
      expect(s.closed()!.code).toBe(1008);
      expect(s.frames.find((f) => f.error)).toMatchObject({ error: 'input_timeout_exceeded' });
    } finally {
      emu.setKnobs({ inactivityTimeoutMs: undefined });
    }
  });

  it('ignores try_trigger_generation on multi-stream-input: text waits for the default chunk_length_schedule (120 characters) or a flush', async () => {
    const s = await open('multi-stream-input');
    s.send({ text: ' ', context_id: 'c' });
    s.send({ text: 'Sure, ', context_id: 'c', try_trigger_generation: true });
    await new Promise((r) => setTimeout(r, 100));
    expect(s.frames.filter((f) => f.audio)).toEqual([]);
    s.send({ text: 'x'.repeat(120) + ' ', context_id: 'c' });
    await waitFor('audio', () => s.frames.some((f) => f.audio));
  });

  it('refuses a sixth open context with an error frame and close 1008', async () => {
    const s = await open('multi-stream-input');
    for (let i = 1; i <= 5; i++) s.send({ text: ' ', context_id: `c${i}` });
    s.send({ context_id: 'c1', close_context: true });
    s.send({ text: ' ', context_id: 'c6' }); // fine: c1 was closed
    await new Promise((r) => setTimeout(r, 100));
    expect(s.closed()).toBeUndefined();
    s.send({ text: ' ', context_id: 'c7' });
    await waitFor('close', () => s.closed());
    expect(s.closed()!.code).toBe(1008);
    expect(s.frames.find((f) => f.error)).toMatchObject({ error: 'max_active_conversations', code: 1008 });
  });

  it('rejects a context init that follows a keep-alive for that context (1008, as pipecat reports)', async () => {
    const s = await open('multi-stream-input');
    s.send({ text: '', context_id: 'early' });
    s.send({ text: ' ', context_id: 'early' });
    await waitFor('close', () => s.closed());
    expect(s.closed()!.code).toBe(1008);
    expect(s.frames[0]).toMatchObject({ error: 'invalid_input_message', code: 1008 });
  });
});

describe('ElevenLabs HTTP /stream', () => {
  it('answers 401 with the invalid_api_key detail without a key', async () => {
    const res = await fetch(`${emu.url}/v1/text-to-speech/voice123/stream?output_format=ulaw_8000`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hi', model_id: 'eleven_flash_v2_5' }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
  });

  it('streams tone audio that decodes to the requested text', async () => {
    const res = await fetch(`${emu.url}/v1/text-to-speech/voice123/stream?output_format=ulaw_8000&optimize_streaming_latency=3`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'xi-api-key': 'el-test' },
      body: JSON.stringify({ text: 'Your table is booked.', model_id: 'eleven_flash_v2_5', voice_settings: { stability: 0.5 } }),
    });
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(decodeToneText(bytes)).toBe('your table is booked.');
    expect(emu.generations.at(-1)).toMatchObject({ voiceId: 'voice123', text: 'Your table is booked.' });
  });
});
