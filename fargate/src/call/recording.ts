// What happened in one call, in one place: the LLM history as heard, transcript turns, the call record, and the
// per-turn reports to observability. Fed by the call's parts (speaking, ending), never ad hoc.
import { Conversation, type TurnRecord } from './conversation';
import type { Reply, ReplyOutcome } from './reply';
import type { CallObserver, CallSummary, TurnMeasures } from '../observability/observer';
import type { CallRecorder } from '../store/call-recorder';
import type { Handover } from './handover';
import type { HeardUtterance } from './speaking';
import type { LiveFeed } from '../../../contracts/console';

/** The latency fields a transcript turn stores, rounded ms. */
export function latencyOf(m: TurnMeasures): Record<string, number> {
  const out: Record<string, number> = {};
  const put = (k: string, v: number | undefined) => {
    if (v !== undefined) out[k] = Math.round(v);
  };
  put('voiceToVoice', m.voiceToVoiceMs);
  put('sttFinalDelay', m.sttFinalDelayMs);
  put('llmTimeToFirstToken', m.llmTimeToFirstTokenMs);
  put('ttsTimeToFirstByte', m.ttsTimeToFirstByteMs);
  return out;
}

/** Derived measures once a reply's generation ended. */
function finishMeasures(m: TurnMeasures): void {
  if (m.firstAudioAt !== undefined && m.speechEndAt !== undefined) m.voiceToVoiceMs = m.firstAudioAt - m.speechEndAt;
  if (m.sttFinalAt !== undefined && m.speechEndAt !== undefined) m.sttFinalDelayMs = m.sttFinalAt - m.speechEndAt;
}

/** A transcript line as the console's `turn` event: the words as heard, and the reply's waterfall. */
function liveTurn(callSid: string, turn: number, at: number, role: 'user' | 'assistant', text: string, extra: { interrupted?: boolean; measures?: TurnMeasures }) {
  const m = extra.measures;
  const waterfall = m
    ? { sttFinalDelayMs: m.sttFinalDelayMs, llmTimeToFirstTokenMs: m.llmTimeToFirstTokenMs, ttsTimeToFirstByteMs: m.ttsTimeToFirstByteMs, voiceToVoiceMs: m.voiceToVoiceMs }
    : {};
  return { type: 'turn' as const, callSid, turn, at, ...(role === 'user' ? { caller: text } : { agent: text }), interrupted: extra.interrupted === true, waterfall };
}

/** One call's record keeping. */
export class Recording {
  /** Heard turns, in order, for the handoff summary. */
  readonly turns: TurnRecord[] = [];
  readonly toolsCalled: string[] = [];
  /** Replies started, spoken or not. */
  replies = 0;
  interruptions = 0;
  private readonly reported = new Set<Reply>();

  private recorder: CallRecorder | undefined;
  /** The operations console: every transcript line goes there as heard (set by the call when a console feed exists). */
  live: { feed: LiveFeed; callSid: string } | undefined;

  /** A recording that goes on from an earlier stream of the same call. */
  static resume(h: Handover, observer: CallObserver, now: () => number): Recording {
    const r = new Recording(Conversation.restore(h.system, h.history), observer, now);
    r.turns.push(...h.turns);
    r.toolsCalled.push(...h.toolsCalled);
    r.replies = h.replies;
    r.interruptions = h.interruptions;
    return r;
  }

  /** This recording's part of a handover. */
  snapshot(): Pick<Handover, 'system' | 'history' | 'turns' | 'toolsCalled' | 'replies' | 'interruptions' | 'recorder'> {
    const [system, ...history] = this.conversation.messages();
    return {
      system: system?.role === 'system' ? system.content : '', history, turns: [...this.turns], toolsCalled: [...this.toolsCalled],
      replies: this.replies, interruptions: this.interruptions, recorder: this.recorder?.snapshot(),
    };
  }

  constructor(
    readonly conversation: Conversation,
    private readonly observer: CallObserver,
    private readonly now: () => number,
  ) {}

  /** The stores are open: turns from now on are persisted (none is written before the call record exists). */
  attach(recorder: CallRecorder): void {
    this.recorder = recorder;
  }

