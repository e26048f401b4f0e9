// Shared by groq-llm and openai-compatible-llm: OpenAI-style chat.completion.chunk streams → LlmEvent, and the retry/stall rules.
import type { Logger } from '../observability/logger';
import type { LlmEvent, LlmRequest, LlmUsage, ToolCall } from './types';

/** The chunk fields read here; groq-sdk's and openai's ChatCompletionChunk types both fit. */
export interface ChunkLike {
  model?: string;
  choices?: {
    delta?: {
      content?: string | null;
      /** gpt-oss reasoning tokens (Groq `reasoning`, some providers `reasoning_content`): never spoken. */
      reasoning?: string | null;
      tool_calls?: { index: number; id?: string; type?: string; function?: { name?: string; arguments?: string } }[] | null;
    };
    finish_reason?: string | null;
  }[];
  /** OpenAI-compatible providers: the `stream_options.include_usage` chunk (choices empty). */
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  /** Groq: usage on the final chunk, and an error string when the stream was stopped early. */
  x_groq?: { usage?: { prompt_tokens?: number; completion_tokens?: number } | null; error?: string | null } | null;
}

/** The LLM stream failed; `retryable` says whether another attempt may succeed (429, 5xx, network, stall). */
export class LlmError extends Error {
  override name = 'LlmError';
  constructor(
    message: string,
    readonly retryable: boolean,
    /** HTTP status when there was one. */
    readonly status?: number,
    /** Server-requested wait (retry-after), ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * Translates one completion's chunks into LlmEvents: each text delta at once; tool-call fragments assembled per
 * `index` (the first fragment carries id and name, later ones only argument pieces: protocols.md §3.1) and emitted
 * as one `tool-call` each when the choice finishes; `done` at the end with finish reason, usage and model.
 * Reasoning deltas are dropped. A stream that ends without a finish reason (cut off) throws LlmError.
 * Pure: no I/O, no clock; the same chunks always give the same events.
 */
export async function* translateChunks(chunks: AsyncIterable<ChunkLike>, requestedModel: string): AsyncGenerator<LlmEvent> {
  const calls = new Map<number, { id?: string; name: string; args: string }>();
  let finishReason: string | undefined;
  let usage: LlmUsage | undefined;
  let model = requestedModel;
  let toolsEmitted = false;

  function* flushTools(): Generator<LlmEvent> {
    if (toolsEmitted) return;
    toolsEmitted = true;
    for (const [index, c] of [...calls.entries()].sort((a, b) => a[0] - b[0])) {
      const call: ToolCall = {
        // Some OpenAI-compatible providers omit ids; the tool message must still answer a stable one.
        id: c.id ?? `call_${index}`,
        name: c.name,
        // A tool without parameters may stream no argument text at all; "{}" is what it means.
        arguments: c.args.trim() === '' ? '{}' : c.args,
      };
      yield { kind: 'tool-call', call };
    }
  }

  for await (const chunk of chunks) {
    if (chunk.model) model = chunk.model;
    if (chunk.x_groq?.error) throw new LlmError(`Groq stopped the stream: ${chunk.x_groq.error}`, false);
    const u = chunk.x_groq?.usage ?? chunk.usage;
    if (u) usage = { inputTokens: u.prompt_tokens ?? 0, outputTokens: u.completion_tokens ?? 0 };
    for (const choice of chunk.choices ?? []) {
      const delta = choice.delta;
      if (delta?.content) yield { kind: 'text', delta: delta.content };
      for (const tc of delta?.tool_calls ?? []) {
        const c = calls.get(tc.index) ?? { name: '', args: '' };
        if (tc.id) c.id = tc.id;
        if (tc.function?.name) c.name += tc.function.name;
        if (tc.function?.arguments) c.args += tc.function.arguments;
        calls.set(tc.index, c);
      }
      if (choice.finish_reason) {
        finishReason = choice.finish_reason;
        // Tool calls are complete at the finish chunk; don't wait for a trailing usage chunk to hand them over.
        yield* flushTools();
      }
    }
  }
  if (!finishReason) throw new LlmError('the LLM stream ended without a finish reason (cut off)', false);
  yield* flushTools();
  yield { kind: 'done', finishReason, usage: usage ?? { inputTokens: 0, outputTokens: 0 }, model };
}

/** True for the reasoning models that take `reasoning_effort` (numbers.md §0: set it low for voice). */
export function isReasoningModel(model: string): boolean {
  return /gpt-oss/i.test(model);
}

/** LlmRequest → the OpenAI-wire body fields both SDKs accept. */
export function wireBody(req: LlmRequest): {
  model: string;
  messages: LlmRequest['messages'];
  stream: true;
  tools?: { type: 'function'; function: { name: string; description: string; parameters: Record<string, unknown> } }[];
  tool_choice?: 'auto';
  temperature?: number;
} {
  return {
    model: req.model,
    messages: req.messages,
    stream: true,
    ...(req.tools?.length
      ? { tools: req.tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: t.parameters } })), tool_choice: 'auto' as const }
      : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
  };
}

/** The SDK error fields read here (groq-sdk and openai share the Stainless APIError shape). */
interface SdkErrorLike {
  name?: string;
  message?: string;
  status?: number;
  headers?: Headers | Record<string, string>;
}

function header(h: SdkErrorLike['headers'], name: string): string | undefined {
  if (!h) return undefined;
  if (typeof (h as Headers).get === 'function') return (h as Headers).get(name) ?? undefined;
  return (h as Record<string, string>)[name];
}

