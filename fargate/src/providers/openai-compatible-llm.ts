// OpenAI-compatible streaming chat completions (Fireworks, Together, ...) through the openai SDK: LlmRequest → chunks → LlmEvent.
import OpenAI from 'openai';
import { isReasoningModel, streamWithPolicy, wireBody, policyFrom, type ChunkLike, type StreamLlmOptions } from './openai-stream';
import type { LanguageModel, LlmRequest } from './types';

export interface OpenAiCompatibleLlmOptions extends StreamLlmOptions {
  /** LLM_BASE_URL including /v1: https://api.fireworks.ai/inference/v1, https://api.together.ai/v1. */
  baseURL: string;
  /** Provider name for errors and logs. @default 'openai-compatible' */
  provider?: string;
}

/**
 * Creates a LanguageModel for any OpenAI-compatible endpoint. Usage comes from the extra chunk that
 * `stream_options: { include_usage: true }` asks for (choices empty, top-level `usage`).
 *
 * @example
 * const llm = createOpenAiCompatibleLlm({ apiKey: cfg.LLM_API_KEY!, baseURL: cfg.LLM_BASE_URL!, log });
 * for await (const ev of llm.stream({ model: 'accounts/fireworks/models/gpt-oss-20b', messages }, signal)) { ... }
 */
export function createOpenAiCompatibleLlm(opts: OpenAiCompatibleLlmOptions): LanguageModel {
  const client = new OpenAI({ apiKey: opts.apiKey, baseURL: opts.baseURL, timeout: opts.timeoutMs ?? 10_000, maxRetries: 0 });
  const policy = policyFrom(opts.provider ?? 'openai-compatible', opts);
  return {
    stream(req: LlmRequest, signal: AbortSignal) {
      const open = async (s: AbortSignal) =>
        (await client.chat.completions.create(
          {
            ...wireBody(req),
            stream_options: { include_usage: true },
            // Fireworks and Together take the classic max_tokens.
            ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}),
            ...(isReasoningModel(req.model) ? { reasoning_effort: opts.reasoningEffort ?? 'low' } : {}),
          } as OpenAI.Chat.ChatCompletionCreateParamsStreaming,
          { signal: s },
        )) as unknown as AsyncIterable<ChunkLike>;
      return streamWithPolicy(open, req.model, policy, signal);
    },
  };
}
