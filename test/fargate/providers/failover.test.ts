// Failover wrappers against the real emulators: the primary's socket is killed mid-stream and the call carries on on the backup.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAssemblyAiStt } from '../../../fargate/src/providers/assemblyai-stt';
import { CircuitBreaker } from '../../../fargate/src/providers/circuit-breaker';
import { createDeepgramTts } from '../../../fargate/src/providers/deepgram-tts';
import { createElevenLabsTts } from '../../../fargate/src/providers/elevenlabs-tts';
import {
  failoverLlm,
  failoverStt,
  failoverTts,
  ReplayBuffer,
  resumeIndex,
  SeamFailedError,
  shiftSttEvent,
  type FailoverEvent,
} from '../../../fargate/src/providers/failover';
import { lazyTts } from '../../../fargate/src/providers/chain-config';
import { createGoogleStt } from '../../../fargate/src/providers/google-stt';
import { createGroqLlm } from '../../../fargate/src/providers/groq-llm';
import { createOpenAiCompatibleLlm } from '../../../fargate/src/providers/openai-compatible-llm';
import type { LlmEvent, SttEvent } from '../../../fargate/src/providers/types';
import { decodeToneText } from '../../../local/audio/tone-text';
import { startAssemblyAiEmulator, type AssemblyAiEmulator } from '../../../local/emulators/assemblyai';
import { startDeepgramTtsEmulator } from '../../../local/emulators/deepgram-tts';
import { startElevenLabsEmulator } from '../../../local/emulators/elevenlabs';
import { startGoogleSttEmulator, type GoogleSttEmulator } from '../../../local/emulators/google-stt';
import { startLlmEmulator } from '../../../local/emulators/llm';
import { audio, collect, controlled, log, pushFrames, speech, waitFor } from './helpers';

const breaker = () => new CircuitBreaker({ failureThreshold: 1, openMs: 60_000 });

