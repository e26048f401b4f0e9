// Groq / OpenAI-compatible chat-completions emulator: SSE and JSON replies scripted by scenario rules, paced by TTFT and tokens/s knobs.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  closeServer,
  createRng,
  listenLoopback,
  pacer,
  readBody,
  sampleLatency,
  sendJson,
  sleep,
  takeHttpFault,
  type EmulatorHandle,
  type FaultKnobs,
  type Latency,
} from './knobs';
import { argumentsJson, matchRule, replyToolCalls, type ChatMessageLike, type LlmReply, type LlmRule } from './rules';

/** A scripted failure for upcoming requests: an HTTP error (429 with retry-after, 5xx) or an error event mid-stream. */
export type LlmFault =
  | { status: number; retryAfter?: number; count?: number }
  | { midStream: true; /** Chunks sent before the error. @default 1 */ afterChunks?: number; count?: number };

/** Latency and fault knobs of the LLM emulator. */
export interface LlmKnobs extends FaultKnobs {
  /** @default 1 */
  seed?: number;
  /** Time to first token (request received → first streamed token, reasoning or content). @default 200 */
  ttftMs?: Latency;
  /**
   * Reasoning tokens a reasoning model (gpt-oss) streams before its answer, at `tokensPerSecond`, in `delta.reasoning`
   * ("parsed", Groq's default with tool use) unless the request says `include_reasoning: false` or
   * `reasoning_format: "hidden"`; either way they take their time and count as completion tokens. The default is the
   * per-turn figure of the cost model in numbers.md (scenario D, "+150 reasoning tokens per turn"); no effort level
   * is modelled. 0 turns reasoning off. @default 150
   */
  reasoningTokens?: number;
  /** Streaming speed after the first token. @default by model: {@link groqTokensPerSecond} */
  tokensPerSecond?: number;
  /** Fails the next `count` (default 1) requests. */
  failNext?: LlmFault;
  /** Reply when no rule matches. @default { text: "Sorry, could you say that again?" } */
  fallbackReply?: LlmReply;
}

/** One request as received (for tests asserting which tools were offered, which model was used...). */
export interface LlmRequestRecord {
  /** `groq` for /openai/v1/chat/completions, `openai` for /v1/chat/completions. */
  flavor: 'groq' | 'openai';
  path: string;
  /** The parsed JSON body (model, messages, tools, stream, ...). */
  body: Record<string, any>;
  at: number;
}

/** Options of startLlmEmulator. */
export interface LlmEmulatorOptions {
  /** @default 0 (ephemeral) */
  port?: number;
  rules?: LlmRule[];
  knobs?: LlmKnobs;
}

/** The running LLM emulator. */
export interface LlmEmulator extends EmulatorHandle {
  setRules(rules: LlmRule[]): void;
  setKnobs(knobs: Partial<LlmKnobs>): void;
  /** Every accepted chat-completions request, oldest first (faulted ones included). */
  readonly requests: LlmRequestRecord[];
}

const PATHS: Record<string, LlmRequestRecord['flavor']> = {
  '/openai/v1/chat/completions': 'groq',
  '/v1/chat/completions': 'openai',
};

/** Groq sends these on every response (console.groq.com/docs/rate-limits). */
const RATE_HEADERS = {
  'x-ratelimit-limit-requests': '14400',
  'x-ratelimit-limit-tokens': '250000',
  'x-ratelimit-remaining-requests': '14399',
  'x-ratelimit-remaining-tokens': '249000',
  'x-ratelimit-reset-requests': '6s',
  'x-ratelimit-reset-tokens': '240ms',
};

function errorBody(message: string, type: string, code?: string): object {
  return { error: { message, type, ...(code ? { code } : {}) } };
}

/** Token-ish pieces: words with their leading space, long words cut every 4 characters (roughly one BPE token each). */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const m of text.match(/\s*\S+|\s+$/g) ?? []) {
    const lead = m.length - m.trimStart().length;
    for (let i = 0, n = lead + 4; i < m.length; i += n, n = 4) out.push(m.slice(i, i + n));
  }
  return out;
}

