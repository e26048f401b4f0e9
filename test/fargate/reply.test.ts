// One reply against the real Groq SDK + LLM emulator and the real ElevenLabs client + emulator: clauses, marks, holding, abort.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Playout } from '../../fargate/src/call/playout';
import { createElevenLabsTts, type TtsConnection } from '../../fargate/src/providers/elevenlabs-tts';
import { createGroqLlm } from '../../fargate/src/providers/groq-llm';
import type { LanguageModel, ToolClient } from '../../fargate/src/providers/types';
import { Reply, type ReplyDeps } from '../../fargate/src/call/reply';
import { decodeToneText } from '../../local/audio/tone-text';
import { startElevenLabsEmulator, startLlmEmulator, type ElevenLabsEmulator, type LlmEmulator } from '../../local/emulators';

const log = pino({ level: 'silent' });
let llmEmu: LlmEmulator;
let ttsEmu: ElevenLabsEmulator;
let llm: LanguageModel;
let tts: TtsConnection;

/** Twilio's side of the socket as the reply sees it: what was sent, in order. */
function wire() {
  const sent: ({ audio: Uint8Array } | { mark: string } | 'clear')[] = [];
  return { sent, play: (a: Uint8Array) => void sent.push({ audio: a }), mark: (m: string) => void sent.push({ mark: m }), clear: () => void sent.push('clear') };
}
const noTools: ToolClient = {
  call: async (c) => ({ toolCallId: c.id, name: c.name, ok: false, content: '{"error":"no tools in this test"}', latencyMs: 0 }),
};

function deps(playout: Playout, over: Partial<ReplyDeps> = {}): ReplyDeps {
  return {
    callSid: 'CAtest', llm, tts, tools: noTools, model: 'openai/gpt-oss-20b', toolDefs: [], latencyClass: () => 'instant',
    filler: () => undefined, playout, log, ...over,
  };
}

beforeAll(async () => {
  llmEmu = await startLlmEmulator({
    rules: [{ when: { lastUser: 'hours' }, reply: { text: 'We are open from nine to six, Monday to Saturday. On Sundays we are closed.' } }],
    knobs: { ttftMs: 20, tokensPerSecond: 400 },
  });
  ttsEmu = await startElevenLabsEmulator({ knobs: { firstByteMs: 20 } });
  llm = createGroqLlm({ apiKey: 'gsk_test', baseURL: llmEmu.url, log });
  tts = await createElevenLabsTts({ apiKey: 'k', url: `ws://127.0.0.1:${ttsEmu.port}`, voiceId: 'v1', model: 'eleven_flash_v2_5', log }).connect();
});

afterAll(async () => {
  tts?.close();
  await Promise.all([llmEmu?.close(), ttsEmu?.close()]);
});

const ask = [{ role: 'user' as const, content: 'What are your hours?' }];

describe('Reply', () => {
  it('speaks clause by clause, sends a mark after every audio chunk, and records the assistant message', async () => {
    const w = wire();
    const playout = new Playout(w);
    const r = new Reply(deps(playout), 'r1', 1, ask, { speculative: false, callSignal: new AbortController().signal, speechEndAt: Date.now() });
    const out = await r.done;
    expect(out.status).toBe('done');
    expect(out.messages).toEqual([{ role: 'assistant', content: 'We are open from nine to six, Monday to Saturday. On Sundays we are closed.' }]);
    // Every audio frame is followed by its own mark.
    w.sent.forEach((item, i) => {
      if (typeof item === 'object' && 'audio' in item) expect(w.sent[i + 1]).toEqual({ mark: expect.stringMatching(/^r1\.\d+$/) });
    });
    const audio = Buffer.concat(w.sent.flatMap((x) => (typeof x === 'object' && 'audio' in x ? [x.audio] : [])));
    expect(decodeToneText(audio)).toBe('we are open from nine to six, monday to saturday. on sundays we are closed. ');
    // The text reached the TTS in clause-sized pieces, not as one block at the end.
    const texts = ttsEmu.generations.map((g) => g.text.trim());
    expect(texts.length).toBeGreaterThan(1);
    expect(r.measures.firstAudioAt).toBeDefined();
    expect(r.measures.llmTimeToFirstTokenMs).toBeGreaterThan(0);
  });

  it('holds a speculative reply\'s audio until release, then sends it all at once', async () => {
    const w = wire();
    const r = new Reply(deps(new Playout(w)), 'r2', 1, ask, { speculative: true, callSignal: new AbortController().signal });
    await new Promise((res) => setTimeout(res, 600));
    expect(w.sent).toEqual([]);
    expect(r.isHeld).toBe(true);
    r.release({ speechEndAt: Date.now() });
    expect(w.sent.length).toBeGreaterThan(0);
    expect((await r.done).status).toBe('done');
  });

  it('drops a discarded speculative reply without sending anything and counts its spend, hidden reasoning included, as wasted', async () => {
    const w = wire();
    // gpt-oss reasons before it speaks (the emulator's 150 hidden tokens); cut at 300 ms, nothing was streamed yet.
    const r = new Reply(deps(new Playout(w), { hiddenReasoningTokens: 150 }), 'r3', 1, ask, { speculative: true, callSignal: new AbortController().signal });
    await new Promise((res) => setTimeout(res, 300));
    r.abort('discarded');
    const out = await r.done;
    expect(out.status).toBe('aborted');
    expect(w.sent).toEqual([]);
    expect(r.measures.discarded).toBe(true);
    expect(r.spend()).toMatchObject({ wasted: true });
    expect(r.spend().outputTokens).toBeGreaterThanOrEqual(150);
  });

  it('stops LLM and TTS together on abort: no audio leaves after it', async () => {
    const w = wire();
    const r = new Reply(deps(new Playout(w)), 'r4', 1, ask, { speculative: false, callSignal: new AbortController().signal });
    while (!w.sent.length) await new Promise((res) => setTimeout(res, 5));
    r.abort('interrupted');
    const after = w.sent.length;
    const out = await r.done;
    await new Promise((res) => setTimeout(res, 300));
    expect(out.status).toBe('aborted');
    expect(w.sent.length).toBe(after);
    expect(r.measures.interrupted).toBe(true);
  });

  it('reports an LLM failure as failed, not as an interruption', async () => {
    llmEmu.setKnobs({ failNext: { status: 500, count: 3 } });
    const r = new Reply(deps(new Playout(wire())), 'r5', 1, ask, { speculative: false, callSignal: new AbortController().signal });
    const out = await r.done;
    llmEmu.setKnobs({ failNext: undefined });
    expect(out.status).toBe('failed');
  });
});
