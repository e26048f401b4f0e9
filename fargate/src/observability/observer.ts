// The observability seam of a call: what the pipeline reports (per-turn measures, usage, tools, the call's end).

/** Per-turn latency waterfall, wall-clock ms (Date.now()) unless named *Ms. */
export interface TurnMeasures {
  callSid: string;
  /** 1-based reply number in the call. */
  turn: number;
  replyId: string;
  /** The caller's last word ended (STT word end on the media timeline, mapped to wall time). */
  speechEndAt?: number;
  /** The turn detector said the caller finished (the STT final arrived). */
  sttFinalAt?: number;
  replyStartedAt: number;
  llmFirstTokenAt?: number;
  firstClauseAt?: number;
  ttsFirstByteAt?: number;
  /** The first agent audio frame went to Twilio. */
  firstAudioAt?: number;
  /** SttFinalDelay: speech end → STT final. */
  sttFinalDelayMs?: number;
  /** LlmTimeToFirstToken of the first LLM round. */
  llmTimeToFirstTokenMs?: number;
  /** TtsTimeToFirstByte: first clause sent → first audio byte back. */
  ttsTimeToFirstByteMs?: number;
  /** VoiceToVoice: speech end → first agent audio sent. */
  voiceToVoiceMs?: number;
  tools: { name: string; ms: number; ok: boolean }[];
  interrupted: boolean;
  /** Started on a Flux EagerEndOfTurn. */
  speculative: boolean;
  /** A speculative reply dropped on TurnResumed: its tokens were wasted. */
  discarded: boolean;
}

/** LLM/TTS consumption of one reply, for the cost meter. */
export interface ReplyUsage {
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** Characters sent to TTS. */
  ttsChars: number;
  /** True when the reply was dropped (speculation cancelled or superseded): the spend bought nothing. */
  wasted: boolean;
}

/** What a call reports to observability: one small seam (EMF metrics, cost meter, model router plug in here). */
export interface CallObserver {
  /** Once per reply, after it ends (or is interrupted or discarded). */
  turn(m: TurnMeasures): void;
  /** Every tool call the pipeline made. */
  toolCall(name: string, ms: number, ok: boolean): void;
  /** LLM tokens and TTS characters of each reply. */
  usage(u: ReplyUsage): void;
  /** Once when the call ends. */
  end(summary: CallSummary): void;
}

/** The end-of-call figures. */
export interface CallSummary {
  callSid: string;
  agent: string;
  startedAt: number;
  endedAt: number;
  turns: number;
  interruptions: number;
  escalated: boolean;
  failed: boolean;
  /** Seconds of caller audio streamed to the STT. */
  sttSeconds: number;
  /** `start` → first greeting frame sent, ms. */
  greetingMs?: number;
  /**
   * The call went on in another stream (migration, <Pay>): only the per-call observer hears this end; call metrics
   * and cost come once, from the last stream.
   */
  handedOver?: boolean;
}