/** Argument JSON cut into small fragments, like Groq streams them ("{\"", "va", "lue", ...). */
function fragments(json: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < json.length; i += 6) out.push(json.slice(i, i + 6));
  return out.length ? out : [''];
}

/** Prompt tokens estimated as characters / 4 over the messages and tool schemas. */
function estimatePromptTokens(body: Record<string, any>): number {
  const text = JSON.stringify(body.messages ?? []) + JSON.stringify(body.tools ?? []);
  return Math.max(1, Math.ceil(text.length / 4));
}

interface Planned {
  /** Deltas in order; each counts as one token for pacing. */
  deltas: Record<string, unknown>[];
  finishReason: 'stop' | 'tool_calls' | 'length';
  /** The complete assistant message, for non-streaming replies. */
  message: Record<string, unknown>;
}

/** Placeholder reasoning text, one token-ish piece per reasoning token. */
function reasoningPieces(n: number): string[] {
  const words = ['The', ' caller', ' asks', ';', ' answer', ' briefly', ' and', ' politely', '.'];
  return Array.from({ length: n }, (_, i) => words[i % words.length]!);
}

/**
 * Output speed Groq publishes per model (GroqDocs models table, numbers.md §0): openai/gpt-oss-20b 1000 T/s,
 * openai/gpt-oss-120b 500 T/s; other models 500.
 */
export function groqTokensPerSecond(model: string): number {
  return /gpt-oss-20b/i.test(model) ? 1000 : 500;
}

/** gpt-oss models reason before answering (console.groq.com/docs/reasoning lists openai/gpt-oss-20b and -120b). */
function reasons(model: string): boolean {
  return /gpt-oss/i.test(model);
}

/** How a request wants reasoning shown: Groq's `include_reasoning` and `reasoning_format` ("mutually exclusive"). */
function reasoningShown(body: Record<string, any>): boolean | { error: string } {
  if (body.include_reasoning != null && body.reasoning_format != null) {
    return { error: 'include_reasoning and reasoning_format are mutually exclusive; set only one' };
  }
  if (body.reasoning_format != null && !['hidden', 'raw', 'parsed'].includes(body.reasoning_format)) return { error: `invalid reasoning_format ${body.reasoning_format}` };
  return body.include_reasoning !== false && body.reasoning_format !== 'hidden';
}

/** Turns a scripted reply into the delta sequence of a streamed completion (and the equivalent full message). */
function plan(reply: LlmReply, maxTokens: number | undefined, reasoning: { tokens: number; shown: boolean } = { tokens: 0, shown: false }): Planned {
  const deltas: Record<string, unknown>[] = [];
  // Reasoning comes first and counts against max_completion_tokens like any completion token.
  const thinking = reasoningPieces(reasoning.tokens);
  thinking.forEach((p, i) => deltas.push(reasoning.shown ? { ...(i === 0 ? { role: 'assistant' } : {}), reasoning: p } : {}));
  if (maxTokens !== undefined) maxTokens = Math.max(0, maxTokens - thinking.length);
  let pieces = reply.text !== undefined ? tokenize(reply.text) : [];
  let finishReason: Planned['finishReason'] = 'stop';
  const calls = replyToolCalls(reply);
  if (maxTokens !== undefined && pieces.length > maxTokens && !calls.length) {
    pieces = pieces.slice(0, maxTokens);
    finishReason = 'length';
  }
  pieces.forEach((p, i) => deltas.push(i === 0 && !(reasoning.shown && thinking.length) ? { role: 'assistant', content: p } : { content: p }));
  const toolCalls = calls.map((c) => ({
    id: c.id ?? `call_${randomBytes(12).toString('hex')}`,
    type: 'function' as const,
    function: { name: c.name, arguments: argumentsJson(c.arguments) },
  }));
  toolCalls.forEach((tc, index) => {
    fragments(tc.function.arguments).forEach((frag, i) => {
      const call =
        i === 0
          ? { index, id: tc.id, type: 'function', function: { name: tc.function.name, arguments: frag } }
          : { index, function: { arguments: frag } };
      // The first tool-call delta carries id, type, name and the first argument fragment (Groq stream fixture).
      deltas.push(deltas.length === thinking.length && !reasoning.shown ? { role: 'assistant', content: null, tool_calls: [call] } : { tool_calls: [call] });
    });
  });
  if (toolCalls.length) finishReason = 'tool_calls';
  if (deltas.length === thinking.length) deltas.push({ ...(reasoning.shown && thinking.length ? {} : { role: 'assistant' }), content: '' });
  const content = pieces.join('');
  return {
    deltas,
    finishReason,
    message: {
      role: 'assistant',
      content: toolCalls.length && !content ? null : content,
      ...(reasoning.shown && thinking.length ? { reasoning: thinking.join('') } : {}),
      ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
    },
  };
}

