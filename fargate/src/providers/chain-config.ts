// Provider order per seam from the environment (STT_PROVIDERS, TTS_PROVIDERS, LLM_PROVIDERS + each provider's URL/key) and the chained seams built from it.
import { z } from 'zod';
import type { Logger } from '../observability/logger';
import { createAssemblyAiStt } from './assemblyai-stt';
import { CircuitBreaker } from './circuit-breaker';
import { createDeepgramTts } from './deepgram-tts';
import { Breakers, failoverLlm, failoverStt, failoverTts, type ChainProvider, type FailoverListener, type LlmChainProvider } from './failover';
import { createGoogleStt } from './google-stt';
import { createGroqLlm } from './groq-llm';
import { createOpenAiCompatibleLlm } from './openai-compatible-llm';
import type { LanguageModel, SpeechToText, TextToSpeech } from './types';

import { LLM_NAMES, STT_NAMES, TTS_NAMES, type LlmName, type SttName, type TtsName } from '../../../contracts/providers';


/** A comma list of distinct names from `allowed`, in order ("deepgram,assemblyai"). */
function orderOf<T extends string>(allowed: readonly T[], fallback: T) {
  return z
    .string()
    .default(fallback)
    .transform((s, ctx) => {
      const names = s.split(',').map((n) => n.trim()).filter(Boolean);
      const bad = names.filter((n) => !allowed.includes(n as T));
      if (bad.length || !names.length) ctx.addIssue({ code: 'custom', message: `must list providers from ${allowed.join(', ')} (got "${s}")` });
      if (new Set(names).size !== names.length) ctx.addIssue({ code: 'custom', message: `lists a provider twice ("${s}")` });
      return names as T[];
    });
}

/** "3000" (every provider) or "groq:3000,fireworks:5000" → ms per provider name. */
const stallMap = z
  .string()
  .optional()
  .transform((s, ctx): Record<string, number> | number | undefined => {
    if (!s?.trim()) return undefined;
    if (/^\d+$/.test(s.trim())) return Number(s.trim());
    const out: Record<string, number> = {};
    for (const part of s.split(',')) {
      const m = /^\s*([a-z]+)\s*:\s*(\d+)\s*$/.exec(part);
      if (!m) ctx.addIssue({ code: 'custom', message: `"${part}" is not name:ms` });
      else out[m[1]!] = Number(m[2]);
    }
    return out;
  });

const url = z.url();

