// What one call needs from its task: providers, stores, caches and observability, built once per task by runtime.ts.
import type { LatencyClass } from '../../../contracts/tool-contract';
import type { AgentProfile, Agents } from '../agents';
import type { AudioCache } from './audio-cache';
import type { Config } from '../config';
import type { CallInstruments } from '../observability/instruments';
import type { LanguageModel, LlmTool, SpeechToText, TextToSpeech, ToolClient } from '../providers/types';
import type { CallObserver } from '../observability/observer';
import type { AcceptedCall } from '../telephony/accepted-call';
import type { Stores } from '../store/call-recorder';
import type { LiveFeed } from '../../../contracts/console';
import type { OperatorSubscriptions } from './operator';

/** Everything one call needs from its task; built once by `createCallHandler` (runtime.ts), injectable for tests. */
export interface CallDeps {
  config: Config;
  /** The task's agents (built-in + AGENTS_DIR) and the stage's number map. */
  agents: Agents;
  /** A recogniser configured for the profile's model and endpointing. */
  stt(profile: AgentProfile): SpeechToText;
  llm: LanguageModel;
  /** LLM model id for the profile's size. */
  modelFor(profile: AgentProfile): string;
  /** Billed-but-unstreamed reasoning tokens per LLM round of the profile's model (0 for a non-reasoning model). */
  hiddenReasoningTokens?(profile: AgentProfile): number;
  /** The call's TTS socket for a voice (taken from the warm pool); `close` at hang-up. */
  openTts(voiceId: string): { tts: TextToSpeech; close(): void };
  tools: ToolClient;
  /** The LLM tool list for the profile's tool names. */
  toolDefs(names: string[]): LlmTool[];
  latencyClass(tool: string): LatencyClass;
  cache: AudioCache;
  stores: Stores;
  /** Per-call observability seam. @default `logObserver` */
  observerFor?(call: AcceptedCall): CallObserver;
  /** Per-call cost meter, model router + budget guardrail and EMF/Prometheus metrics. @default none */
  instrumentsFor?(call: AcceptedCall, profile: AgentProfile): CallInstruments;
  /** The task's operator-command subscriber (operator-bus.ts): console actions reach the call on its Redis channel. @default none */
  operators?: OperatorSubscriptions;
  /** The operations console's feed (call started, turns as heard, tools, cost, flags, actions, ended). @default none */
  liveFeed?: LiveFeed;
  /** @default Date.now */
  now?(): number;
}
