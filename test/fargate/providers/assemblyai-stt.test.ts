// AssemblyAI v3 adapter: the real `assemblyai` SDK against the v3 emulator; Turn messages map onto the seam's events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssemblyAI } from 'assemblyai';
import { createAssemblyAiStt, initialTurnState, mapTurn, AssemblyAiError } from '../../../fargate/src/providers/assemblyai-stt';
import type { SttEvent } from '../../../fargate/src/providers/types';
import { startAssemblyAiEmulator, type AssemblyAiEmulator } from '../../../local/emulators/assemblyai';
import { audio, collect, controlled, log, pushFrames, speech, waitFor } from './helpers';

let emu: AssemblyAiEmulator;
let tlsBefore: string | undefined;

beforeAll(async () => {
  // The emulator's certificate is self-signed and made at start; the SDK only speaks wss.
  tlsBefore = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  emu = await startAssemblyAiEmulator({ script: ['Ten AM works for me.', 'Yes, please book it.'], apiKey: 'aai-test' });
});

afterAll(async () => {
  await emu.close();
  if (tlsBefore === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  else process.env.NODE_TLS_REJECT_UNAUTHORIZED = tlsBefore;
});

const stt = () => createAssemblyAiStt({ apiKey: 'aai-test', url: emu.wsUrl, log });

describe('AssemblyAI STT against the v3 emulator', () => {
  it('maps SpeechStarted, partial Turns and the end_of_turn Turn onto speech-started, transcripts and end-of-turn', async () => {
    const input = controlled<Uint8Array>();
    const ac = new AbortController();
    const events = collect(stt().transcribe(input.stream, ac.signal));
    pushFrames(input.push, audio(300, speech(900), 600));
    const eot = await waitFor('end-of-turn', () => events.items.find((e) => e.kind === 'end-of-turn'));
    input.end();
    await events.finished;
    expect(events.error).toBeUndefined();
    const kinds = events.items.map((e) => e.kind);
    expect(kinds[0]).toBe('speech-started');
    expect(kinds.filter((k) => k === 'transcript').length).toBeGreaterThan(0);
    expect(eot).toMatchObject({ kind: 'end-of-turn', text: 'ten am works for me' });
    const started = events.items[0] as Extract<SttEvent, { kind: 'speech-started' }>;
    expect(started.at).toBeCloseTo(0.3, 1);
    const words = (eot as Extract<SttEvent, { kind: 'end-of-turn' }>).words;
    expect(words[0]!.start).toBeGreaterThanOrEqual(0.28);
    expect(words.at(-1)!.end).toBeLessThanOrEqual(1.25);
  });

  it('flushes the last words when the audio ends mid-turn (Terminate → last Turn → Termination)', async () => {
    const input = controlled<Uint8Array>();
    const events = collect(stt().transcribe(input.stream, new AbortController().signal));
    pushFrames(input.push, audio(100, speech(700)));
    input.end();
    await events.finished;
    expect(events.error).toBeUndefined();
    expect(events.items.at(-1)).toMatchObject({ kind: 'end-of-turn', text: 'ten am works for me' });
  });

  it('fails the stream with AssemblyAiError when the socket drops mid-call', async () => {
    const input = controlled<Uint8Array>();
    const events = collect(stt().transcribe(input.stream, new AbortController().signal));
    pushFrames(input.push, audio(200, speech(400)));
    await waitFor('a partial', () => events.items.some((e) => e.kind === 'transcript'));
    emu.dropConnections();
    await events.finished;
    expect(events.error).toBeInstanceOf(AssemblyAiError);
  });

  it('refuses a wrong key with close 4001 at connect', async () => {
    const bad = createAssemblyAiStt({ apiKey: 'wrong', url: emu.wsUrl, log });
    const events = collect(bad.transcribe(controlled<Uint8Array>().stream, new AbortController().signal));
    await events.finished;
    expect(events.error).toBeInstanceOf(AssemblyAiError);
    expect((events.error as AssemblyAiError).code).toBe(4001);
  });

  it('closes 3007 when the SDK sends a chunk shorter than 50 ms', async () => {
    const t = new AssemblyAI({ apiKey: 'aai-test' }).streaming.transcriber({
      websocketBaseUrl: emu.wsUrl, sampleRate: 8000, encoding: 'pcm_mulaw', speechModel: 'universal-streaming-english', maxConnectionRetries: 0,
    });
    let closed: number | undefined;
    t.on('close', (code) => (closed = code));
    await t.connect();
    t.sendAudio(new Uint8Array(160).fill(0xff).buffer);
    await waitFor('close', () => closed);
    expect(closed).toBe(3007);
  });
});

describe('mapTurn', () => {
  const turn = (over: Record<string, unknown>) => ({
    type: 'Turn' as const, turn_order: 0, turn_is_formatted: false, end_of_turn: false, transcript: '', end_of_turn_confidence: 0.1,
    words: [{ start: 100, end: 300, text: 'yes', confidence: 0.8, word_is_final: true }, { start: 350, end: 500, text: 'please', confidence: 0.6, word_is_final: false }],
    ...over,
  });

  it('gives partials every heard word (final or not) and ms times as seconds', () => {
    const [ev] = mapTurn(turn({ transcript: 'yes' }), initialTurnState());
    expect(ev).toMatchObject({ kind: 'transcript', text: 'yes please', isFinal: false, speechFinal: false });
    expect((ev as Extract<SttEvent, { kind: 'transcript' }>).words[1]).toMatchObject({ start: 0.35, end: 0.5 });
    expect((ev as Extract<SttEvent, { kind: 'transcript' }>).confidence).toBeCloseTo(0.7);
  });

  it('turns a populated utterance into an eager end of turn, and more words in that turn into turn-resumed', () => {
    const state = initialTurnState();
    expect(mapTurn(turn({ utterance: 'yes please' }), state).map((e) => e.kind)).toEqual(['transcript', 'eager-end-of-turn']);
    const more = turn({ words: [...turn({}).words, { start: 900, end: 1000, text: 'now', confidence: 0.9, word_is_final: false }] });
    expect(mapTurn(more, state).map((e) => e.kind)).toEqual(['turn-resumed', 'transcript']);
  });

  it('ends the turn once and drops the formatted repeat of the same turn_order', () => {
    const state = initialTurnState();
    expect(mapTurn(turn({ end_of_turn: true, transcript: 'yes please' }), state)).toMatchObject([{ kind: 'end-of-turn', text: 'yes please' }]);
    expect(mapTurn(turn({ end_of_turn: true, turn_is_formatted: true, transcript: 'Yes, please.' }), state)).toEqual([]);
  });
});