/** An SDK error → LlmError: 408/409/429/5xx and connection errors are retryable; retry-after(-ms) is read. */
export function toLlmError(err: unknown, provider: string): LlmError {
  if (err instanceof LlmError) return err;
  const e = (err ?? {}) as SdkErrorLike;
  const status = typeof e.status === 'number' ? e.status : undefined;
  const ms = Number(header(e.headers, 'retry-after-ms'));
  const s = header(e.headers, 'retry-after');
  let retryAfterMs: number | undefined = Number.isFinite(ms) && ms >= 0 && header(e.headers, 'retry-after-ms') !== undefined ? ms : undefined;
  if (retryAfterMs === undefined && s !== undefined) {
    const secs = Number(s);
    retryAfterMs = Number.isFinite(secs) ? secs * 1000 : Math.max(0, Date.parse(s) - Date.now()) || undefined;
  }
  const connection = /Connection/.test(e.name ?? '') || status === undefined;
  const retryable = status !== undefined ? status === 408 || status === 409 || status === 429 || status >= 500 : connection && !/Abort/.test(e.name ?? '');
  return new LlmError(`${provider} ${status ? `HTTP ${status}` : 'request failed'}: ${e.message ?? String(err)}`, retryable, status, retryAfterMs);
}

/** What both OpenAI-style providers (Groq, OpenAI-compatible) are configured with. */
export interface StreamLlmOptions {
  apiKey: string;
  log: Logger;
  /** Time to response headers per attempt. @default 10000 */
  timeoutMs?: number;
  /** Retries for 429/5xx/network before the first token; never after. @default 1 */
  maxRetries?: number;
  /** A retry-after above this fails at once. @default 3000 */
  maxRetryWaitMs?: number;
  /** Longest silence between chunks before the stream counts as stalled. @default 10000 */
  idleTimeoutMs?: number;
  /** gpt-oss `reasoning_effort`; reasoning tokens delay the first spoken word. @default 'low' */
  reasoningEffort?: 'low' | 'medium' | 'high';
}

/** The stream policy from provider options, with the defaults documented on {@link StreamLlmOptions}. */
export function policyFrom(provider: string, opts: StreamLlmOptions): StreamPolicy {
  return {
    provider,
    maxRetries: opts.maxRetries ?? 1,
    maxRetryWaitMs: opts.maxRetryWaitMs ?? 3000,
    retryBackoffMs: 250,
    idleTimeoutMs: opts.idleTimeoutMs ?? 10_000,
    log: opts.log,
  };
}

export interface StreamPolicy {
  /** Provider name for errors and logs. */
  provider: string;
  /** Extra attempts for a retryable failure before anything was emitted. @default 1 */
  maxRetries: number;
  /** A retry-after longer than this fails at once instead: a caller on the line should not wait on a rate limit. @default 3000 */
  maxRetryWaitMs: number;
  /** Wait before a retry when the server gives no retry-after. @default 250 */
  retryBackoffMs: number;
  /** Longest gap between chunks (and before the first) before the stream counts as stalled. @default 10000 */
  idleTimeoutMs: number;
  log?: Logger;
}

/**
 * Runs one streamed completion with the voice rules: a retryable failure (429 honouring retry-after, 5xx, network,
 * stall) is retried at most `maxRetries` times and only while nothing has been emitted (a retry after the caller
 * heard text would repeat it); a chunk gap over `idleTimeoutMs` aborts the request; `signal` ends it at once.
 * `open` starts one attempt (the SDK call, with its own retries off) and returns its chunk stream.
 */
export async function* streamWithPolicy(
  open: (signal: AbortSignal) => Promise<AsyncIterable<ChunkLike>>,
  requestedModel: string,
  policy: StreamPolicy,
  signal: AbortSignal,
): AsyncGenerator<LlmEvent> {
  for (let attempt = 0; ; attempt++) {
    const attemptCtl = new AbortController();
    const onAbort = () => attemptCtl.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let stalled = false;
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        stalled = true;
        attemptCtl.abort(new Error('stalled'));
      }, policy.idleTimeoutMs);
    };
    let emitted = false;
    try {
      if (signal.aborted) throw signal.reason;
      arm();
      const chunks = await open(attemptCtl.signal);
      const timed = (async function* () {
        for await (const c of chunks) {
          arm();
          yield c;
        }
      })();
      for await (const ev of translateChunks(timed, requestedModel)) {
        emitted = true;
        yield ev;
      }
      return;
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      const e = stalled ? new LlmError(`${policy.provider}: no data for ${policy.idleTimeoutMs} ms (stalled)`, true) : toLlmError(err, policy.provider);
      const wait = e.retryAfterMs ?? policy.retryBackoffMs;
      if (emitted || !e.retryable || attempt >= policy.maxRetries || wait > policy.maxRetryWaitMs) throw e;
      policy.log?.warn({ provider: policy.provider, status: e.status, attempt, waitMs: wait }, 'llm request failed before the first token; retrying');
      await new Promise<void>((resolve, reject) => {
        const stop = () => (clearTimeout(t), reject(signal.reason));
        const t = setTimeout(() => (signal.removeEventListener('abort', stop), resolve()), wait);
        signal.addEventListener('abort', stop, { once: true });
      });
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', onAbort);
      attemptCtl.abort(); // closes the HTTP stream if the consumer stopped early
    }
  }
}
