// One agent turn: LLM ⇄ tools → clauses → TTS → transport (via the playout), abortable, optionally held (speculative).
import type { LatencyClass } from '../../../contracts/tool-contract';
import type { CachedAudio } from './audio-cache';
import { evenAlignment, type Playout } from './playout';
import { PAYMENT_TOOL, TRANSFER_TOOL, parsePaymentArgs } from './escalation';
import type { Logger } from '../observability/logger';
import type { ChatMessage, LanguageModel, LlmTool, TextToSpeech, ToolCall, ToolClient, ToolResult, TtsChunk } from '../providers/types';
import type { ReplyUsage, TurnMeasures } from '../observability/observer';
import { ClauseChunker } from './text-chunker';
import { AsyncQueue } from '../providers/async-queue';

/** What a reply asks the call to do after speaking. */
export type ReplyAction = { kind: 'transfer'; reason: string } | { kind: 'pay'; amount: string };

export interface ReplyOutcome {
  status: 'done' | 'aborted' | 'failed';
  /** Messages to append to the history (tool exchanges and assistant text), in order. */
  messages: ChatMessage[];
  /** The assistant text in order, as spoken. */
  spoken: string;
  toolResults: (ToolResult & { arguments: string })[];
  action?: ReplyAction;
  error?: unknown;
}

export interface ReplyDeps {
  callSid: string;
  callerHash?: string;
  /** E.164 caller number, forwarded to the tools API for caller-scoped lookups (never logged). */
  callerPhone?: string;
  llm: LanguageModel;
  tts: TextToSpeech;
  tools: ToolClient;
  model: string;
  toolDefs: LlmTool[];
  latencyClass(tool: string): LatencyClass;
  /** A cached filler phrase to play before a slow tool, if one is ready. */
  filler(): CachedAudio | undefined;
  playout: Playout;
  log: Logger;
  now?: () => number;
  /** LLM rounds (each may call tools) before the model must answer in words. @default 3 */
  maxRounds?: number;
  /** Reply token cap: phone answers are short. @default 300 */
  maxTokens?: number;
  /**
   * Output tokens a reasoning model spends before its first spoken token, which the provider bills but does not
   * stream (Groq gpt-oss with `include_reasoning: false`): counted for a round cut off before its usage frame.
   * @default 0
   */
  hiddenReasoningTokens?: number;
}

/** Rough tokens of text a stream produced before it was aborted (no usage frame arrives then): ~4 chars per token. */
const estimateTokens = (chars: number) => Math.ceil(chars / 4);

/**
 * One agent turn. Streams the LLM; each clause goes to this reply's TTS context at once; audio goes to the playout
 * (Twilio `media` + `mark`) as it arrives, or is held while the reply is speculative. Tool calls play a cached
 * filler first when slow, run with the reply's signal, and loop back to the LLM (bounded rounds). `abort` stops
 * LLM, TTS and tools together.
 */
export class Reply {
  readonly measures: TurnMeasures;
  readonly done: Promise<ReplyOutcome>;
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private held: boolean;
  private readonly heldChunks: { audio: Uint8Array; alignment: { chars: string[]; charStartMs: number[]; charDurationMs: number[] } }[] = [];
  private releaseGate!: () => void;
  private readonly released: Promise<void>;
  private readonly now: () => number;
  private usage: ReplyUsage;
  private streamedChars = 0;
  private gotUsage = false;
  /** An LLM round was requested and its usage frame has not arrived. */
  private roundOpen = false;
  private firstPieceAt: number | undefined;
  private sentAudio = false;
  private aligned = true;

  constructor(
    private readonly deps: ReplyDeps,
    readonly id: string,
    turn: number,
    private readonly messages: ChatMessage[],
    opts: { speculative: boolean; callSignal: AbortSignal; speechEndAt?: number; sttFinalAt?: number },
  ) {
    this.now = deps.now ?? Date.now;
    this.signal = AbortSignal.any([opts.callSignal, this.controller.signal]);
    this.held = opts.speculative;
    this.released = new Promise((resolve) => (this.releaseGate = resolve));
    if (!opts.speculative) this.releaseGate();
    this.measures = {
      callSid: deps.callSid, turn, replyId: id, replyStartedAt: this.now(), speechEndAt: opts.speechEndAt, sttFinalAt: opts.sttFinalAt,
      tools: [], interrupted: false, speculative: opts.speculative, discarded: false,
    };
    this.usage = { model: deps.model, inputTokens: 0, outputTokens: 0, ttsChars: 0, wasted: false };
    this.done = this.run();
  }

  /** True once any of this reply's audio went to Twilio. */
  get audible(): boolean {
    return this.sentAudio;
  }

  /** False when some audio came without TTS alignment (heard text is then estimated from bytes). */
  get hasAlignment(): boolean {
    return this.aligned;
  }

  /** Still held (speculative, not yet confirmed). */
  get isHeld(): boolean {
    return this.held;
  }

