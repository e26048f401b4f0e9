// The task's call runtime: stores, warm provider pools, the phrase cache and the tools client, built once at boot;
// `handle` runs one call through runCall().
import { loadAgents, novaSpeculates, type AgentProfile } from './agents';
import { AudioCache } from './call/audio-cache';
import { runCall, type CallDeps, type LiveCall } from './call';
import type { Config } from './config';
import type { CallInstruments } from './observability/instruments';
import type { Logger } from './observability/logger';
import { DEFAULT_STT_REDACTION, deepgramRedactParams } from './privacy/redaction';
import { createDeepgramStt, type DeepgramConnection, type DeepgramStt } from './providers/deepgram-stt';
import { createElevenLabsTts, type ElevenLabsTts, type TtsConnection } from './providers/elevenlabs-tts';
import { createGroqLlm } from './providers/groq-llm';
import { createOpenAiCompatibleLlm } from './providers/openai-compatible-llm';
import type { LlmTool } from './providers/types';
import { WarmPools } from './providers/warm-pool';
import type { CallObserver } from './observability/observer';
import type { AcceptedCall } from './telephony/accepted-call';
import { openStores } from './store/call-recorder';
import { contractFor, toolsFor } from './tools/catalog';
import { createToolClient } from './tools/tool-client';
import { ENDPOINTING_PROFILES } from './turn-detector';
import { ConsoleFeed, withLiveFeed } from './observability/console-feed';
import { createDocumentClient } from './store/dynamo';