describe('failoverStt with AssemblyAI → Google', () => {
  let aai: AssemblyAiEmulator;
  let google: GoogleSttEmulator;
  let tlsBefore: string | undefined;
  beforeAll(async () => {
    tlsBefore = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the AssemblyAI emulator's self-signed certificate
    aai = await startAssemblyAiEmulator({ script: ['Ten AM works for me.', 'Yes, please book it.'] });
    // The backup hears only what was not finalised (one script cursor per connection): its first burst is the second line.
    google = await startGoogleSttEmulator({ script: ['Yes, please book it.'] });
  });
  afterAll(async () => {
    await Promise.all([aai.close(), google.close()]);
    if (tlsBefore === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = tlsBefore;
  });

  it('moves to the backup when the primary drops mid-turn, replaying the audio since the last final onto the media timeline', async () => {
    const failovers: FailoverEvent[] = [];
    const stt = failoverStt(
      [
        { name: 'assemblyai', impl: createAssemblyAiStt({ apiKey: 'k', url: aai.wsUrl, log }), breaker: breaker() },
        { name: 'google', impl: createGoogleStt({ endpoint: google.endpoint, log }), breaker: breaker() },
      ],
      (e) => failovers.push(e),
    );
    const input = controlled<Uint8Array>();
    const events = collect(stt.transcribe(input.stream, new AbortController().signal));
    pushFrames(input.push, audio(200, speech(800), 600)); // turn 1: 0.2–1.0 s, ended by AssemblyAI
    await waitFor('first end-of-turn', () => events.items.find((e) => e.kind === 'end-of-turn'));
    pushFrames(input.push, audio(300, speech(300))); // turn 2 starts at 1.9 s ...
    await waitFor('a partial of turn 2', () => events.items.filter((e) => e.kind === 'transcript').length > 0 && aai.activeConnections() > 0);
    aai.dropConnections(); // ... and the primary dies in the middle of it
    pushFrames(input.push, audio(speech(500), 400));
    const final = await waitFor('the backup final', () => events.items.find((e): e is Extract<SttEvent, { kind: 'transcript' }> => e.kind === 'transcript' && e.isFinal));
    input.end();
    await events.finished;
    expect(events.error).toBeUndefined();
    expect(failovers).toEqual([expect.objectContaining({ seam: 'stt', from: 'assemblyai', to: 'google' })]);
    expect(final.text).toBe('Yes, please book it.');
    // Turn 2 began at 1.9 s of call audio; the backup's own clock started at the replay, so without the shift it would say ≈ 0.5 s.
    expect(final.words[0]!.start).toBeGreaterThan(1.8);
  });

  it('skips a primary that refuses the connection and throws SeamFailedError once every provider failed', async () => {
    const dead = createAssemblyAiStt({ apiKey: 'k', url: 'wss://127.0.0.1:1/v3/ws', log, connectTimeoutMs: 500 });
    const stt = failoverStt([
      { name: 'assemblyai', impl: dead, breaker: breaker() },
      { name: 'google', impl: createGoogleStt({ endpoint: '127.0.0.1:1', log }), breaker: breaker() },
    ]);
    const input = controlled<Uint8Array>();
    const events = collect(stt.transcribe(input.stream, new AbortController().signal));
    pushFrames(input.push, audio(200, speech(300)));
    await events.finished;
    expect(events.error).toBeInstanceOf(SeamFailedError);
    expect((events.error as SeamFailedError).failures.map((f) => f.provider)).toEqual(['assemblyai', 'google']);
  });
});

describe('failoverLlm with Groq → Fireworks (OpenAI-compatible)', () => {
  const rules = [{ when: {}, reply: { text: 'Tomorrow I have 9 AM and 10 AM open.' } }];
  const text = (evs: LlmEvent[]) => evs.map((e) => (e.kind === 'text' ? e.delta : '')).join('');

  it('asks the backup, with its own model name, when the primary fails before any text', async () => {
    const groq = await startLlmEmulator({ rules, knobs: { ttftMs: 5, failNext: { status: 503, count: 10 } } });
    const fireworks = await startLlmEmulator({ rules, knobs: { ttftMs: 5 } });
    try {
      const failovers: FailoverEvent[] = [];
      const llm = failoverLlm(
        [
          { name: 'groq', impl: createGroqLlm({ apiKey: 'gsk', baseURL: groq.url, log, maxRetries: 0 }), breaker: breaker() },
          { name: 'fireworks', impl: createOpenAiCompatibleLlm({ apiKey: 'fw', baseURL: `${fireworks.url}/v1`, log }), breaker: breaker(), model: 'accounts/fireworks/models/gpt-oss-20b' },
        ],
        (e) => failovers.push(e),
      );
      const out = collect(llm.stream({ model: 'openai/gpt-oss-20b', messages: [{ role: 'user', content: 'hi' }] }, new AbortController().signal));
      await out.finished;
      expect(out.error).toBeUndefined();
      expect(text(out.items)).toBe('Tomorrow I have 9 AM and 10 AM open.');
      expect(failovers).toEqual([expect.objectContaining({ seam: 'llm', from: 'groq', to: 'fireworks' })]);
      expect(fireworks.requests.at(-1)?.body.model).toBe('accounts/fireworks/models/gpt-oss-20b');
    } finally {
      await Promise.all([groq.close(), fireworks.close()]);
    }
  });

  it('does not repeat a reply on the backup once the primary has spoken some of it', async () => {
    const groq = await startLlmEmulator({ rules, knobs: { ttftMs: 5, failNext: { midStream: true, afterChunks: 2 } } });
    const fireworks = await startLlmEmulator({ rules, knobs: { ttftMs: 5 } });
    try {
      const llm = failoverLlm([
        { name: 'groq', impl: createGroqLlm({ apiKey: 'gsk', baseURL: groq.url, log, maxRetries: 0 }), breaker: breaker() },
        { name: 'fireworks', impl: createOpenAiCompatibleLlm({ apiKey: 'fw', baseURL: `${fireworks.url}/v1`, log }), breaker: breaker() },
      ]);
      const out = collect(llm.stream({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, new AbortController().signal));
      await out.finished;
      expect(out.error).toBeDefined();
      expect(out.error).not.toBeInstanceOf(SeamFailedError);
      expect(fireworks.requests).toHaveLength(0);
    } finally {
      await Promise.all([groq.close(), fireworks.close()]);
    }
  });
});

describe('failoverTts with ElevenLabs → Deepgram Aura-2', () => {
  it('resumes on the backup at the clause after the one being heard when the primary dies mid-reply', async () => {
    const eleven = await startElevenLabsEmulator({ knobs: { firstByteMs: 5, msPerChar: 30 } });
    const aura = await startDeepgramTtsEmulator({ knobs: { firstByteMs: 5, msPerChar: 0 } });
    try {
      const failovers: FailoverEvent[] = [];
      const primary = lazyTts(() => createElevenLabsTts({ apiKey: 'xi', url: eleven.url, voiceId: 'v', model: 'eleven_flash_v2_5', log }).connect());
      const backup = lazyTts(() => createDeepgramTts({ apiKey: 'dg', url: aura.url, log }).connect());
      const tts = failoverTts(
        [
          { name: 'elevenlabs', impl: primary, breaker: breaker() },
          { name: 'deepgram', impl: backup, breaker: breaker() },
        ],
        (e) => failovers.push(e),
      );
      const text = controlled<string>();
      const out = collect(tts.synthesize(text.stream, new AbortController().signal));
      text.push('Great, a haircut tomorrow at ten. ');
      text.push('Shall I book it? ');
      text.push('I can text you a reminder too.');
      text.end();
      await waitFor('first primary audio', () => out.items.length > 0);
      await eleven.close(); // kills the primary's socket mid-clause
      await out.finished;
      expect(out.error).toBeUndefined();
      expect(failovers).toEqual([expect.objectContaining({ seam: 'tts', from: 'elevenlabs', to: 'deepgram' })]);
      expect(aura.generations.map((g) => g.text).join('')).toBe('Shall I book it? I can text you a reminder too.');
      const all = decodeToneText(new Uint8Array(Buffer.concat(out.items.map((c) => Buffer.from(c.audio)))));
      expect(all).toContain('shall i book it? i can text you a reminder too.');
      primary.close();
      backup.close();
    } finally {
      await aura.close();
    }
  });
});

describe('failover helpers', () => {
  it('resumes at the clause after the one being heard, or repeats from the start when nothing was heard', () => {
    const pieces = ['Hello there. ', 'How can I help? ', 'Bye.'];
    expect(resumeIndex(pieces, 0, 0)).toBe(0);
    expect(resumeIndex(pieces, 0, 5)).toBe(1);
    expect(resumeIndex(pieces, 0, 14)).toBe(2);
    expect(resumeIndex(pieces, 0, 999)).toBe(3);
  });

  it('keeps only whole frames after the last final word and knows their media time', () => {
    const b = new ReplayBuffer();
    for (let i = 0; i < 10; i++) b.push(new Uint8Array(160)); // 10 × 20 ms
    b.trimTo(0.05);
    expect(b.startSec).toBe(0.04);
    expect(b.frames).toHaveLength(8);
    b.clear();
    expect(b.startSec).toBe(0.2);
  });

  it('moves event times onto the media timeline', () => {
    expect(shiftSttEvent({ kind: 'speech-started', at: 0.5 }, 2)).toEqual({ kind: 'speech-started', at: 2.5 });
    expect(shiftSttEvent({ kind: 'end-of-turn', text: 'x', confidence: 1, words: [{ word: 'x', start: 0.1, end: 0.2, confidence: 1 }] }, 1)).toMatchObject({
      words: [{ start: 1.1, end: 1.2 }],
    });
  });

  it('keeps new calls off a provider whose breaker is open', async () => {
    const sick = { name: 'groq', impl: { stream: () => { throw new Error('must not be called'); } }, breaker: new CircuitBreaker({ failureThreshold: 1, openMs: 60_000 }) };
    sick.breaker.failure();
    const ok = { name: 'together', impl: { async *stream() { yield { kind: 'text' as const, delta: 'hi' }; } }, breaker: breaker() };
    const out = collect(failoverLlm([sick, ok]).stream({ model: 'm', messages: [] }, new AbortController().signal));
    await out.finished;
    expect(out.error).toBeUndefined();
    expect(out.items).toEqual([{ kind: 'text', delta: 'hi' }]);
  });
});
