// The task's providers as a call sees them: STT per agent profile, TTS per voice and the LLM, each from its warm pool
// and behind its failover chain (STT_PROVIDERS, TTS_PROVIDERS, LLM_PROVIDERS), with one set of circuit breakers per task.
import { novaSpeculates, type AgentProfile } from './agents';
import type { Config } from './config';
import type { Logger } from './observability/logger';
import { DEFAULT_STT_REDACTION, deepgramRedactParams } from './privacy/redaction';
import { breakersFor, llmChain, sttChain, ttsChain } from './providers/chain-config';
import { createDeepgramStt, type DeepgramConnection, type DeepgramStt } from './providers/deepgram-stt';
import { createElevenLabsTts, type ElevenLabsTts, type TtsConnection } from './providers/elevenlabs-tts';
import type { FailoverListener } from './providers/failover';
import { createOpenAiCompatibleLlm } from './providers/openai-compatible-llm';
import type { LanguageModel, Mulaw, SpeechToText, TextToSpeech } from './providers/types';
import { WarmPools } from './providers/warm-pool';
import { ENDPOINTING_PROFILES } from './turn-detector';

/** What calls take from the task's providers. */
export interface CallProviders {
  /** The recogniser for a profile: the pooled Deepgram socket, then the STT_PROVIDERS backups. */
  stt(profile: AgentProfile): SpeechToText;
  /** One call's TTS for a voice: the pooled ElevenLabs socket, then the TTS_PROVIDERS backups; `close` at hang-up. */
  openTts(voiceId: string): { tts: TextToSpeech; close(): void };
  llm: LanguageModel;
  /** Whole-phrase synthesis on the primary voice (the phrase cache). */
  synthesizeOnce(voiceId: string, text: string, signal: AbortSignal): Promise<Mulaw>;
  /** Opens warm sockets for a profile (Nova STT and its voice; Flux fills on first use). */
  warm(profile: AgentProfile): void;
  close(): void;
}

/** Builds the task's providers; `onFailover` hears every move to a backup (the ProviderFailover metric). */
export function createCallProviders(config: Config, log: Logger, onFailover?: FailoverListener): CallProviders {
  const breakers = breakersFor(config);
  const chainDeps = { log, breakers, onFailover };
  const sttPools = new WarmPools<DeepgramConnection>({ size: config.WARM_POOL_SIZE, log });
  const ttsPools = new WarmPools<TtsConnection>({ size: config.WARM_POOL_SIZE, log });
  const deepgramOf = memo((profile: AgentProfile) => deepgramFor(config, log, profile), profileKey);
  const elevenLabsOf = memo((voiceId: string) => createElevenLabsTts({ apiKey: config.ELEVENLABS_API_KEY, url: config.ELEVENLABS_URL, voiceId, model: config.ELEVENLABS_MODEL, log }), (v) => v);

  const pooledDeepgram = (stt: DeepgramStt): SpeechToText => ({
    transcribe: (audio, signal) =>
      (async function* () {
        const conn = await sttPools.acquire(stt.key, (s) => stt.connect(s));
        try {
          yield* conn.transcribe(audio, signal);
        } finally {
          conn.close();
        }
      })(),
  });
  // A single-provider seam stays unwrapped: the chain's replay buffer would copy every frame for nothing.
  const sttOf = memo((profile: AgentProfile): SpeechToText => {
    const deepgram = pooledDeepgram(deepgramOf(profile));
    if (config.STT_PROVIDERS.length === 1 && config.STT_PROVIDERS[0] === 'deepgram') return deepgram;
    const ep = ENDPOINTING_PROFILES[profile.endpointing];
    return sttChain(config, { ...chainDeps, deepgram, minTurnSilenceMs: ep.endpointingMs });
  }, profileKey);
  const llm =
    config.LLM_PROVIDER === 'openai-compatible'
      ? createOpenAiCompatibleLlm({ apiKey: config.LLM_API_KEY!, baseURL: config.LLM_BASE_URL!, log })
      : llmChain(config, chainDeps);

  return {
    stt: sttOf,
    openTts(voiceId) {
      const t = elevenLabsOf(voiceId);
      const conn = ttsPools.acquire(t.key, (s) => t.connect(s));
      conn.catch(() => undefined);
      const elevenlabs: TextToSpeech = {
        synthesize: (text, signal) =>
          (async function* () {
            yield* (await conn).synthesize(text, signal);
          })(),
      };
      const closeElevenLabs = () => void conn.then((c) => c.close(), () => undefined);
      if (config.TTS_PROVIDERS.length === 1 && config.TTS_PROVIDERS[0] === 'elevenlabs') return { tts: elevenlabs, close: closeElevenLabs };
      const chain = ttsChain(config, { ...chainDeps, elevenlabs });
      return { tts: chain, close: () => (closeElevenLabs(), chain.close()) };
    },
    llm,
    synthesizeOnce: (voiceId, text, signal) => elevenLabsOf(voiceId).synthesizeOnce(text, signal),
    warm(p) {
      if (!p.stt.startsWith('flux')) {
        const stt = deepgramOf(p);
        sttPools.pool(stt.key, (s) => stt.connect(s));
      }
      const tts = elevenLabsOf(p.voiceId);
      ttsPools.pool(tts.key, (s) => tts.connect(s));
    },
    close() {
      sttPools.close();
      ttsPools.close();
    },
  };
}

/** Profiles that share model, endpointing and speculation share one Deepgram configuration (and warm pool). */
const profileKey = (p: AgentProfile) => `${p.stt}:${p.endpointing}:${p.speculate !== false}`;

function memo<K, V>(make: (k: K) => V, keyOf: (k: K) => string): (k: K) => V {
  const byKey = new Map<string, V>();
  return (k) => {
    const key = keyOf(k);
    let v = byKey.get(key);
    if (v === undefined) byKey.set(key, (v = make(k)));
    return v;
  };
}

/** The Deepgram recogniser for a profile's model, endpointing and speculation. */
function deepgramFor(config: Config, log: Logger, profile: AgentProfile): DeepgramStt {
  const ep = ENDPOINTING_PROFILES[profile.endpointing];
  const flux = profile.stt.startsWith('flux');
  const speculate = profile.speculate !== false;
  return createDeepgramStt({
    apiKey: config.DEEPGRAM_API_KEY,
    url: config.DEEPGRAM_URL,
    model: profile.stt,
    // Nova speculation and adaptive turns: Deepgram ends segments at the eager window; the detector holds for the rest.
    profile: { endpointingMs: novaSpeculates(profile) || ep.adaptive ? ep.eagerEndpointingMs : ep.endpointingMs, utteranceEndMs: ep.utteranceEndMs },
    flux: { eotThreshold: ep.eotThreshold, ...(flux && speculate ? { eagerEotThreshold: ep.eagerEotThreshold } : {}) },
    // Card numbers and SSNs are redacted at the source on Nova; Flux only offers `numbers`, which would also hide
    // order numbers and times, so Flux text is redacted by us before it reaches the LLM.
    redact: flux ? [] : deepgramRedactParams(DEFAULT_STT_REDACTION),
    log,
  });
}