/**
 * Starts the chat-completions emulator. groq-sdk: `baseURL: url` (it appends /openai/v1/chat/completions);
 * openai: `baseURL: url + "/v1"`.
 */
export async function startLlmEmulator(opts: LlmEmulatorOptions = {}): Promise<LlmEmulator> {
  let rules = [...(opts.rules ?? [])];
  let knobs: LlmKnobs = { ...opts.knobs };
  let rng = createRng(knobs.seed ?? 1);
  const requests: LlmRequestRecord[] = [];

  const takeFault = (): LlmFault | undefined => {
    const f = knobs.failNext;
    if (!f) return undefined;
    const left = (f.count ?? 1) - 1;
    knobs = { ...knobs, failNext: left > 0 ? { ...f, count: left } : undefined };
    return f;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const flavor = PATHS[url.pathname];
    if (!flavor) return sendJson(res, 404, errorBody(`Unknown request URL: ${req.method} ${url.pathname}. Please check the URL for typos.`, 'invalid_request_error', 'unknown_url'));
    if (req.method !== 'POST') return sendJson(res, 405, errorBody('Method not allowed; use POST', 'invalid_request_error'));
    const delay = sampleLatency(knobs.acceptDelayMs, rng);
    if (delay > 0) await sleep(delay);
    if (!/^Bearer\s+\S+/i.test(req.headers.authorization ?? '')) {
      return sendJson(res, 401, errorBody('Invalid API Key', 'invalid_request_error', 'invalid_api_key'));
    }
    let body: Record<string, any>;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      return sendJson(res, 400, errorBody(`could not parse the request body as JSON: ${(err as Error).message}`, 'invalid_request_error'));
    }
    if (!body || typeof body !== 'object' || typeof body.model !== 'string' || !Array.isArray(body.messages) || !body.messages.length) {
      return sendJson(res, 400, errorBody("'model' (string) and 'messages' (non-empty array) are required", 'invalid_request_error'));
    }
    requests.push({ flavor, path: url.pathname, body, at: Date.now() });

    const httpFault = takeHttpFault(knobs);
    const fault = httpFault ?? takeFault();
    if (fault && 'status' in fault) {
      const headers: Record<string, string> = { ...RATE_HEADERS };
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      const message =
        fault.status === 429
          ? `Rate limit reached for model \`${body.model}\` in organization \`org_emulator\` service tier \`on_demand\` on requests per minute (RPM): Limit 30, Used 30, Requested 1. Please try again in ${fault.retryAfter ?? 2}s. Visit https://console.groq.com/docs/rate-limits for more information.`
          : `emulated upstream failure (HTTP ${fault.status})`;
      const type = fault.status === 429 ? 'requests' : fault.status >= 500 ? 'internal_server_error' : 'invalid_request_error';
      return sendJson(res, fault.status, errorBody(message, type, fault.status === 429 ? 'rate_limit_exceeded' : undefined), headers);
    }

    let reply: LlmReply;
    try {
      const offered: string[] =
        body.tool_choice === 'none' || !Array.isArray(body.tools) ? [] : body.tools.map((t: { function?: { name?: string } }) => t?.function?.name ?? '');
      reply = matchRule(rules, body.messages as ChatMessageLike[], offered) ?? knobs.fallbackReply ?? { text: 'Sorry, could you say that again?' };
    } catch (err) {
      return sendJson(res, 500, errorBody(`scenario rule error: ${(err as Error).message}`, 'internal_server_error'));
    }
    const shown = reasoningShown(body);
    if (typeof shown === 'object') return sendJson(res, 400, errorBody(shown.error, 'invalid_request_error'));
    const reasoning = { tokens: reasons(body.model) ? Math.max(0, Math.round(knobs.reasoningTokens ?? 150)) : 0, shown };
    const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : typeof body.max_completion_tokens === 'number' ? body.max_completion_tokens : undefined;
    const planned = plan(reply, maxTokens, reasoning);
    const ttft = sampleLatency(knobs.ttftMs ?? 200, rng);
    const perToken = 1000 / Math.max(1, knobs.tokensPerSecond ?? groqTokensPerSecond(body.model));
    const id = `chatcmpl-${randomUUID()}`;
    const groqId = `req_${randomBytes(13).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = estimatePromptTokens(body);
    const completionTokens = planned.deltas.length;
    const usage = {
      queue_time: 0.012,
      prompt_tokens: promptTokens,
      prompt_time: round6(promptTokens / 20000),
      completion_tokens: completionTokens,
      completion_time: round6((completionTokens * perToken) / 1000),
      total_tokens: promptTokens + completionTokens,
      total_time: round6((ttft + completionTokens * perToken) / 1000),
    };
    let aborted = false;
    res.on('close', () => (aborted = true));
    if (knobs.dropAfterMs !== undefined) {
      const t = setTimeout(() => req.socket.destroy(), knobs.dropAfterMs);
      res.on('close', () => clearTimeout(t));
    }

    if (!body.stream) {
      await sleep(ttft + completionTokens * perToken);
      if (aborted) return;
      return sendJson(
        res,
        200,
        {
          id,
          object: 'chat.completion',
          created,
          model: body.model,
          choices: [{ index: 0, message: planned.message, logprobs: null, finish_reason: planned.finishReason }],
          usage,
          system_fingerprint: 'fp_emulator',
          ...(flavor === 'groq' ? { x_groq: { id: groqId }, service_tier: 'on_demand' } : {}),
        },
        { ...RATE_HEADERS, 'x-request-id': groqId },
      );
    }

    const includeUsage = flavor === 'openai' && body.stream_options?.include_usage === true;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...RATE_HEADERS, 'x-request-id': groqId });
    const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: body.model,
        system_fingerprint: 'fp_emulator',
        choices: [{ index: 0, ...choice }],
        ...(includeUsage ? { usage: null } : {}),
        ...extra,
      })}\n\n`;
    const midStream = fault && 'midStream' in fault ? (fault.afterChunks ?? 1) : undefined;
    await sleep(ttft);
    const due = pacer(perToken);
    let wrote = false;
    for (let i = 0; i < planned.deltas.length; i++) {
      if (aborted) return;
      if (midStream !== undefined && i >= midStream) {
        // groq-sdk/openai turn an SSE event whose JSON has `error` into an APIError.
        res.end(`data: ${JSON.stringify(errorBody('emulated mid-stream failure', 'internal_server_error'))}\n\n`);
        return;
      }
      const delta = planned.deltas[i]!;
      // Hidden reasoning (an empty delta) is generated, paced and billed, but not sent.
      if (Object.keys(delta).length) {
        res.write(chunk({ delta, logprobs: null, finish_reason: null }, !wrote && flavor === 'groq' ? { x_groq: { id: groqId } } : {}));
        wrote = true;
      }
      if (i < planned.deltas.length - 1) await due(i + 1);
    }
    if (aborted) return;
    res.write(chunk({ delta: {}, logprobs: null, finish_reason: planned.finishReason }, flavor === 'groq' ? { x_groq: { id: groqId, usage, seed: 1 } } : {}));
    if (includeUsage) {
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: 'fp_emulator', choices: [], usage })}\n\n`);
    }
    res.end('data: [DONE]\n\n');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, errorBody(`emulator error: ${err.message}`, 'internal_server_error'));
      else res.destroy();
    });
  });
  const port = await listenLoopback(server, opts.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setRules(r) {
      rules = [...r];
    },
    setKnobs(k) {
      knobs = { ...knobs, ...k };
      if (k.seed !== undefined) rng = createRng(k.seed);
    },
    close: () => closeServer(server),
  };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
