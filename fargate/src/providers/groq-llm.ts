// Groq streaming chat completions through groq-sdk: LlmRequest → SSE chunks → LlmEvent (usage from x_groq.usage).
import Groq from 'groq-sdk';
import type { ChatCompletionCreateParamsStreaming } from 'groq-sdk/resources/chat/completions';
import { isReasoningModel, streamWithPolicy, wireBody, policyFrom, type ChunkLike, type StreamLlmOptions } from './openai-stream';
import type { LanguageModel, LlmRequest } from './types';

export interface GroqLlmOptions extends StreamLlmOptions {
  /** GROQ_BASE_URL: https://api.groq.com by default, **without** /openai/v1 (groq-sdk appends it). */
  baseURL?: string;
}

/**
 * Creates the Groq LanguageModel. Streams text deltas as they arrive, one `tool-call` per assembled call at the
 * finish chunk, then `done` with usage (`x_groq.usage` on the final chunk: Groq sends no top-level usage in chunks).
 *
 * @example
 * const llm = createGroqLlm({ apiKey: cfg.GROQ_API_KEY!, baseURL: cfg.GROQ_BASE_URL, log });
 * for await (const ev of llm.stream({ model: 'openai/gpt-oss-20b', messages, tools }, reply.signal)) { ... }
 */
export function createGroqLlm(opts: GroqLlmOptions): LanguageModel {
  // maxRetries 0 in the SDK: retries follow streamWithPolicy (never after text, capped retry-after).
  const client = new Groq({ apiKey: opts.apiKey, baseURL: opts.baseURL, timeout: opts.timeoutMs ?? 10_000, maxRetries: 0 });
  const policy = policyFrom('groq', opts);
  return {
    stream(req: LlmRequest, signal: AbortSignal) {
      const open = async (s: AbortSignal) =>
        (await client.chat.completions.create(
          {
            ...wireBody(req),
            ...(req.maxTokens !== undefined ? { max_completion_tokens: req.maxTokens } : {}),
            // gpt-oss: the lowest effort ("'low', 'medium', or 'high'. 'medium' is the default", groq-sdk
            // reasoning_effort), and no reasoning text on the wire: include_reasoning=false "Excludes reasoning from
            // the response" (console.groq.com/docs/reasoning). It is still generated first and billed as output.
            ...(isReasoningModel(req.model) ? { reasoning_effort: opts.reasoningEffort ?? 'low', include_reasoning: false } : {}),
          } as ChatCompletionCreateParamsStreaming,
          { signal: s },
        )) as AsyncIterable<ChunkLike>;
      return streamWithPolicy(open, req.model, policy, signal);
    },
  };
}