  /** The caller's turn is confirmed: send the held audio at once and let the rest flow. */
  release(confirm: { speechEndAt?: number; sttFinalAt?: number } = {}): void {
    if (!this.held) return;
    this.held = false;
    if (confirm.speechEndAt !== undefined) this.measures.speechEndAt = confirm.speechEndAt;
    if (confirm.sttFinalAt !== undefined) this.measures.sttFinalAt = confirm.sttFinalAt;
    for (const c of this.heldChunks.splice(0)) this.send(c.audio, c.alignment);
    this.releaseGate();
  }

  /** Stops LLM, TTS and tools. `discard` marks a speculative reply dropped unheard (its spend is wasted). */
  abort(reason: 'interrupted' | 'discarded' | 'superseded' | 'call-ended'): void {
    if (this.controller.signal.aborted) return;
    if (reason === 'interrupted') this.measures.interrupted = true;
    if (reason === 'discarded') this.measures.discarded = true;
    if (reason === 'discarded' || reason === 'superseded') this.usage.wasted = !this.sentAudio;
    this.heldChunks.length = 0;
    this.controller.abort(reason);
    this.releaseGate();
  }

  /** Token and character spend so far (estimated for an aborted stream). */
  spend(): ReplyUsage {
    return this.gotUsage || !this.roundOpen ? this.usage : { ...this.usage, outputTokens: this.usage.outputTokens + this.unbilledEstimate() };
  }

  /** An LLM round cut off before its usage frame: its hidden reasoning (if any) plus ~4 characters per streamed token. */
  private unbilledEstimate(): number {
    return (this.deps.hiddenReasoningTokens ?? 0) + estimateTokens(this.streamedChars);
  }

  private send(audio: Uint8Array, alignment: TtsChunk['alignment'] & object): void {
    if (this.signal.aborted) return;
    if (!this.sentAudio) {
      this.sentAudio = true;
      this.measures.firstAudioAt = this.now();
    }
    this.deps.playout.play(this.id, audio, alignment, this.now());
  }

  private emit(chunk: TtsChunk): void {
    if (this.signal.aborted || chunk.audio.length === 0) return;
    const alignment = chunk.alignment ?? evenAlignment('', chunk.audio.length / 8);
    if (!chunk.alignment) this.aligned = false;
    if (this.held) this.heldChunks.push({ audio: chunk.audio, alignment });
    else this.send(chunk.audio, alignment);
  }

  private async run(): Promise<ReplyOutcome> {
    const text = new AsyncQueue<string>();
    const t: TurnState = { out: [], spoken: [], toolResults: [], speak: (piece) => this.speak(text, piece) };
    let ttsError: unknown;
    const audio = this.pumpAudio(text).catch((err: unknown) => {
      // A TTS failure ends the reply: stop the LLM and tools too, and report it as failed (not as an interruption).
      if (!this.signal.aborted) {
        ttsError = err ?? new Error('TTS failed');
        this.controller.abort('tts-failed');
      }
    });
    const outcome = (status: ReplyOutcome['status'], extra: Partial<ReplyOutcome>): ReplyOutcome => ({
      status, messages: t.out, spoken: t.spoken.join(' '), toolResults: t.toolResults, ...extra,
    });
    try {
      const maxRounds = this.deps.maxRounds ?? 3;
      for (let round = 0; round < maxRounds && !t.action; round++) {
        const { said, calls } = await this.llmRound(round, round === maxRounds - 1, t);
        if (!calls.length) {
          if (said) t.out.push({ role: 'assistant', content: said });
          break;
        }
        await this.runTools(calls, said, t);
      }
      text.end();
      await audio;
      if (this.signal.aborted) throw this.signal.reason;
      return outcome('done', { action: t.action });
    } catch (err) {
      text.end();
      await audio;
      if (ttsError !== undefined) return outcome('failed', { error: ttsError });
      if (this.signal.aborted) return outcome('aborted', { action: t.action });
      return outcome('failed', { error: err });
    } finally {
      if (this.firstPieceAt !== undefined && this.measures.ttsFirstByteAt !== undefined) {
        this.measures.ttsTimeToFirstByteMs = this.measures.ttsFirstByteAt - this.firstPieceAt;
      }
    }
  }

  /** A clause to this reply's TTS context. */
  private speak(text: AsyncQueue<string>, piece: string): void {
    if (this.firstPieceAt === undefined) {
      this.firstPieceAt = this.now();
      this.measures.firstClauseAt = this.firstPieceAt;
    }
    this.usage.ttsChars += piece.length;
    // ElevenLabs: each text message "should always end with a single space".
    text.push(`${piece} `);
  }

