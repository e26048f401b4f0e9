// Deepgram STT provider: pure message mapping on literal vendor messages, and the real @deepgram/sdk against the local emulator.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeepgramEmulator, type DeepgramEmulator } from '../../../local/emulators/deepgram';
import { createDeepgramStt, mapFluxMessage, mapNovaMessage, SttError, type DeepgramSttOptions } from '../../../fargate/src/providers/deepgram-stt';
import type { Mulaw, SttEvent } from '../../../fargate/src/providers/types';
import { audio, collect, controlled, log, pushFrames, sleep, speech, waitFor } from './helpers';

describe('Deepgram message mapping (literal protocols.md §2 messages)', () => {
  it('maps the recorded mulaw Results fixture to a final transcript with punctuated words and their seconds', () => {
    const msg = JSON.parse(
      '{"channel": {"alternatives": [{"transcript": "For the United States of America.", "confidence": 0.9990865, "words": [{"word": "for", "start": 17.56, "end": 17.72, "confidence": 0.9873626, "punctuated_word": "For"}, {"word": "the", "start": 17.72, "end": 17.88, "confidence": 0.9990865, "punctuated_word": "the"}, {"word": "america", "start": 18.2, "end": 18.66, "confidence": 0.96024, "punctuated_word": "America."}]}]}, "metadata": {"request_id": "e1985d01"}, "type": "Results", "channel_index": [0, 1], "duration": 1.6599998, "start": 17.0, "is_final": true, "from_finalize": false, "speech_final": true}',
    );
    expect(mapNovaMessage(msg)).toEqual({
      kind: 'transcript',
      text: 'For the United States of America.',
      confidence: 0.9990865,
      isFinal: true,
      speechFinal: true,
      words: [
        { word: 'For', start: 17.56, end: 17.72, confidence: 0.9873626 },
        { word: 'the', start: 17.72, end: 17.88, confidence: 0.9990865 },
        { word: 'America.', start: 18.2, end: 18.66, confidence: 0.96024 },
      ],
    });
  });

  it('keeps speech_final independent of is_final and flags from_finalize results', () => {
    const base = { type: 'Results', channel: { alternatives: [{ transcript: 'yes', confidence: 0.9, words: [] }] } };
    expect(mapNovaMessage({ ...base, is_final: false, speech_final: true })).toMatchObject({ isFinal: false, speechFinal: true });
    expect(mapNovaMessage({ ...base, is_final: true, speech_final: false, from_finalize: true })).toMatchObject({ isFinal: true, fromFinalize: true });
  });

  it('maps SpeechStarted and UtteranceEnd, and ignores Metadata', () => {
    expect(mapNovaMessage({ type: 'SpeechStarted', channel: [0, 1], timestamp: 9.54 })).toEqual({ kind: 'speech-started', at: 9.54 });
    expect(mapNovaMessage({ channel: [0, 1], last_word_end: 2.395, type: 'UtteranceEnd' })).toEqual({ kind: 'utterance-end', lastWordEnd: 2.395 });
    expect(mapNovaMessage({ type: 'Metadata', request_id: 'x', sha256: 'y', duration: 0, channels: 0 })).toBeUndefined();
  });

  it('maps Flux TurnInfo events, carries end_of_turn_confidence, and moves word times by the time map', () => {
    const eot = {
      type: 'TurnInfo', request_id: 'r', sequence_id: 7, event: 'EndOfTurn', turn_index: 0, audio_window_start: 0.2, audio_window_end: 1.1,
      transcript: 'Hello there', end_of_turn_confidence: 0.91,
      words: [{ word: 'Hello', confidence: 0.98, start: 0.3, end: 0.6 }, { word: 'there', confidence: 0.96, start: 0.6, end: 0.9 }],
    };
    expect(mapFluxMessage(eot, (t) => Math.round((t - 0.1) * 1000) / 1000)).toEqual({
      kind: 'end-of-turn',
      text: 'Hello there',
      confidence: 0.97,
      endOfTurnConfidence: 0.91,
      words: [{ word: 'Hello', confidence: 0.98, start: 0.2, end: 0.5 }, { word: 'there', confidence: 0.96, start: 0.5, end: 0.8 }],
    });
    expect(mapFluxMessage({ ...eot, event: 'EagerEndOfTurn' })).toMatchObject({ kind: 'eager-end-of-turn', text: 'Hello there' });
    expect(mapFluxMessage({ ...eot, event: 'TurnResumed' })).toEqual({ kind: 'turn-resumed' });
    expect(mapFluxMessage({ ...eot, event: 'StartOfTurn' })).toEqual({ kind: 'speech-started', at: 0.3 });
    expect(mapFluxMessage({ ...eot, event: 'Update' })).toMatchObject({ kind: 'transcript', isFinal: false, speechFinal: false, text: 'Hello there' });
    expect(mapFluxMessage({ type: 'Connected', request_id: 'r', sequence_id: 0 })).toBeUndefined();
  });

  it('throws a Flux fatal Error message as SttError', () => {
    expect(() => mapFluxMessage({ type: 'Error', sequence_id: 3, code: 'INTERNAL_SERVER_ERROR', description: 'boom' })).toThrow(SttError);
  });
});