/** What main.ts and the local stack use. */
export interface CallRuntime {
  handle: (call: AcceptedCall) => Promise<void>;
  agentFor(calledNumber: string): string;
  /**
   * The task must go: every live call moves to another task (after what is being said, bounded by `deadlineMs`).
   * Calls that could not move stay, and the drain waits for them.
   */
  migrateAll(deadlineMs: number): Promise<{ migrated: number; stayed: number }>;
  close(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options of {@link createCallHandler}. */
export interface CallHandlerOptions {
  /** Per-call observability (EMF metrics, cost meter, model router). @default {@link logObserver} */
  observerFor?(call: AcceptedCall): CallObserver;
  /** Per-call cost meter, router + guardrail, EMF/Prometheus (observability/instruments.ts `instrumentsFor`). */
  instrumentsFor?(call: AcceptedCall, profile: AgentProfile): CallInstruments;
  /** TranscriptWriteErrors: items the transcript writer gave up on. */
  onTranscriptWriteError?(count: number): void;
  /** TranscriptQueueOverflow: items the bounded transcript queue had to spool. */
  onTranscriptQueueOverflow?(count: number): void;
  /** Longest boot wait for the phrase cache and warm sockets; calls still work (slower) if it runs out. @default 10000 */
  warmUpTimeoutMs?: number;
}

/**
 * Builds the task's call runtime: stores (Redis session + memory, DynamoDB transcripts), providers (Deepgram STT and
 * ElevenLabs TTS from per-profile warm pools, Groq or an OpenAI-compatible LLM, the tools API client), and the
 * phrase cache warmed with every profile's greeting, fillers and handoff lines. `handle` runs one call.
 */
export async function createCallHandler(config: Config, log: Logger, opts: CallHandlerOptions = {}): Promise<CallRuntime> {
  const stores = await openStores(config, log, { onTranscriptWriteError: opts.onTranscriptWriteError, onTranscriptQueueOverflow: opts.onTranscriptQueueOverflow });
  const sttPools = new WarmPools<DeepgramConnection>({ size: config.WARM_POOL_SIZE, log });
  const ttsPools = new WarmPools<TtsConnection>({ size: config.WARM_POOL_SIZE, log });

  const sttByKey = new Map<string, DeepgramStt>();
  const sttOf = (profile: AgentProfile): DeepgramStt => {
    const ep = ENDPOINTING_PROFILES[profile.endpointing];
    const flux = profile.stt.startsWith('flux');
    const speculate = profile.speculate !== false;
    const id = `${profile.stt}:${profile.endpointing}:${speculate}`;
    let stt = sttByKey.get(id);
    if (!stt) {
      stt = createDeepgramStt({
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
      sttByKey.set(id, stt);
    }
    return stt;
  };
  const ttsByVoice = new Map<string, ElevenLabsTts>();
  const ttsOf = (voiceId: string): ElevenLabsTts => {
    let tts = ttsByVoice.get(voiceId);
    if (!tts) {
      tts = createElevenLabsTts({ apiKey: config.ELEVENLABS_API_KEY, url: config.ELEVENLABS_URL, voiceId, model: config.ELEVENLABS_MODEL, log });
      ttsByVoice.set(voiceId, tts);
    }
    return tts;
  };
  const llm =
    config.LLM_PROVIDER === 'groq'
      ? createGroqLlm({ apiKey: config.GROQ_API_KEY!, baseURL: config.GROQ_BASE_URL, log })
      : createOpenAiCompatibleLlm({ apiKey: config.LLM_API_KEY!, baseURL: config.LLM_BASE_URL!, log });
  const tools = createToolClient({ baseUrl: config.TOOLS_URL, auth: config.TOOLS_AUTH, region: config.AWS_REGION, log });
  // Fail at boot, not mid-call, on a bad agent file or a profile naming a tool the catalog does not have.
  const agents = loadAgents({ dir: config.AGENTS_DIR, numbers: config.NUMBER_TO_AGENT, fallback: config.DEFAULT_AGENT });
  for (const p of agents.all()) toolsFor(p.tools);
  const toolDefsByAgent = new Map<string, LlmTool[]>();
  const cache = new AudioCache({
    synth: async (voiceId, text, signal) => ({ audio: await ttsOf(voiceId).synthesizeOnce(text, signal) }),
    log,
  });

  // Warm at boot: every profile's phrases, and sockets for the Nova profiles (a Flux socket is kept alive with
  // silence that Deepgram bills as audio, so Flux pools fill on first use instead).
  const profiles = agents.all();
  for (const p of profiles) {
    if (!p.stt.startsWith('flux')) {
      const stt = sttOf(p);
      sttPools.pool(stt.key, (s) => stt.connect(s));
    }
    const tts = ttsOf(p.voiceId);
    ttsPools.pool(tts.key, (s) => tts.connect(s));
  }
  const warmTimeout = opts.warmUpTimeoutMs ?? 10_000;
  await Promise.race([cache.warm(profiles), sleep(warmTimeout)]);

  const liveFeed = consoleFeedFor(config, log);
  const deps: CallDeps = {
    config,
    agents,
    stt: (profile) => {
      const stt = sttOf(profile);
      return {
        transcribe: (audio, signal) =>
          (async function* () {
            const conn = await sttPools.acquire(stt.key, (s) => stt.connect(s));
            try {
              yield* conn.transcribe(audio, signal);
            } finally {
              conn.close();
            }
          })(),
      };
    },
    llm,
    modelFor: (p) => (p.llm === 'large' ? config.LLM_MODEL_LARGE : config.LLM_MODEL_SMALL),
    // gpt-oss reasons before it speaks; at reasoning_effort "low" ~150 tokens a turn (numbers.md cost model D).
    hiddenReasoningTokens: (p) => (/gpt-oss/.test(p.llm === 'large' ? config.LLM_MODEL_LARGE : config.LLM_MODEL_SMALL) ? 150 : 0),
    openTts: (voiceId) => {
      const t = ttsOf(voiceId);
      const conn = ttsPools.acquire(t.key, (s) => t.connect(s));
      conn.catch(() => undefined);
      return {
        tts: {
          synthesize: (text, signal) =>
            (async function* () {
              yield* (await conn).synthesize(text, signal);
            })(),
        },
        close: () => void conn.then((c) => c.close(), () => undefined),
      };
    },
    tools,
    toolDefs: (names) => {
      const key = names.join(',');
      let defs = toolDefsByAgent.get(key);
      if (!defs) toolDefsByAgent.set(key, (defs = toolsFor(names)));
      return defs;
    },
    latencyClass: (name) => contractFor(name)?.latencyClass ?? 'slow',
    cache,
    stores,
    observerFor: opts.observerFor,
    instrumentsFor: liveFeed && opts.instrumentsFor ? withLiveFeed(opts.instrumentsFor, liveFeed) : opts.instrumentsFor,
    liveFeed,
  };

  const live = new Set<LiveCall>();
  return {
    async handle(call) {
      try {
        await runCall(call, deps, live);
      } catch (err) {
        // runCall catches per call; this is the last line so one call's bug never reaches the server.
        call.log.error({ err }, 'call failed');
      }
    },
    agentFor: (calledNumber) => agents.forNumber(calledNumber),
    async migrateAll(deadlineMs) {
      const results = await Promise.all([...live].map((c) => c.migrate(deadlineMs)));
      return { migrated: results.filter(Boolean).length, stayed: results.filter((r) => !r).length };
    },
    async close() {
      sttPools.close();
      ttsPools.close();
      tools.close();
      await liveFeed?.close();
      await stores.close();
    },
  };
}

/** The operations console feed, when CONSOLE_MANAGEMENT_ENDPOINT is set (observability/console-feed.ts). */
function consoleFeedFor(config: Config, log: Logger): ConsoleFeed | undefined {
  if (!config.CONSOLE_MANAGEMENT_ENDPOINT) return undefined;
  if (!config.CONSOLE_CONNECTIONS_TABLE) throw new Error('CONSOLE_CONNECTIONS_TABLE must be set with CONSOLE_MANAGEMENT_ENDPOINT');
  const doc = createDocumentClient({ region: config.AWS_REGION, endpoint: config.DYNAMODB_ENDPOINT });
  const local = config.DYNAMODB_ENDPOINT !== undefined;
  return new ConsoleFeed({
    endpoint: config.CONSOLE_MANAGEMENT_ENDPOINT, region: config.AWS_REGION, table: config.CONSOLE_CONNECTIONS_TABLE, doc, ownsDoc: true, log,
    ...(local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
}