/** Every variable this module reads; config.ts folds them into the media service's one environment schema. */
export const chainEnvSchema = z.object({
  STT_PROVIDERS: orderOf(STT_NAMES, 'deepgram'),
  TTS_PROVIDERS: orderOf(TTS_NAMES, 'elevenlabs'),
  LLM_PROVIDERS: orderOf(LLM_NAMES, 'groq'),
  /** Per-seam stall deadlines: one number for every provider, or name:ms pairs. */
  STT_STALL_MS: stallMap,
  LLM_STALL_MS: stallMap,
  TTS_STALL_MS: stallMap,
  /** Circuit breaker: consecutive failures that open it, and how long it stays open before a probe. */
  BREAKER_FAILURES: z.coerce.number().int().positive().default(3),
  BREAKER_OPEN_MS: z.coerce.number().int().nonnegative().default(30_000),
  ASSEMBLYAI_API_KEY: z.string().min(1).optional(),
  /** wss URL override (the emulator). */
  ASSEMBLYAI_URL: url.optional(),
  /** Service-account JSON (Secrets Manager) with client_email and private_key. */
  GOOGLE_STT_CREDENTIALS: z.string().min(1).optional(),
  GOOGLE_STT_API_KEY: z.string().min(1).optional(),
  GOOGLE_STT_PROJECT_ID: z.string().min(1).optional(),
  /** host:port of a plaintext endpoint (the emulator). */
  GOOGLE_STT_ENDPOINT: z.string().regex(/^[^:]+:\d+$/, 'GOOGLE_STT_ENDPOINT must be host:port').optional(),
  GOOGLE_STT_MODEL: z.string().min(1).optional(),
  /** The TTS fallback uses DEEPGRAM_API_KEY (the same account as STT). */
  DEEPGRAM_API_KEY: z.string().min(1).optional(),
  DEEPGRAM_TTS_URL: url.optional(),
  DEEPGRAM_TTS_MODEL: z.string().default('aura-2-thalia-en'),
  GROQ_API_KEY: z.string().min(1).optional(),
  GROQ_BASE_URL: url.optional(),
  FIREWORKS_API_KEY: z.string().min(1).optional(),
  FIREWORKS_BASE_URL: url.default('https://api.fireworks.ai/inference/v1'),
  /** Fireworks names of the small and large models (LLM_MODEL_SMALL/LARGE are Groq's ids). */
  FIREWORKS_MODEL_SMALL: z.string().default('accounts/fireworks/models/gpt-oss-20b'),
  FIREWORKS_MODEL_LARGE: z.string().default('accounts/fireworks/models/gpt-oss-120b'),
  TOGETHER_API_KEY: z.string().min(1).optional(),
  TOGETHER_BASE_URL: url.default('https://api.together.xyz/v1'),
  TOGETHER_MODEL_SMALL: z.string().default('openai/gpt-oss-20b'),
  TOGETHER_MODEL_LARGE: z.string().default('openai/gpt-oss-120b'),
  LLM_MODEL_SMALL: z.string().default('openai/gpt-oss-20b'),
  LLM_MODEL_LARGE: z.string().default('openai/gpt-oss-120b'),
});

export type ChainConfig = z.output<typeof chainEnvSchema>;

/** What each listed provider needs set, by its variable names. */
const NEEDS: Record<string, { vars: string; ok: (c: ChainConfig) => boolean }> = {
  'STT_PROVIDERS:assemblyai': { vars: 'ASSEMBLYAI_API_KEY', ok: (c) => !!c.ASSEMBLYAI_API_KEY },
  'STT_PROVIDERS:google': { vars: 'GOOGLE_STT_CREDENTIALS, GOOGLE_STT_API_KEY or GOOGLE_STT_ENDPOINT', ok: (c) => !!(c.GOOGLE_STT_CREDENTIALS || c.GOOGLE_STT_API_KEY || c.GOOGLE_STT_ENDPOINT) },
  'TTS_PROVIDERS:deepgram': { vars: 'DEEPGRAM_API_KEY', ok: (c) => !!c.DEEPGRAM_API_KEY },
  'LLM_PROVIDERS:groq': { vars: 'GROQ_API_KEY', ok: (c) => !!c.GROQ_API_KEY },
  'LLM_PROVIDERS:fireworks': { vars: 'FIREWORKS_API_KEY', ok: (c) => !!c.FIREWORKS_API_KEY },
  'LLM_PROVIDERS:together': { vars: 'TOGETHER_API_KEY', ok: (c) => !!c.TOGETHER_API_KEY },
};

/**
 * What is wrong with parsed chain variables, one line per problem ("GROQ_API_KEY: required when LLM_PROVIDERS lists
 * groq"); empty when every listed provider has its key. `llm: false` skips LLM_PROVIDERS (a single
 * LLM_PROVIDER=openai-compatible endpoint replaces the chain).
 */