  /** The caller's words (already redacted for the LLM); `merge` joins an unanswered previous turn. */
  user(text: string, startedAt: number | undefined, opts: { merge?: boolean } = {}): void {
    this.conversation.addUser(text, opts);
    this.write('user', text, { startedAt });
  }

  /** A reply's generation ended: its spend and tool calls are reported once, heard or not. */
  generated(reply: Reply, outcome: ReplyOutcome): void {
    if (this.reported.has(reply)) return;
    this.reported.add(reply);
    finishMeasures(reply.measures);
    this.observer.usage(reply.spend());
    for (const t of reply.measures.tools) this.observer.toolCall(t.name, t.ms, t.ok);
    if (reply.measures.discarded) {
      this.observer.turn(reply.measures);
      return;
    }
    for (const r of outcome.toolResults) {
      this.toolsCalled.push(r.name);
      this.recorder?.toolResult(r);
    }
  }

  /** A cached line starts playing: the LLM history has it now, cut back later if the caller did not hear it all. */
  saying(owner: string, text: string): void {
    this.conversation.add({ role: 'assistant', content: text }, owner);
  }

  /** An utterance reached its end: history and transcript get exactly what the caller heard. */
  heard(u: HeardUtterance): void {
    if (!u.reply || !u.outcome) {
      if (!u.complete) this.conversation.setHeard(u.owner, u.text);
      this.write('assistant', u.text, { interrupted: !u.complete || undefined });
      return;
    }
    this.generated(u.reply, u.outcome);
    const m = u.reply.measures;
    for (const msg of u.outcome.messages) this.conversation.add(msg, u.owner);
    if (!u.complete) {
      this.conversation.setHeard(u.owner, u.text);
      m.interrupted = true;
    }
    this.observer.turn(m);
    this.write('assistant', u.text, {
      interrupted: !u.complete || undefined,
      startedAt: m.replyStartedAt,
      latency: latencyOf(m),
      measures: m,
      toolCalls: u.outcome.toolResults.map((r) => ({ id: r.toolCallId, name: r.name, arguments: r.arguments, ok: r.ok, latencyMs: r.latencyMs })),
    });
  }

  /** An operator's whisper: into the LLM history (system note) for every reply from the next one on. */
  whisper(text: string): void {
    this.conversation.addInstruction(text);
  }

  /**
   * An operator action or a review flag, on the stored transcript: a turn item with no words whose one `toolCalls`
   * entry names it (`operator.take-over`, `flag.frustration`), `arguments` its details (redacted by the writer) and
   * `ok` its outcome — the transcript store's existing shape, so privacy deletes and exports cover it. Not part of
   * the heard turns the handoff summary reads. Lost when it comes before the call record exists (no recorder yet).
   */
  note(name: string, id: string, args: Record<string, unknown>, ok: boolean): void {
    const at = this.now();
    this.recorder?.turn({ role: 'assistant', text: '', startedAt: at, endedAt: at, toolCalls: [{ id, name, arguments: JSON.stringify(args), ok }] });
  }

  /** Call end: the call record with cost and summary, caller memory, transcript flush (off the audio path), then the call's summary to observability. */
  async finish(end: { endedAt: number; escalated: boolean; cost?: unknown; summary?: string }, summary: CallSummary): Promise<void> {
    await this.recorder?.finish(end);
    this.observer.end(summary);
  }

  private write(role: 'user' | 'assistant', text: string, extra: { interrupted?: boolean; latency?: Record<string, number>; measures?: TurnMeasures; toolCalls?: { id: string; name: string; arguments: string; ok?: boolean; latencyMs?: number }[]; startedAt?: number }): void {
    if (!text && !extra.toolCalls?.length) return;
    const at = this.now();
    this.turns.push({ role, text, at, interrupted: extra.interrupted });
    this.live?.feed.publish(liveTurn(this.live.callSid, this.turns.length, at, role, text, extra));
    this.recorder?.turn({ role, text, interrupted: extra.interrupted, startedAt: extra.startedAt ?? at, endedAt: at, latency: extra.latency, toolCalls: extra.toolCalls });
  }
}
