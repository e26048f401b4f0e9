// The seams of the call loop: the types every provider, transport and tool client translates to and from.

/** 8 kHz mono G.711 μ-law audio; 20 ms = 160 bytes. Never transcoded anywhere in the stack. */
export type Mulaw = Uint8Array;

/** One recognised word; times are seconds on the inbound media timeline (0 = first audio byte sent to the STT). */
export interface SttWord {
  word: string;
  start: number;
  end: number;
  confidence: number;
}

/**
 * `endOfTurnConfidence` (Flux `end_of_turn_confidence`, 0–1) is present only where the vendor sends it.
 * What a speech-to-text stream reports, vendor-neutral (Deepgram Nova v1 and Flux v2 both map onto it). */
export type SttEvent =
  /** Voice activity began (Nova `SpeechStarted`, Flux `StartOfTurn`). `at` is seconds on the media timeline. */
  | { kind: 'speech-started'; at: number }
  /**
   * A transcript of the current speech. Nova `Results`: `isFinal` = is_final, `speechFinal` = speech_final
   * (endpointing saw the configured silence). Flux `Update`: isFinal false, speechFinal false.
   */
  | { kind: 'transcript'; text: string; words: SttWord[]; confidence: number; isFinal: boolean; speechFinal: boolean; fromFinalize?: boolean; endOfTurnConfidence?: number }
  /** Nova `UtteranceEnd`: no word for `utterance_end_ms`; `lastWordEnd` in seconds. */
  | { kind: 'utterance-end'; lastWordEnd: number }
  /** Flux `EagerEndOfTurn`: the turn is probably over; a speculative reply may start. */
  | { kind: 'eager-end-of-turn'; text: string; words: SttWord[]; confidence: number; endOfTurnConfidence?: number }
  /** Flux `TurnResumed`: the caller kept talking after an EagerEndOfTurn; drop the speculative reply. */
  | { kind: 'turn-resumed' }
  /** Flux `EndOfTurn`: the turn is over. */
  | { kind: 'end-of-turn'; text: string; words: SttWord[]; confidence: number; endOfTurnConfidence?: number };

export interface SpeechToText {
  /** Streams `audio` to the recogniser and yields its events until the signal aborts or the audio ends. */
  transcribe(audio: AsyncIterable<Mulaw>, signal: AbortSignal): AsyncIterable<SttEvent>;
}

/** A tool call the model asked for, with its arguments already assembled from the streamed fragments. */
export interface ToolCall {
  id: string;
  name: string;
  /** The raw JSON text the model produced; parsing and validation happen at the tool boundary. */
  arguments: string;
}

/** Chat history in the OpenAI/Groq wire shape, so providers pass it through untranslated. */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** A tool as the LLM sees it: JSON Schema parameters generated from the zod contract. */
export interface LlmTool {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface LlmRequest {
  model: string;
  messages: ChatMessage[];
  tools?: LlmTool[];
  /** @default provider default */
  maxTokens?: number;
  /** @default provider default */
  temperature?: number;
}

export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
}

export type LlmEvent =
  | { kind: 'text'; delta: string }
  | { kind: 'tool-call'; call: ToolCall }
  | { kind: 'done'; finishReason: string; usage: LlmUsage; model: string };

export interface LanguageModel {
  stream(req: LlmRequest, signal: AbortSignal): AsyncIterable<LlmEvent>;
}

/** Character timing for a chunk of synthesized audio (ElevenLabs `alignment`), used to know what was heard. */
export interface Alignment {
  chars: string[];
  /** Start of each character, ms from the start of this chunk's audio. */
  charStartMs: number[];
  charDurationMs: number[];
}

export interface TtsChunk {
  audio: Mulaw;
  alignment?: Alignment;
}

export interface TextToSpeech {
  /**
   * Speaks the text pieces as they arrive (one reply = one synthesis context) and yields audio as soon as the
   * vendor sends it. Ends after the vendor's final frame for this text; aborting closes the context.
   */
  synthesize(text: AsyncIterable<string>, signal: AbortSignal): AsyncIterable<TtsChunk>;
}

/** What the telephony leg delivers after `start`. */
export type InboundEvent =
  /** `timestampMs` is Twilio's media.timestamp: ms since the stream began. */
  | { kind: 'media'; audio: Mulaw; timestampMs: number }
  | { kind: 'dtmf'; digit: string }
  /** Twilio echoed our mark: the audio queued before it has played (or was cleared). */
  | { kind: 'mark'; name: string }
  | { kind: 'stop' };

export interface TelephonyTransport {
  inbound: AsyncIterable<InboundEvent>;
  play(audio: Mulaw): void;
  mark(name: string): void;
  /** Drop all agent audio still queued at Twilio (barge-in). */
  clear(): void;
  /** Replace the live call's TwiML (Twilio REST calls.update), e.g. `<Dial>` or `<Pay>`; ends the stream. */
  transfer(twiml: string): Promise<void>;
  hangup(reason: string): Promise<void>;
}

/** Clock input to the turn detector, so silence timeouts fire without STT events. */
export interface Tick {
  kind: 'tick';
}

/**
 * What the turn-taking part decides. Barge-in is two-step so it is fast and backchannel-proof at any interim cadence:
 * `barge-in` (voice onset over the agent: stop playout at once, keep the unplayed audio), then either
 * `false-alarm` (it was "mm-hm" or noise: resume from where the caller stopped hearing) or `user-started`
 * (a real interruption: drop the rest, keep only the heard text). While paused the loop still reports the agent as
 * audible to the detector, so the pending barge-in resolves one way or the other.
 */
export type TurnChange =
  /** Voice onset while the agent is audible: pause playout now (Twilio `clear`), keep the unplayed audio. */
  | { kind: 'barge-in' }
  /** The paused speech was a backchannel or noise: resume the paused reply where the caller stopped hearing. */
  | { kind: 'false-alarm' }
  /** The caller really is talking over the agent: interrupt (a paused reply is dropped, heard text kept). */
  | { kind: 'user-started' }
  /** The caller's turn is over: reply to `text`. `lastWordEnd` is seconds on the media timeline. */
  | { kind: 'user-finished'; text: string; confidence: number; lastWordEnd: number }
  /** Flux eager end of turn: start a speculative reply whose audio is held. */
  | { kind: 'speculate'; text: string; confidence: number; lastWordEnd: number }
  /** The caller resumed: drop the speculative reply. */
  | { kind: 'speculation-cancelled' };

export interface TurnDetector {
  update(input: SttEvent | Tick, now: number, agentAudible: boolean): TurnChange | undefined;
}

/** A tool's outcome, always speakable: failures are results the LLM can talk about, never exceptions. */
export interface ToolResult {
  toolCallId: string;
  name: string;
  ok: boolean;
  /** JSON text handed back to the LLM as the `tool` message content. */
  content: string;
  latencyMs: number;
}

export interface ToolClient {
  /** `callerPhone` (E.164) is forwarded to the tool API (CONTRACTS.md body) for caller-scoped lookups; never logged. */
  call(call: ToolCall, ctx: { callSid: string; callerHash?: string; callerPhone?: string; signal: AbortSignal }): Promise<ToolResult>;
}
