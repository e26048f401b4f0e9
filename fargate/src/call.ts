// runCall(): one phone call from `start` to its end. The loop only: it routes inbound, STT, tick and reply events to
// the turn detector and to the parts in call/ (speaking, recording, ending; wired in call/parts.ts), which own every decision and all state.
import { novaSpeculates, type AgentProfile } from './agents';
import type { CallDeps } from './call/deps';
import type { CallEvent } from './call/inputs';
import { CallParts, failedSeam, handoverFor } from './call/parts';
import { forLlm } from './privacy/redaction';
import type { ChatMessage, TurnChange } from './providers/types';
import type { Reply, ReplyOutcome } from './call/reply';
import type { AcceptedCall } from './telephony/accepted-call';
import { ENDPOINTING_PROFILES, EndpointingTurnDetector } from './turn-detector';

export type { CallDeps } from './call/deps';

/** One phone call. Never throws: every failure ends in an apology and a handoff or a clean hang-up, for this call only. */
export async function runCall(call: AcceptedCall, deps: CallDeps, live?: Set<LiveCall>): Promise<void> {
  const c = new Call(call, deps, await handoverFor(call, deps), turnDetectorFor);
  live?.add(c);
  try {
    await c.open();
    await c.run();
    await c.close();
  } finally {
    live?.delete(c);
  }
}

/** What the task can ask of a live call. */
export interface LiveCall {
  /** Moves the call to another task (once nothing is being said); resolves true when handed over. */
  migrate(deadlineMs: number): Promise<boolean>;
}

/** The agent's turn-taking: its endpointing profile, speculating on Nova when the agent opts in. */
function turnDetectorFor(profile: AgentProfile): EndpointingTurnDetector {
  return new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES[profile.endpointing], speculate: novaSpeculates(profile) });
}

/** A call: its parts (call/parts.ts: wiring, greeting, record) and the loop that routes every event to them. */
class Call extends CallParts implements LiveCall {
  private lastConfidence = 1;

  /** Moves the call to another task once nothing is being said (bounded by `deadlineMs`). */
  async migrate(deadlineMs: number): Promise<boolean> {
    const until = this.now() + deadlineMs;
    while ((this.speaking.current || this.speaking.audible()) && this.now() < until && !this.signal.aborted) await sleep(50);
    return this.signal.aborted ? false : this.ending.migrate();
  }

  /** The loop: every event of the call, in order, until it ends. After each, one timer is armed at the turn detector's next deadline. */
  async run(): Promise<void> {
    // SUBSCRIBE off the call's path: a slow Redis delays the console's actions, never the caller's audio.
    const desk = this.operatorDesk();
    void desk.open();
    this.inputs.pumpInbound(this.call.transport.inbound);
    this.inputs.pumpStt(this.deps.stt(this.profile), this.signal);
    const onAbort = () => this.inputs.events.push({ kind: 'ended', why: 'aborted' });
    this.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const ev of this.inputs.events) {
        if (!(await this.route(ev))) break;
        this.inputs.tickAt(this.detector.nextDeadline(), ev.kind === 'tick');
      }
    } catch (err) {
      this.ending.failed = true;
      this.call.log.error({ err }, 'call loop failed');
    } finally {
      this.controller.abort('call ended');
      this.signal.removeEventListener('abort', onAbort);
      this.inputs.close();
      this.tts.close();
      await desk.close();
    }
  }

  /** Routes one event; false ends the loop. */
  private async route(ev: CallEvent): Promise<boolean> {
    if (ev.kind === 'ended') return false;
    if (ev.kind === 'mark') this.speaking.onMark(ev.name);
    else if (ev.kind === 'keypad') await this.userFinished(`[keypad] ${ev.digits}`, 1, this.now());
    else if (ev.kind === 'reply-done') this.onReplyDone(ev.reply, ev.outcome);
    else if (ev.kind === 'stt-ended') {
      if (!this.signal.aborted && !this.ending.state) this.ending.providerFailure('stt', ev.error ?? new Error('STT stream ended'));
    } else {
      // One input can decide two changes (e.g. a false alarm, then the held reply's release): take them all.
      for (let c = this.detector.update(ev.kind === 'stt' ? ev.ev : ev, this.now(), this.speaking.audible()); c; c = this.detector.drain()) await this.onTurn(c);
    }
    return !this.signal.aborted || ev.kind === 'reply-done';
  }

  private async onTurn(change: TurnChange): Promise<void> {
    const { speaking } = this;
    if (change.kind === 'barge-in') speaking.pause();
    else if (change.kind === 'false-alarm') speaking.resume();
    else if (change.kind === 'user-started') this.interrupt();
    else if (change.kind === 'speculation-cancelled') speaking.drop();
    else if (change.kind === 'user-finished') await this.userFinished(change.text, change.confidence, this.inputs.wallOf(change.lastWordEnd));
    else if (!this.ending.state && !speaking.current && !speaking.audible() && !this.policy.beforeReply(forLlm(change.text))) {
      // Speculate. A request for a person skips the LLM once confirmed, so it is never speculated either.
      const messages: ChatMessage[] = [...this.recording.conversation.messages(), { role: 'user', content: forLlm(change.text) }];
      speaking.hold(this.startReply(true, messages, this.inputs.wallOf(change.lastWordEnd)), change.text.trim());
    }
  }

  /** The caller's turn is over: confirm the held reply, or start one. */
  private async userFinished(rawText: string, confidence: number, speechEndAt: number | undefined): Promise<void> {
    if (this.ending.state) return;
    const text = forLlm(rawText);
    this.lastConfidence = confidence;
    this.review.caller(text, confidence);
    const confirmed = this.speaking.confirm(rawText, { speechEndAt, sttFinalAt: this.now() });
    if (confirmed) {
      this.recording.user(text, speechEndAt);
      if (confirmed.outcome) this.inputs.events.push({ kind: 'reply-done', reply: confirmed.reply, outcome: confirmed.outcome });
      return;
    }
    if (this.speaking.audible()) this.interrupt();
    const prev = await this.speaking.supersede();
    this.recording.user(text, speechEndAt, { merge: prev.superseded && !prev.audible });
    const reason = this.policy.beforeReply(text);
    if (reason) return void this.ending.escalate(reason);
    this.speaking.play(this.startReply(false, this.recording.conversation.messages(), speechEndAt));
  }

  private interrupt(): void {
    this.recording.interruptions++;
    this.speaking.cut();
  }

  private onReplyDone(reply: Reply, outcome: ReplyOutcome): void {
    const what = this.speaking.generated(reply, outcome);
    if (what === 'held') return;
    this.recording.generated(reply, outcome);
    if (what !== 'live' || this.ending.state) return;
    if (outcome.status === 'failed') return this.ending.providerFailure(failedSeam(outcome.error), outcome.error);
    if (outcome.status !== 'done') return;
    // The handoff/payment line queues behind this reply's audio, so the caller hears both in order.
    if (outcome.action) return void (outcome.action.kind === 'transfer' ? this.ending.escalate('tool-requested') : this.ending.pay(outcome.action.amount));
    this.review.tools(outcome.toolResults);
    const reason = this.policy.afterReply({ confidence: this.lastConfidence, toolFailed: outcome.toolResults.some((r) => !r.ok), agentText: outcome.spoken, frustrated: this.review.frustrated });
    if (reason) void this.ending.escalate(reason);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
