// Pins the LLM emulator against the real groq-sdk and openai clients: SSE text and tool-call streams, JSON replies, usage, faults.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Groq from 'groq-sdk';
import OpenAI from 'openai';
import { startLlmEmulator, tokenize, type LlmEmulator } from '../../../local/emulators/llm';
import type { LlmRule } from '../../../local/emulators/rules';

const RULES: LlmRule[] = [
  { when: { lastUser: 'haircut' }, reply: { toolCall: { name: 'check_availability', arguments: { service: 'haircut', date: 'tomorrow' } } } },
  { when: { lastTool: 'check_availability' }, reply: { text: 'I have 9 and 10 AM open. Which works?' } },
  { when: {}, reply: { text: 'Sorry, could you say that again?' } },
];
const TOOLS = [
  {
    type: 'function' as const,
    function: { name: 'check_availability', description: 'Free slots', parameters: { type: 'object', properties: { service: { type: 'string' }, date: { type: 'string' } } } },
  },
];

let emu: LlmEmulator;
let groq: Groq;
beforeAll(async () => {
  // Reasoning off for the wire-shape tests; its own tests below turn it on.
  emu = await startLlmEmulator({ rules: RULES, knobs: { ttftMs: 5, tokensPerSecond: 2000, reasoningTokens: 0 } });
  groq = new Groq({ apiKey: 'gsk_test', baseURL: emu.url });
});
afterAll(async () => {
  await emu.close();
});

describe('LLM emulator (Groq path)', () => {
  it('streams a tool call the SDK consumer can assemble, with x_groq.usage on the final chunk', async () => {
    const before = emu.requests.length;
    const stream = await groq.chat.completions.create({
      model: 'openai/gpt-oss-120b',
      stream: true,
      tools: TOOLS,
      messages: [
        { role: 'system', content: 'You book appointments.' },
        { role: 'user', content: "Hi, I'd like to book a haircut for tomorrow morning." },
      ],
    });
    const calls: { id?: string; name?: string; args: string }[] = [];
    const chunks: any[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
        const c = (calls[tc.index] ??= { args: '' });
        if (tc.id) c.id = tc.id;
        if (tc.function?.name) c.name = tc.function.name;
        c.args += tc.function?.arguments ?? '';
      }
    }
    expect(calls).toHaveLength(1);
    expect(calls[0]!.name).toBe('check_availability');
    expect(calls[0]!.id).toMatch(/^call_/);
    expect(JSON.parse(calls[0]!.args)).toEqual({ service: 'haircut', date: 'tomorrow' });
    const first = chunks[0].choices[0].delta.tool_calls[0];
    expect(first).toMatchObject({ index: 0, id: calls[0]!.id, type: 'function', function: { name: 'check_availability' } });
    expect(chunks.length).toBeGreaterThan(3);
    const last = chunks[chunks.length - 1];
    expect(last.choices[0]).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
    expect(last.x_groq.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: chunks.length - 1 });
    expect(last.x_groq.usage.total_tokens).toBe(last.x_groq.usage.prompt_tokens + last.x_groq.usage.completion_tokens);
    expect(last.usage).toBeUndefined();
    // Requests are recorded so tests can assert the tools offered.
    expect(emu.requests.length).toBe(before + 1);
    expect(emu.requests[before]!.flavor).toBe('groq');
    expect(emu.requests[before]!.body.tools[0].function.name).toBe('check_availability');
  });

  it('streams the text reply for a tool result in token-sized pieces ending with finish_reason stop', async () => {
    const stream = await groq.chat.completions.create({
      model: 'openai/gpt-oss-120b',
      stream: true,
      messages: [
        { role: 'user', content: 'haircut tomorrow' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'check_availability', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"slots":["09:00","10:00"]}' },
      ],
    });
    const pieces: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      const c = chunk.choices[0]!;
      if (c.delta.content) pieces.push(c.delta.content);
      if (c.finish_reason) finish = c.finish_reason;
    }
    expect(pieces.join('')).toBe('I have 9 and 10 AM open. Which works?');
    expect(pieces.length).toBe(tokenize('I have 9 and 10 AM open. Which works?').length);
    expect(finish).toBe('stop');
  });

  it('answers non-streaming requests with application/json the SDK parses, tool arguments as a JSON string', async () => {
    const res = await groq.chat.completions.create({ model: 'm', tools: TOOLS, messages: [{ role: 'user', content: 'a haircut please' }] });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
    const tc = res.choices[0]!.message.tool_calls![0]!;
    expect(JSON.parse(tc.function.arguments)).toEqual({ service: 'haircut', date: 'tomorrow' });
    expect(res.usage!.prompt_tokens).toBeGreaterThan(10);
  });

  it('refuses a 429 with retry-after that groq-sdk honours, then succeeds on the retry', async () => {
    const before = emu.requests.length;
    emu.setKnobs({ failNext: { status: 429, retryAfter: 1 } });
    const res = await groq.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hello' }] });
    expect(res.choices[0]!.message.content).toBe('Sorry, could you say that again?');
    expect(emu.requests.length).toBe(before + 2);
  });

  it('surfaces a 429 as RateLimitError with the Groq error body when retries are off', async () => {
    emu.setKnobs({ failNext: { status: 429, retryAfter: 3 } });
    const noRetry = new Groq({ apiKey: 'gsk_test', baseURL: emu.url, maxRetries: 0 });
    const err = await noRetry.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Groq.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.headers.get('retry-after')).toBe('3');
    expect(err.error).toMatchObject({ error: { type: 'requests', code: 'rate_limit_exceeded' } });
  });

  it('breaks a stream with a mid-stream error event that the SDK raises as APIError', async () => {
    emu.setKnobs({ failNext: { midStream: true, afterChunks: 2 } });
    const stream = await groq.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'tell me' }] });
    const got: string[] = [];
    const err = await (async () => {
      for await (const c of stream) got.push(c.choices[0]?.delta.content ?? '');
    })().catch((e) => e);
    expect(err).toBeInstanceOf(Groq.APIError);
    expect(err.message).toMatch(/mid-stream/);
    expect(got).toHaveLength(2);
  });

  it('drops the connection mid-stream with dropAfterMs, which groq-sdk reports as a connection error', async () => {
    emu.setKnobs({ dropAfterMs: 30, tokensPerSecond: 20 });
    try {
      const noRetry = new Groq({ apiKey: 'gsk_test', baseURL: emu.url, maxRetries: 0 });
      const err = await (async () => {
        const stream = await noRetry.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'talk' }] });
        for await (const _ of stream) void _;
      })().catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String(err.message)).toMatch(/terminated|socket|aborted|closed|connection/i);
    } finally {
      emu.setKnobs({ dropAfterMs: undefined, tokensPerSecond: 2000 });
    }
  });

  it('answers 401 with a Groq error body when the bearer key is missing', async () => {
    const res = await fetch(`${emu.url}/openai/v1/chat/completions`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } });
  });
});

