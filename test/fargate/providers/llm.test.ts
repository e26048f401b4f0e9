// LLM providers: the shared chunk translation on literal Groq chunks, and groq-sdk / openai against the LLM emulator.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLlmEmulator, type LlmEmulator } from '../../../local/emulators/llm';
import { createGroqLlm } from '../../../fargate/src/providers/groq-llm';
import { createOpenAiCompatibleLlm } from '../../../fargate/src/providers/openai-compatible-llm';
import { LlmError, translateChunks, type ChunkLike } from '../../../fargate/src/providers/openai-stream';
import type { LanguageModel, LlmEvent, LlmRequest } from '../../../fargate/src/providers/types';
import { collect, log } from './helpers';

async function all(chunks: ChunkLike[], model = 'm'): Promise<LlmEvent[]> {
  const out: LlmEvent[] = [];
  for await (const ev of translateChunks((async function* () { yield* chunks; })(), model)) out.push(ev);
  return out;
}

describe('translateChunks (literal Groq SSE chunks from protocols.md §3.1)', () => {
  it('assembles streamed tool-call argument fragments into one tool-call at the finish chunk, with x_groq usage', async () => {
    const frags = ['{"', 'va', 'lue', '":"', 'Spark', 'le', ' Day', '"}'];
    const chunks: ChunkLike[] = [
      { model: 'gemma2-9b-it', choices: [{ delta: { content: null, tool_calls: [{ index: 0, id: 'call_O17U', type: 'function', function: { name: 'test-tool', arguments: frags[0] } }] }, finish_reason: null }] },
      ...frags.slice(1).map((f) => ({ model: 'gemma2-9b-it', choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: f } }] }, finish_reason: null }] })),
      { model: 'gemma2-9b-it', choices: [{ delta: {}, finish_reason: 'tool_calls' }], x_groq: { usage: { prompt_tokens: 18, completion_tokens: 439 } } },
    ];
    expect(await all(chunks)).toEqual([
      { kind: 'tool-call', call: { id: 'call_O17U', name: 'test-tool', arguments: '{"value":"Sparkle Day"}' } },
      { kind: 'done', finishReason: 'tool_calls', usage: { inputTokens: 18, outputTokens: 439 }, model: 'gemma2-9b-it' },
    ]);
  });

  it('passes text deltas through one by one and drops gpt-oss reasoning deltas', async () => {
    const chunks: ChunkLike[] = [
      { choices: [{ delta: { reasoning: 'The user greets me.' }, finish_reason: null }] },
      { choices: [{ delta: { content: 'Hello' }, finish_reason: null }] },
      { choices: [{ delta: { content: ' world' }, finish_reason: null }] },
      { choices: [{ delta: {}, finish_reason: 'stop' }] },
    ];
    expect(await all(chunks, 'openai/gpt-oss-20b')).toEqual([
      { kind: 'text', delta: 'Hello' },
      { kind: 'text', delta: ' world' },
      { kind: 'done', finishReason: 'stop', usage: { inputTokens: 0, outputTokens: 0 }, model: 'openai/gpt-oss-20b' },
    ]);
  });

  it('keeps interleaved parallel tool calls apart by index, orders them, and turns empty arguments into {}', async () => {
    const chunks: ChunkLike[] = [
      { choices: [{ delta: { tool_calls: [{ index: 1, id: 'b', function: { name: 'lookup_customer', arguments: '' } }] }, finish_reason: null }] },
      { choices: [{ delta: { tool_calls: [{ index: 0, id: 'a', function: { name: 'check_availability', arguments: '{"service":' } }] }, finish_reason: null }] },
      { choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '"haircut"}' } }] }, finish_reason: 'tool_calls' }] },
      { choices: [], usage: { prompt_tokens: 5, completion_tokens: 7 } },
    ];
    expect(await all(chunks)).toEqual([
      { kind: 'tool-call', call: { id: 'a', name: 'check_availability', arguments: '{"service":"haircut"}' } },
      { kind: 'tool-call', call: { id: 'b', name: 'lookup_customer', arguments: '{}' } },
      { kind: 'done', finishReason: 'tool_calls', usage: { inputTokens: 5, outputTokens: 7 }, model: 'm' },
    ]);
  });

  it('throws when the stream is cut off before a finish reason, and on an x_groq error', async () => {
    await expect(all([{ choices: [{ delta: { content: 'Hel' }, finish_reason: null }] }])).rejects.toThrow(/without a finish reason/);
    await expect(all([{ choices: [], x_groq: { error: 'over capacity' } }])).rejects.toBeInstanceOf(LlmError);
  });
});