  /** One LLM round: its text spoken clause by clause as it streams, its tool calls collected, its usage counted. */
  private async llmRound(round: number, lastRound: boolean, t: TurnState): Promise<{ said: string; calls: ToolCall[] }> {
    const { deps } = this;
    const chunker = new ClauseChunker();
    let roundText = '';
    const calls: ToolCall[] = [];
    const startedAt = this.now();
    let firstToken: number | undefined;
    this.roundOpen = true;
    for await (const ev of deps.llm.stream(
      { model: deps.model, messages: [...this.messages, ...t.out], tools: lastRound ? undefined : deps.toolDefs, maxTokens: deps.maxTokens ?? 300 },
      this.signal,
    )) {
      if (ev.kind === 'text') {
        if (firstToken === undefined) {
          firstToken = this.now();
          if (round === 0) {
            this.measures.llmFirstTokenAt = firstToken;
            this.measures.llmTimeToFirstTokenMs = firstToken - startedAt;
          }
        }
        roundText += ev.delta;
        this.streamedChars += ev.delta.length;
        for (const piece of chunker.push(ev.delta)) t.speak(piece);
      } else if (ev.kind === 'tool-call') {
        calls.push(ev.call);
      } else {
        this.gotUsage = true;
        this.usage.inputTokens += ev.usage.inputTokens;
        this.usage.outputTokens += ev.usage.outputTokens;
        this.usage.model = ev.model || this.usage.model;
      }
    }
    if (!this.gotUsage) this.usage.outputTokens += this.unbilledEstimate();
    this.gotUsage = false;
    this.roundOpen = false;
    this.streamedChars = 0;
    const tail = chunker.flush();
    if (tail) t.speak(tail);
    const said = roundText.trim();
    if (said) t.spoken.push(said);
    return { said, calls };
  }

  /**
   * A round's tool calls: recorded on the history, held back while speculative if they have an effect or are slow,
   * a cached filler first before a slow tool when the round said nothing, then all run and their results recorded.
   */
  private async runTools(calls: ToolCall[], said: string, t: TurnState): Promise<void> {
    const { deps } = this;
    t.out.push({
      role: 'assistant',
      content: said || null,
      tool_calls: calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })),
    });
    const business = calls.filter((c) => c.name !== TRANSFER_TOOL && c.name !== PAYMENT_TOOL);
    // A speculative reply may read (instant tools), but nothing with an effect runs before the turn is confirmed.
    if (this.held && (business.length < calls.length || business.some((c) => deps.latencyClass(c.name) === 'slow'))) await this.released;
    if (this.signal.aborted) throw this.signal.reason;
    if (!said && business.some((c) => deps.latencyClass(c.name) === 'slow')) {
      const filler = deps.filler();
      if (filler) {
        this.emit({ audio: filler.audio, alignment: filler.alignment });
        t.spoken.push(filler.text);
      }
    }
    const results = await Promise.all(calls.map((c) => (c.name === TRANSFER_TOOL || c.name === PAYMENT_TOOL ? pipelineTool(c, t) : this.callTool(c))));
    for (const [i, r] of results.entries()) {
      t.out.push({ role: 'tool', tool_call_id: r.toolCallId, content: r.content });
      t.toolResults.push({ ...r, arguments: calls[i]!.arguments });
      if (r.name !== TRANSFER_TOOL && r.name !== PAYMENT_TOOL) this.measures.tools.push({ name: r.name, ms: r.latencyMs, ok: r.ok });
    }
  }

  private async callTool(c: ToolCall): Promise<ToolResult> {
    try {
      return await this.deps.tools.call(c, { callSid: this.deps.callSid, callerHash: this.deps.callerHash, callerPhone: this.deps.callerPhone, signal: this.signal });
    } catch (err) {
      // The ToolClient contract says failures are results; if one still throws, the LLM gets a speakable error.
      if (this.signal.aborted) throw err;
      this.deps.log.warn({ tool: c.name, err: { name: (err as Error)?.name } }, 'tool client threw; reporting a failed result');
      return { toolCallId: c.id, name: c.name, ok: false, content: '{"error":"That system is not answering right now."}', latencyMs: 0 };
    }
  }

  private async pumpAudio(text: AsyncIterable<string>): Promise<void> {
    for await (const chunk of this.deps.tts.synthesize(text, this.signal)) {
      if (this.measures.ttsFirstByteAt === undefined && chunk.audio.length) this.measures.ttsFirstByteAt = this.now();
      this.emit(chunk);
    }
  }
}

/** What one reply has produced so far: history to append, text spoken, tool results, and the action it asks for. */
interface TurnState {
  out: ChatMessage[];
  spoken: string[];
  toolResults: ReplyOutcome['toolResults'];
  action?: ReplyAction;
  speak(piece: string): void;
}

/** The tools the pipeline answers itself: a transfer or a payment becomes the reply's action (the last one asked wins). */
async function pipelineTool(c: ToolCall, t: TurnState): Promise<ToolResult> {
  if (c.name === TRANSFER_TOOL) {
    t.action = { kind: 'transfer', reason: 'tool-requested' };
    return { toolCallId: c.id, name: c.name, ok: true, content: '{"status":"transferring"}', latencyMs: 0 };
  }
  const args = parsePaymentArgs(c.arguments);
  if (!args) return { toolCallId: c.id, name: c.name, ok: false, content: '{"error":"amount must look like 25.00"}', latencyMs: 0 };
  t.action = { kind: 'pay', amount: args.amount };
  return { toolCallId: c.id, name: c.name, ok: true, content: '{"status":"secure payment line"}', latencyMs: 0 };
}