describe('LLM emulator (OpenAI-compatible /v1 path)', () => {
  it('honours stream_options.include_usage with a final usage chunk whose choices are empty', async () => {
    const openai = new OpenAI({ apiKey: 'fw_test', baseURL: `${emu.url}/v1` });
    const stream = await openai.chat.completions.create({
      model: 'accounts/fireworks/models/llama',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hello' }],
    });
    const chunks: any[] = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: chunks.length - 2 });
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('stop');
    expect(chunks.slice(0, -1).every((c) => c.x_groq === undefined)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Sorry, could you say that again?');
    expect(emu.requests[emu.requests.length - 1]!.flavor).toBe('openai');
  });
});

describe('LLM emulator: gpt-oss reasoning', () => {
  it('streams reasoning deltas before the content, counted as completion tokens', async () => {
    emu.setKnobs({ reasoningTokens: 20 });
    try {
      const stream = await groq.chat.completions.create({ model: 'openai/gpt-oss-20b', stream: true, messages: [{ role: 'user', content: 'tell me' }] });
      const kinds: string[] = [];
      let usage: any;
      for await (const c of stream) {
        const d = c.choices[0]?.delta as { reasoning?: string; content?: string } | undefined;
        if (d?.reasoning) kinds.push('reasoning');
        if (d?.content) kinds.push('content');
        usage = (c as any).x_groq?.usage ?? usage;
      }
      expect(kinds.slice(0, 20)).toEqual(Array(20).fill('reasoning'));
      expect(kinds.length).toBeGreaterThan(20);
      expect(kinds.slice(20).every((k) => k === 'content')).toBe(true);
      expect(usage.completion_tokens).toBe(kinds.length);
    } finally {
      emu.setKnobs({ reasoningTokens: 0 });
    }
  });

  it('sends no reasoning with include_reasoning=false but still bills it, and refuses it together with reasoning_format', async () => {
    emu.setKnobs({ reasoningTokens: 20 });
    try {
      const body = { model: 'openai/gpt-oss-20b', stream: true as const, messages: [{ role: 'user' as const, content: 'tell me' }] };
      const stream = await groq.chat.completions.create({ ...body, include_reasoning: false });
      let reasoning = 0;
      let content = 0;
      let usage: any;
      for await (const c of stream) {
        if ((c.choices[0]?.delta as { reasoning?: string } | undefined)?.reasoning) reasoning++;
        if (c.choices[0]?.delta.content) content++;
        usage = (c as any).x_groq?.usage ?? usage;
      }
      expect(reasoning).toBe(0);
      expect(content).toBeGreaterThan(0);
      expect(usage.completion_tokens).toBe(content + 20);
      const err = await new Groq({ apiKey: 'gsk_test', baseURL: emu.url, maxRetries: 0 }).chat.completions.create({ ...body, include_reasoning: false, reasoning_format: 'hidden' }).catch((e) => e);
      expect(err.status).toBe(400);
    } finally {
      emu.setKnobs({ reasoningTokens: 0 });
    }
  });
});