/** Reasoning tokens the emulated gpt-oss streams before each answer in these tests. */
const REASONING = 12;

const booking = [
  { when: { lastUser: 'haircut' }, reply: { toolCall: { name: 'check_availability', arguments: { service: 'haircut', date: 'tomorrow' } } } },
  { when: { lastTool: 'check_availability' }, reply: { text: 'I have 9 and 10 AM open. Which works?' } },
  { when: {}, reply: { text: 'Sorry, could you say that again?' } },
];

const tools = [{ name: 'check_availability', description: 'Find open times.', parameters: { type: 'object', properties: { service: { type: 'string' } }, required: ['service'] } }];

function suite(name: string, make: (emu: LlmEmulator) => LanguageModel, flavor: 'groq' | 'openai') {
  describe(`${name} against the LLM emulator`, () => {
    let emu: LlmEmulator;
    let llm: LanguageModel;
    const req = (content: string, model = 'openai/gpt-oss-20b'): LlmRequest => ({ model, messages: [{ role: 'system', content: 'You book haircuts.' }, { role: 'user', content }], tools, maxTokens: 200 });
    const run = async (r: LlmRequest, signal = new AbortController().signal) => {
      const out = collect(llm.stream(r, signal));
      await out.finished;
      return out;
    };

    beforeAll(async () => {
      emu = await startLlmEmulator({ rules: booking, knobs: { ttftMs: 20, tokensPerSecond: 2000, reasoningTokens: REASONING } });
      llm = make(emu);
    });
    beforeEach(() => {
      emu.requests.length = 0;
      emu.setKnobs({ failNext: undefined, ttftMs: 20, reasoningTokens: REASONING });
    });
    afterAll(async () => {
      await emu.close();
    });

    it('streams text deltas that join to the reply, then done with usage and the model', async () => {
      const out = await run({ ...req('thanks'), messages: [...req('I want a haircut').messages, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'check_availability', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c1', content: '{"result":{}}' }] });
      expect(out.error).toBeUndefined();
      const text = out.items.filter((e) => e.kind === 'text');
      expect(text.length).toBeGreaterThan(3);
      expect(text.map((e) => (e as { delta: string }).delta).join('')).toBe('I have 9 and 10 AM open. Which works?');
      const done = out.items.at(-1)!;
      expect(done).toMatchObject({ kind: 'done', finishReason: 'stop', model: 'openai/gpt-oss-20b' });
      expect((done as { usage: { inputTokens: number; outputTokens: number } }).usage.inputTokens).toBeGreaterThan(0);
      // Reasoning is never spoken but billed: output tokens count it.
      expect((done as { usage: { outputTokens: number } }).usage.outputTokens).toBe(text.length + REASONING);
      expect(emu.requests[0]!.flavor).toBe(flavor);
    });

    it('assembles the streamed tool call into one tool-call event with the full arguments', async () => {
      const out = await run(req('I want a haircut tomorrow'));
      const calls = out.items.filter((e) => e.kind === 'tool-call');
      expect(calls).toHaveLength(1);
      const call = (calls[0] as Extract<LlmEvent, { kind: 'tool-call' }>).call;
      expect(call.name).toBe('check_availability');
      expect(JSON.parse(call.arguments)).toEqual({ service: 'haircut', date: 'tomorrow' });
      expect(call.id).toMatch(/^call_/);
      expect(out.items.at(-1)).toMatchObject({ kind: 'done', finishReason: 'tool_calls' });
      expect(emu.requests[0]!.body.tools[0]).toEqual({ type: 'function', function: tools[0] });
    });

    it('asks gpt-oss for low reasoning effort and leaves other models alone', async () => {
      await run(req('hi'));
      await run(req('hi', 'llama-3.3-70b-versatile'));
      expect(emu.requests[0]!.body.reasoning_effort).toBe('low');
      expect(emu.requests[1]!.body.reasoning_effort).toBeUndefined();
      // Groq: include_reasoning=false ("Excludes reasoning from the response"); the text is never spoken anyway.
      if (flavor === 'groq') expect(emu.requests[0]!.body.include_reasoning).toBe(false);
    });

    it('never speaks reasoning: text events carry only the answer, and the reasoning is billed as output', async () => {
      emu.setKnobs({ reasoningTokens: 40 });
      const out = await run(req('hi'));
      const text = out.items.filter((e) => e.kind === 'text').map((e) => (e as { delta: string }).delta);
      expect(text.join('')).toBe('Sorry, could you say that again?');
      expect((out.items.at(-1) as { usage: { outputTokens: number } }).usage.outputTokens).toBe(text.length + 40);
    });

    it('retries a 429 once after its retry-after, then streams', async () => {
      emu.setKnobs({ failNext: { status: 429, retryAfter: 1 } });
      const out = await run(req('hi'));
      expect(out.error).toBeUndefined();
      expect(emu.requests).toHaveLength(2);
      expect(emu.requests[1]!.at - emu.requests[0]!.at).toBeGreaterThanOrEqual(900);
      expect(out.items.at(-1)).toMatchObject({ kind: 'done', finishReason: 'stop' });
    });

    it('fails at once with LlmError 429 when retry-after is longer than a caller should wait', async () => {
      emu.setKnobs({ failNext: { status: 429, retryAfter: 30 } });
      const out = await run(req('hi'));
      expect(out.error).toBeInstanceOf(LlmError);
      expect((out.error as LlmError).status).toBe(429);
      expect(emu.requests).toHaveLength(1);
    });

    it('retries a 5xx that happens before the first token', async () => {
      emu.setKnobs({ failNext: { status: 503 } });
      const out = await run(req('hi'));
      expect(out.error).toBeUndefined();
      expect(emu.requests).toHaveLength(2);
    });

    it('surfaces a mid-stream error after text was emitted, without retrying', async () => {
      emu.setKnobs({ failNext: { midStream: true, afterChunks: 3 }, reasoningTokens: 0 });
      const out = await run(req('hi'));
      expect(out.items.filter((e) => e.kind === 'text').length).toBe(3);
      expect(out.error).toBeInstanceOf(LlmError);
      expect(out.items.some((e) => e.kind === 'done')).toBe(false);
      expect(emu.requests).toHaveLength(1);
    });

    it('stops promptly when the reply signal aborts mid-stream', async () => {
      const ac = new AbortController();
      emu.setKnobs({ tokensPerSecond: 5 });
      const out = collect(llm.stream(req('hi'), ac.signal));
      const until = Date.now() + 5000;
      while (!out.items.length && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      ac.abort(new Error('barge-in'));
      await out.finished;
      emu.setKnobs({ tokensPerSecond: 2000 });
      expect((out.error as Error).message).toBe('barge-in');
      expect(out.items.some((e) => e.kind === 'done')).toBe(false);
    });
  });
}

suite('createGroqLlm (groq-sdk)', (emu) => createGroqLlm({ apiKey: 'gsk_test', baseURL: emu.url, log }), 'groq');
suite('createOpenAiCompatibleLlm (openai)', (emu) => createOpenAiCompatibleLlm({ apiKey: 'fw_test', baseURL: `${emu.url}/v1`, log }), 'openai');

describe('stalled streams', () => {
  it('counts a silent server as stalled, retries once before the first token, then fails with LlmError', async () => {
    const emu = await startLlmEmulator({ rules: booking, knobs: { ttftMs: 3000 } });
    try {
      const llm = createGroqLlm({ apiKey: 'k', baseURL: emu.url, log, idleTimeoutMs: 150 });
      const out = collect(llm.stream({ model: 'openai/gpt-oss-20b', messages: [{ role: 'user', content: 'hey' }] }, new AbortController().signal));
      await out.finished;
      expect(out.error).toBeInstanceOf(LlmError);
      expect((out.error as Error).message).toMatch(/stalled/);
      expect(emu.requests).toHaveLength(2);
    } finally {
      await emu.close();
    }
  });
});

describe('createOpenAiCompatibleLlm request shape', () => {
  it('asks for the usage chunk and sends max_tokens', async () => {
    const emu = await startLlmEmulator({ rules: booking, knobs: { ttftMs: 5, tokensPerSecond: 5000 } });
    try {
      const llm = createOpenAiCompatibleLlm({ apiKey: 'k', baseURL: `${emu.url}/v1`, log });
      const out = collect(llm.stream({ model: 'accounts/fireworks/models/x', messages: [{ role: 'user', content: 'hey' }], maxTokens: 50 }, new AbortController().signal));
      await out.finished;
      expect(emu.requests[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true }, max_tokens: 50 });
      const done = out.items.at(-1) as Extract<LlmEvent, { kind: 'done' }>;
      expect(done.usage.outputTokens).toBeGreaterThan(0);
    } finally {
      await emu.close();
    }
  });
});
