// The task's call runtime: stores, warm provider pools, the phrase cache and the tools client, built once at boot;
// `handle` runs one call through runCall().
import { loadAgents, type AgentProfile, type Agents } from './agents';
import { AudioCache } from './call/audio-cache';
import { createCallProviders, type CallProviders } from './call-providers';
import { runCall, type CallDeps, type LiveCall } from './call';
import type { Config } from './config';
import type { CallInstruments } from './observability/instruments';
import type { Logger } from './observability/logger';
import type { LlmTool, ToolClient } from './providers/types';
import type { CallObserver } from './observability/observer';
import type { AcceptedCall } from './telephony/accepted-call';
import { openStores, type Stores } from './store/call-recorder';
import { contractFor, toolsFor } from './tools/catalog';
import { createToolClient } from './tools/tool-client';
import { OperatorBus } from './operator-bus';
import type { LiveFeed } from '../../contracts/console';
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
  /** ProviderFailover: a call moved off `provider` to the next provider of `seam`. */
  onProviderFailover?(provider: string, seam: string): void;
  /** Longest boot wait for the phrase cache and warm sockets; calls still work (slower) if it runs out. @default 10000 */
  warmUpTimeoutMs?: number;
  /** The operations console's feed for every call of the task. @default none */
  liveFeed?: LiveFeed;
}

/**
 * Builds the task's call runtime: stores (Redis session + memory, DynamoDB transcripts), providers (call-providers.ts:
 * warm pools and failover chains), the tools API client, and the phrase cache warmed with every profile's greeting,
 * fillers and handoff lines. `handle` runs one call.
 */
export async function createCallHandler(config: Config, log: Logger, opts: CallHandlerOptions = {}): Promise<CallRuntime> {
  const stores = await openStores(config, log, { onTranscriptWriteError: opts.onTranscriptWriteError, onTranscriptQueueOverflow: opts.onTranscriptQueueOverflow });
  // Console actions: one subscriber connection for the task, a channel per live call (operator-bus.ts).
  const operators = await OperatorBus.open(config.redisUrl, log);
  const providers = createCallProviders(config, log, (ev) => {
    log.warn({ seam: ev.seam, from: ev.from, to: ev.to, reason: ev.reason }, 'provider failover');
    opts.onProviderFailover?.(ev.from, ev.seam);
  });
  const tools = createToolClient({ baseUrl: config.TOOLS_URL, auth: config.TOOLS_AUTH, region: config.AWS_REGION, log });
  // Fail at boot, not mid-call, on a bad agent file or a profile naming a tool the catalog does not have.
  const agents = loadAgents({ dir: config.AGENTS_DIR, numbers: config.NUMBER_TO_AGENT, fallback: config.DEFAULT_AGENT });
  for (const p of agents.all()) toolsFor(p.tools);
  const cache = new AudioCache({ synth: async (voiceId, text, signal) => ({ audio: await providers.synthesizeOnce(voiceId, text, signal) }), log });

  // Warm at boot: every profile's phrases, and sockets for the Nova profiles (a Flux socket is kept alive with
  // silence that Deepgram bills as audio, so Flux pools fill on first use instead).
  const profiles = agents.all();
  for (const p of profiles) providers.warm(p);
  await Promise.race([cache.warm(profiles), sleep(opts.warmUpTimeoutMs ?? 10_000)]);

  // The operations console feed: the given one (tests), else PostToConnection when CONSOLE_MANAGEMENT_ENDPOINT is set.
  const ownFeed = opts.liveFeed ? undefined : consoleFeedFor(config, log);
  const liveFeed = opts.liveFeed ?? ownFeed;
  const instrumentsFor = liveFeed && opts.instrumentsFor ? withLiveFeed(opts.instrumentsFor, liveFeed) : opts.instrumentsFor;
  const deps = callDeps(config, { agents, providers, tools, cache, stores, operators, opts: { ...opts, liveFeed, instrumentsFor } });
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
      providers.close();
      tools.close();
      await operators.close();
      await ownFeed?.close();
      await stores.close();
    },
  };
}

/** The per-call dependencies every call of the task shares. */
function callDeps(
  config: Config,
  t: { agents: Agents; providers: CallProviders; tools: ToolClient & { close(): void }; cache: AudioCache; stores: Stores; operators: OperatorBus; opts: CallHandlerOptions },
): CallDeps {
  const toolDefsByAgent = new Map<string, LlmTool[]>();
  const modelOf = (p: AgentProfile) => (p.llm === 'large' ? config.LLM_MODEL_LARGE : config.LLM_MODEL_SMALL);
  return {
    config,
    agents: t.agents,
    stt: t.providers.stt,
    llm: t.providers.llm,
    modelFor: modelOf,
    // gpt-oss reasons before it speaks; at reasoning_effort "low" ~150 tokens a turn (numbers.md cost model D).
    hiddenReasoningTokens: (p) => (/gpt-oss/.test(modelOf(p)) ? 150 : 0),
    openTts: t.providers.openTts,
    tools: t.tools,
    toolDefs: (names) => {
      const key = names.join(',');
      let defs = toolDefsByAgent.get(key);
      if (!defs) toolDefsByAgent.set(key, (defs = toolsFor(names)));
      return defs;
    },
    latencyClass: (name) => contractFor(name)?.latencyClass ?? 'slow',
    cache: t.cache,
    stores: t.stores,
    observerFor: t.opts.observerFor,
    instrumentsFor: t.opts.instrumentsFor,
    operators: t.operators,
    liveFeed: t.opts.liveFeed,
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