export function chainProblems(c: ChainConfig, opts: { llm?: boolean } = {}): string[] {
  const listed = [
    ...c.STT_PROVIDERS.map((n) => `STT_PROVIDERS:${n}`),
    ...c.TTS_PROVIDERS.map((n) => `TTS_PROVIDERS:${n}`),
    ...(opts.llm === false ? [] : c.LLM_PROVIDERS.map((n) => `LLM_PROVIDERS:${n}`)),
  ];
  const problems = listed.filter((k) => NEEDS[k] && !NEEDS[k].ok(c)).map((k) => `${NEEDS[k]!.vars}: required when ${k.replace(':', ' lists ')}`);
  if (c.GOOGLE_STT_CREDENTIALS) {
    try {
      parseGoogleCredentials(c.GOOGLE_STT_CREDENTIALS);
    } catch {
      problems.push('GOOGLE_STT_CREDENTIALS: must be service-account JSON with client_email and private_key');
    }
  }
  return problems;
}

/** Parses and checks the chain variables (tools such as `npm run evaluate`); throws one error naming every problem. */
export function parseChainConfig(env: Record<string, string | undefined>): ChainConfig {
  const blankless = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const r = chainEnvSchema.safeParse(blankless);
  if (!r.success) throw new Error(`invalid provider chain environment:\n${r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  const problems = chainProblems(r.data);
  if (problems.length) throw new Error(`invalid provider chain environment:\n  ${problems.join('\n  ')}`);
  return r.data;
}

function parseGoogleCredentials(json: string): { client_email: string; private_key: string } {
  try {
    const v = JSON.parse(json) as { client_email?: unknown; private_key?: unknown };
    if (typeof v.client_email === 'string' && typeof v.private_key === 'string') return { client_email: v.client_email, private_key: v.private_key };
  } catch {
    // reported below
  }
  throw new Error('invalid provider chain environment:\n  GOOGLE_STT_CREDENTIALS: must be service-account JSON with client_email and private_key');
}

const stallFor = (m: Record<string, number> | number | undefined, name: string) => (typeof m === 'number' ? m : m?.[name]);

export interface ChainDeps {
  log: Logger;
  /** One per task (the breakers must outlive calls). @default a new set from BREAKER_* */
  breakers?: Breakers;
  onFailover?: FailoverListener;
}

/** The task's breakers, configured from BREAKER_FAILURES / BREAKER_OPEN_MS. */
export function breakersFor(c: ChainConfig): Breakers {
  return new Breakers(() => new CircuitBreaker({ failureThreshold: c.BREAKER_FAILURES, openMs: c.BREAKER_OPEN_MS }));
}

/** The chained LanguageModel in LLM_PROVIDERS order; Fireworks and Together get their own names for the small/large models. */
export function llmChain(c: ChainConfig, deps: ChainDeps): LanguageModel {
  const breakers = deps.breakers ?? breakersFor(c);
  const modelMap = (small: string, large: string) => (m: string) => (m === c.LLM_MODEL_LARGE ? large : m === c.LLM_MODEL_SMALL ? small : m);
  const make: Record<LlmName, () => Omit<LlmChainProvider, 'breaker' | 'stallMs'>> = {
    groq: () => ({ name: 'groq', impl: createGroqLlm({ apiKey: c.GROQ_API_KEY!, baseURL: c.GROQ_BASE_URL, log: deps.log }) }),
    fireworks: () => ({
      name: 'fireworks',
      impl: createOpenAiCompatibleLlm({ apiKey: c.FIREWORKS_API_KEY!, baseURL: c.FIREWORKS_BASE_URL, provider: 'fireworks', log: deps.log }),
      model: modelMap(c.FIREWORKS_MODEL_SMALL, c.FIREWORKS_MODEL_LARGE),
    }),
    together: () => ({
      name: 'together',
      impl: createOpenAiCompatibleLlm({ apiKey: c.TOGETHER_API_KEY!, baseURL: c.TOGETHER_BASE_URL, provider: 'together', log: deps.log }),
      model: modelMap(c.TOGETHER_MODEL_SMALL, c.TOGETHER_MODEL_LARGE),
    }),
  };
  return failoverLlm(
    c.LLM_PROVIDERS.map((n) => ({ ...make[n](), breaker: breakers.get('llm', n), stallMs: stallFor(c.LLM_STALL_MS, n) })),
    deps.onFailover,
  );
}

/**
 * The chained SpeechToText in STT_PROVIDERS order. Deepgram is the caller's already-built (agent-specific, possibly
 * pooled) SpeechToText; AssemblyAI and Google are built from the config.
 */
export function sttChain(c: ChainConfig, deps: ChainDeps & { deepgram: SpeechToText; minTurnSilenceMs?: number; maxTurnSilenceMs?: number }): SpeechToText {
  const breakers = deps.breakers ?? breakersFor(c);
  const make: Record<SttName, () => SpeechToText> = {
    deepgram: () => deps.deepgram,
    assemblyai: () =>
      createAssemblyAiStt({ apiKey: c.ASSEMBLYAI_API_KEY!, url: c.ASSEMBLYAI_URL, log: deps.log, minTurnSilenceMs: deps.minTurnSilenceMs, maxTurnSilenceMs: deps.maxTurnSilenceMs }),
    google: () =>
      createGoogleStt({
        ...(c.GOOGLE_STT_CREDENTIALS ? { credentials: parseGoogleCredentials(c.GOOGLE_STT_CREDENTIALS) } : {}),
        apiKey: c.GOOGLE_STT_API_KEY,
        projectId: c.GOOGLE_STT_PROJECT_ID,
        endpoint: c.GOOGLE_STT_ENDPOINT,
        model: c.GOOGLE_STT_MODEL,
        log: deps.log,
      }),
  };
  const chain: ChainProvider<SpeechToText>[] = c.STT_PROVIDERS.map((n) => ({ name: n, impl: make[n](), breaker: breakers.get('stt', n), stallMs: stallFor(c.STT_STALL_MS, n) }));
  return failoverStt(chain, deps.onFailover);
}

/** A socket-per-call TTS used as a plain TextToSpeech: dials on the first reply (a failed dial fails that reply) and redials once closed. */
export function lazyTts(connect: () => Promise<TextToSpeech & { readonly isOpen: boolean; close(): void }>): TextToSpeech & { close(): void } {
  let conn: Promise<TextToSpeech & { readonly isOpen: boolean; close(): void }> | undefined;
  return {
    synthesize(text, signal) {
      return (async function* () {
        let c = conn ? await conn.catch(() => undefined) : undefined;
        if (!c?.isOpen) {
          conn = connect();
          conn.catch(() => undefined);
          c = await conn;
        }
        yield* c.synthesize(text, signal);
      })();
    },
    close() {
      void conn?.then((c) => c.close(), () => undefined);
      conn = undefined;
    },
  };
}

/**
 * The chained TextToSpeech for one call in TTS_PROVIDERS order. ElevenLabs is the caller's per-call connection (as
 * today); Deepgram Aura-2 is dialed lazily, only when a reply first needs it. Close the result when the call ends.
 */
export function ttsChain(c: ChainConfig, deps: ChainDeps & { elevenlabs: TextToSpeech }): TextToSpeech & { close(): void } {
  const breakers = deps.breakers ?? breakersFor(c);
  const deepgram = c.TTS_PROVIDERS.includes('deepgram')
    ? lazyTts(() => createDeepgramTts({ apiKey: c.DEEPGRAM_API_KEY!, url: c.DEEPGRAM_TTS_URL, model: c.DEEPGRAM_TTS_MODEL, log: deps.log }).connect())
    : undefined;
  const impl: Record<TtsName, () => TextToSpeech> = { elevenlabs: () => deps.elevenlabs, deepgram: () => deepgram! };
  const seam = failoverTts(
    c.TTS_PROVIDERS.map((n) => ({ name: n, impl: impl[n](), breaker: breakers.get('tts', n), stallMs: stallFor(c.TTS_STALL_MS, n) })),
    deps.onFailover,
  );
  return { synthesize: (t, s) => seam.synthesize(t, s), close: () => deepgram?.close() };
}