describe('createDeepgramStt against the Deepgram emulator', () => {
  let emu: DeepgramEmulator;
  const profile = { endpointingMs: 300, utteranceEndMs: 1000 };
  const opts = (o: Partial<DeepgramSttOptions> = {}): DeepgramSttOptions => ({ apiKey: 'dg-test', url: emu.url, model: 'nova-3', profile, log, ...o });

  beforeAll(async () => {
    emu = await startDeepgramEmulator({ knobs: { finalMs: 10, seed: 3 } });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('refuses utterance_end_ms below 1000 before dialing', () => {
    expect(() => createDeepgramStt(opts({ profile: { endpointingMs: 300, utteranceEndMs: 500 } }))).toThrow(/at least 1000/);
  });

  it('maps Nova v1 SpeechStarted, interims, final speech_final and UtteranceEnd in order, words on the inbound timeline', async () => {
    emu.setScript(['Hello there, how are you today?']);
    const stt = createDeepgramStt(opts());
    const ac = new AbortController();
    const a = controlled<Mulaw>();
    const out = collect(stt.transcribe(a.stream, ac.signal));
    pushFrames(a.push, audio(300, speech(1560), 1600));
    await waitFor('utterance-end', () => out.items.find((e) => e.kind === 'utterance-end'));
    const kinds = out.items.map((e) => (e.kind === 'transcript' ? (e.isFinal ? (e.speechFinal ? 'final+speech_final' : 'final') : 'interim') : e.kind));
    expect(kinds[0]).toBe('speech-started');
    const fin = kinds.indexOf('final+speech_final');
    expect(fin).toBeGreaterThan(1);
    expect(kinds.slice(1, fin).every((k) => k === 'interim')).toBe(true);
    expect(kinds.indexOf('utterance-end')).toBe(fin + 1);
    const final = out.items[fin] as Extract<SttEvent, { kind: 'transcript' }>;
    expect(final.text).toBe('Hello there, how are you today?');
    expect(final.words.map((w) => w.word)).toEqual(['Hello', 'there,', 'how', 'are', 'you', 'today?']);
    expect(final.words[0]!.start).toBeCloseTo(0.3, 2);
    expect((out.items[0] as { at: number }).at).toBeCloseTo(0.3, 2);
    const ue = out.items[fin + 1] as Extract<SttEvent, { kind: 'utterance-end' }>;
    expect(ue.lastWordEnd).toBe(final.words[5]!.end);
    a.end();
    await out.finished;
    expect(out.error).toBeUndefined();
  });

  it('transcribes the scenario speech recording (espeak μ-law) into one speech_final segment', async () => {
    const line = "Hi, I'd like to book a haircut for tomorrow.";
    emu.setScript([line]);
    const recording = new Uint8Array(readFileSync(new URL('../../../local/scenarios/audio/booking-1.ulaw', import.meta.url)));
    const a = controlled<Mulaw>();
    const out = collect(createDeepgramStt(opts({ profile: { endpointingMs: 500, utteranceEndMs: 1000 } })).transcribe(a.stream, new AbortController().signal));
    pushFrames(a.push, audio(recording, 800));
    const final = (await waitFor('speech_final', () => out.items.find((e) => e.kind === 'transcript' && e.speechFinal))) as Extract<SttEvent, { kind: 'transcript' }>;
    expect(final.text).toBe(line);
    expect(final.words.at(-1)!.end).toBeLessThanOrEqual(recording.length / 8000 + 0.02); // within one 20 ms frame of the audio end
    a.end();
    await out.finished;
  });

  it('sends Finalize at hang-up so the words still in flight arrive as a from_finalize final before the stream ends', async () => {
    emu.setScript(['book me in please']);
    const stt = createDeepgramStt(opts());
    const a = controlled<Mulaw>();
    const out = collect(stt.transcribe(a.stream, new AbortController().signal));
    pushFrames(a.push, audio(200, speech(900)));
    a.end(); // hang-up mid-speech: no endpointing silence ever comes
    await out.finished;
    expect(out.error).toBeUndefined();
    const finals = out.items.filter((e): e is Extract<SttEvent, { kind: 'transcript' }> => e.kind === 'transcript' && e.isFinal);
    expect(finals.map((f) => [f.text, f.fromFinalize])).toEqual([['book me in please', true]]);
  });

  it('keeps a quiet v1 socket open with KeepAlive past the no-audio timeout, and loses it without', async () => {
    emu.setKnobs({ noAudioTimeoutMs: 400 });
    try {
      const kept = await createDeepgramStt(opts({ keepAliveMs: 100 })).connect();
      const lost = await createDeepgramStt(opts({ keepAliveMs: 60_000 })).connect();
      await waitFor('the unkept socket to close', () => !lost.isOpen, 3000);
      await sleep(600);
      expect(kept.isOpen).toBe(true);
      kept.close();
      await kept.closed;
    } finally {
      emu.setKnobs({ noAudioTimeoutMs: undefined });
    }
  });

  it('surfaces an unexpected close (1011 NET-0001) as an SttError thrown from the iterator, without reconnecting', async () => {
    emu.setKnobs({ noAudioTimeoutMs: 300 });
    try {
      const before = emu.activeConnections();
      const stt = createDeepgramStt(opts({ keepAliveMs: 60_000 }));
      const a = controlled<Mulaw>(); // the inbound audio stalls: nothing is sent
      const out = collect(stt.transcribe(a.stream, new AbortController().signal));
      await out.finished;
      expect(out.error).toBeInstanceOf(SttError);
      expect((out.error as SttError).code).toBe(1011);
      expect((out.error as Error).message).toMatch(/NET-0001/);
      await sleep(200);
      expect(emu.activeConnections()).toBeLessThanOrEqual(before); // the SDK did not silently redial
    } finally {
      emu.setKnobs({ noAudioTimeoutMs: undefined });
    }
  });

  it('rejects connect with SttError when the upgrade is refused', async () => {
    emu.setKnobs({ httpError: { status: 503 } });
    await expect(createDeepgramStt(opts()).connect()).rejects.toBeInstanceOf(SttError);
  });

  it('ends the iteration promptly when the call signal aborts', async () => {
    emu.setScript(['hello']);
    const conn = await createDeepgramStt(opts()).connect();
    const ac = new AbortController();
    const a = controlled<Mulaw>();
    const out = collect(conn.transcribe(a.stream, ac.signal));
    pushFrames(a.push, audio(200, speech(300)));
    await waitFor('speech-started', () => out.items.length > 0);
    ac.abort();
    await out.finished;
    expect(out.error).toBeUndefined();
    await waitFor('socket closed', () => !conn.isOpen, 3000);
  });

  it('maps Flux StartOfTurn, EagerEndOfTurn, TurnResumed and EndOfTurn from audio', async () => {
    emu.setScript(['one two', 'three four']);
    const stt = createDeepgramStt(opts({ model: 'flux-general-en', flux: { eotThreshold: 0.7, eagerEotThreshold: 0.5 } }));
    const a = controlled<Mulaw>();
    const out = collect(stt.transcribe(a.stream, new AbortController().signal));
    // eager after 350 ms of silence, end of turn after 550 ms (emulator defaults from the thresholds)
    pushFrames(a.push, audio(200, speech(650), 450, speech(650), 900));
    await waitFor('end-of-turn', () => out.items.find((e) => e.kind === 'end-of-turn'));
    const kinds = out.items.map((e) => e.kind).filter((k) => k !== 'transcript');
    expect(kinds).toEqual(['speech-started', 'eager-end-of-turn', 'turn-resumed', 'eager-end-of-turn', 'end-of-turn']);
    const eager = out.items.find((e) => e.kind === 'eager-end-of-turn') as Extract<SttEvent, { kind: 'eager-end-of-turn' }>;
    expect(eager.text).toBe('one two');
    const end = out.items.find((e) => e.kind === 'end-of-turn') as Extract<SttEvent, { kind: 'end-of-turn' }>;
    expect(end.text).toBe('one two three four');
    expect(out.items.some((e) => e.kind === 'transcript' && !e.isFinal)).toBe(true);
    a.end();
    await out.finished;
    expect(out.error).toBeUndefined();
  });

  it('completes the last partial Flux chunk with silence at the end of the audio, so every message is 80 ms', async () => {
    emu.setScript(['hello']);
    const conn = await createDeepgramStt(opts({ model: 'flux-general-en', flux: { eotThreshold: 0.7 }, keepAliveMs: 60_000 })).connect();
    const a = controlled<Mulaw>();
    const out = collect(conn.transcribe(a.stream, new AbortController().signal));
    pushFrames(a.push, audio(100, speech(300), 60)); // not a whole number of 80 ms chunks
    a.end();
    await out.finished;
    const sizes = emu.audioChunks.filter((c) => c.path === '/v2/listen').at(-1)!.bytes;
    await waitFor('the last chunk at the emulator', () => (sizes.length >= 7 ? true : undefined));
    expect(sizes.filter((n) => n !== 640), `sizes ${sizes.join(',')}`).toEqual([]);
  });

  it('keeps an idle Flux socket alive with silence frames (no KeepAlive on v2) and removes that silence from word times', async () => {
    emu.setKnobs({ noAudioTimeoutMs: 400 });
    try {
      emu.setScript(['good morning']);
      const conn = await createDeepgramStt(opts({ model: 'flux-general-en', flux: { eotThreshold: 0.7 }, keepAliveMs: 100 })).connect();
      await sleep(900); // ~8 injected 20 ms silence frames; a KeepAlive would have killed the socket
      expect(conn.isOpen).toBe(true);
      const a = controlled<Mulaw>();
      const out = collect(conn.transcribe(a.stream, new AbortController().signal));
      pushFrames(a.push, audio(300, speech(650), 800));
      const end = (await waitFor('end-of-turn', () => out.items.find((e) => e.kind === 'end-of-turn'))) as Extract<SttEvent, { kind: 'end-of-turn' }>;
      expect(end.words[0]!.start).toBeCloseTo(0.3, 2);
      a.end();
      await out.finished;
      // 80 ms chunks (640 B) on v2, the keep-alive silence and the last words (1.75 s of audio: a partial chunk,
      // completed with silence) included.
      const sizes = emu.audioChunks.filter((c) => c.path === '/v2/listen').at(-1)!.bytes;
      expect(sizes.length).toBeGreaterThan(10);
      expect(sizes.filter((n) => n !== 640), `sizes ${sizes.join(',')}`).toEqual([]);
    } finally {
      emu.setKnobs({ noAudioTimeoutMs: undefined });
    }
  });
});
