// The shape of an agent profile: what one phone persona says, which tools it may call, how it listens and sounds.
import type { EndpointingProfileName } from '../turn-detector';

/** Deepgram model family: Nova-3 ends turns on endpointing/UtteranceEnd; Flux ends them with its own model (and can speculate). */
export type SttModel = 'nova-3' | 'flux-general-en';

export interface AgentProfile {
  /** Profile id, carried in the `agent` <Parameter> and stored on the call record. */
  name: string;
  /** The LLM's instructions. `{today}` is replaced with the business-local date at call start. */
  systemPrompt: string;
  /** Business tools (catalog names) plus the pipeline's own `transfer_to_human` / `take_payment` when allowed. */
  tools: string[];
  /** How long a pause ends the caller's turn (also sets Deepgram `endpointing`/`utterance_end_ms` or Flux thresholds). */
  endpointing: EndpointingProfileName;
  stt: SttModel;
  /**
   * Start a held reply before the turn is confirmed (costs LLM tokens when the caller resumes): on Flux
   * EagerEndOfTurn; on Nova-3 at an early `speech_final` (the profile's `eagerEndpointingMs`), confirmed after the
   * full endpointing window. The caller hears nothing sooner than without it, so pauses are not cut off. @default true
   */
  speculate?: boolean;
  /** `large` for tool-heavy reasoning; `small` when speed matters more. @default 'small' */
  llm: 'small' | 'large';
  /** ElevenLabs voice id. */
  voiceId: string;
  /** Played from cached audio the moment the stream starts. */
  greeting: string;
  /** Said (cached audio) before a slow tool so the line is never silent; one is picked per tool call. */
  fillers: string[];
  /** Said (cached audio) just before the call is transferred to a person. */
  handoffLine: string;
  /** Said (cached audio) when a provider fails mid-call, before escalating. */
  apologyLine: string;
  /** Said (cached audio) before the call moves to Twilio <Pay>. */
  paymentLine: string;
}
