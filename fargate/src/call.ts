// runCall(): one phone call from `start` to its end. The loop only: it routes inbound, STT, tick and reply events to
// the turn detector and to the parts in call/ (speaking, recording, ending), which own every decision and all state.
import { SeamFailedError } from './providers/failover';
import { novaSpeculates, systemPrompt, type AgentProfile } from './agents';
import type { CallDeps } from './call/deps';
import type { CachedAudio } from './call/audio-cache';
import { Ending } from './call/ending';
import { expectsHandover, resumeTwiml, saveHandover, takeHandover, type Handover, type HandoverReason } from './call/handover';
import { CallInputs, type CallEvent } from './call/inputs';
import { Recording } from './call/recording';
import { startReply } from './call/replies';
import { Speaking, type HeardUtterance } from './call/speaking';
import { Conversation } from './call/conversation';
import { EscalationPolicy } from './call/escalation';
import { OperatorDesk } from './call/operator';
import { Review } from './call/review';
import { reviewOf } from './agents/types';
import type { CallInstruments } from './observability/instruments';
import { logObserver } from './observability/log-observer';
import { combineObservers } from './observability/observers';
import { forLlm } from './privacy/redaction';
import { payOutcomeFromStream } from './telephony/pay';
import type { ChatMessage, TurnChange } from './providers/types';
import type { Reply, ReplyOutcome } from './call/reply';
import type { CallObserver, CallSummary } from './observability/observer';
import type { AcceptedCall } from './telephony/accepted-call';
import { CallRecorder } from './store/call-recorder';
import { ENDPOINTING_PROFILES, EndpointingTurnDetector } from './turn-detector';

export type { CallDeps } from './call/deps';

/** Clock tick for the turn detector's silence timeouts. */
const TICK_MS = 50;

/** One phone call. Never throws: every failure ends in an apology and a handoff or a clean hang-up, for this call only. */
export async function runCall(call: AcceptedCall, deps: CallDeps, live?: Set<LiveCall>): Promise<void> {
  const c = new Call(call, deps, await handoverFor(call, deps));
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

/** The state an earlier stream of this call left (migration, <Pay>), if this stream is its continuation. */
async function handoverFor(call: AcceptedCall, deps: CallDeps): Promise<Handover | undefined> {
  if (!expectsHandover(call.start.customParameters)) return undefined;
  try {
    return await takeHandover(deps.stores.redis, call.start.callSid);
  } catch (err) {
    call.log.warn({ err: { name: (err as Error)?.name } }, 'handover unavailable; the call starts afresh');
    return undefined;
  }
}

class Call implements LiveCall {
  private readonly now: () => number;
  private readonly profile: AgentProfile;
  private readonly instruments: CallInstruments | undefined;
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private readonly inputs: CallInputs;
  private readonly recording: Recording;
  private readonly speaking: Speaking;
  private readonly ending: Ending;
  private readonly detector: EndpointingTurnDetector;
  private readonly policy = new EscalationPolicy();
  private readonly tts: ReturnType<CallDeps['openTts']>;
  /** The per-call observer (log line, or the local stack's trace), without the metrics. */
  private readonly callObserver: CallObserver;
  private recorder: CallRecorder | undefined;
  private greetingMs: number | undefined;
  private lastConfidence = 1;

  constructor(private readonly call: AcceptedCall, private readonly deps: CallDeps, private readonly handover?: Handover) {
    this.now = deps.now ?? Date.now;
    const { start, log } = call;
    this.profile = deps.agents.resolve(handover?.agent ?? start.agent);
    // A continued call's cost and duration run from its first stream.
    this.instruments = deps.instrumentsFor?.(handover ? { ...call, start: { ...start, startedAt: handover.startedAt } } : call, this.profile);
    if (handover?.usage) this.instruments?.carry(handover.usage as Parameters<CallInstruments['carry']>[0]);
    this.callObserver = deps.observerFor?.(call) ?? logObserver(log);
    const observer = combineObservers(this.instruments?.observer, this.callObserver);
    this.signal = AbortSignal.any([call.signal, this.controller.signal]);
    this.inputs = new CallInputs(this.now, log, handover?.sttSeconds);
    this.recording = handover ? Recording.resume(handover, observer, this.now) : new Recording(new Conversation(systemPrompt(this.profile, this.today, '')), observer, this.now);
    if (deps.liveFeed) this.recording.live = { feed: deps.liveFeed, callSid: start.callSid };
    this.speaking = new Speaking(call.transport, (u) => this.heard(u), this.now);
    this.detector = new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES[this.profile.endpointing], speculate: novaSpeculates(this.profile) });
    this.tts = deps.openTts(this.profile.voiceId);
    this.ending = new Ending({
      profile: this.profile, speaking: this.speaking, recording: this.recording, transport: call.transport, cache: deps.cache, signal: this.signal, log,
      config: deps.config, callSid: start.callSid,
      putHandoff: (summary) => deps.stores.transcripts.putCall({ callSid: start.callSid, agent: this.profile.name, callerHash: this.recorder?.callerHash, startedAt: this.startedAt, summary, escalated: true }),
      handOver: (reason) => saveHandover(deps.stores.redis, this.snapshot(reason)),
      resumeTwiml: () => resumeTwiml(deps.config, { callSid: start.callSid, caller: start.caller ?? '', agent: this.profile.name }),
      stop: (reason) => this.controller.abort(reason),
      providerError: (what) => this.instruments?.providerError(what),
    });
  }

  /** An utterance reached its end: recorded as heard, and what the caller is answering now (adaptive turn-taking). */
  private heard(u: HeardUtterance): void {
    this.recording.heard(u);
    if (u.text) this.detector.setAgentContext({ lastUtterance: u.text });
  }

  /** The call's first `start`, whichever stream this is. */
  private get startedAt(): number {
    return this.handover?.startedAt ?? this.call.start.startedAt;
  }

  private snapshot(reason: HandoverReason): Handover {
    const { start } = this.call;
    return {
      v: 1, callSid: start.callSid, agent: this.profile.name, reason, startedAt: this.startedAt,
      sttSeconds: this.inputs.sttSeconds, usage: this.instruments?.usage(this.now()), ...this.recording.snapshot(),
    };
  }

  /** Moves the call to another task once nothing is being said (bounded by `deadlineMs`). */
  async migrate(deadlineMs: number): Promise<boolean> {
    const until = this.now() + deadlineMs;
    while ((this.speaking.current || this.speaking.audible()) && this.now() < until && !this.signal.aborted) await sleep(50);
    return this.signal.aborted ? false : this.ending.migrate();
  }

  private get today(): string {
    return new Date(this.startedAt).toISOString().slice(0, 10);
  }

  /** Greeting first, from cached audio (nothing, not even Redis, runs before its first frame); then the stores. */
  async open(): Promise<void> {
    const { profile, deps, call } = this;
    const { start } = call;
    const first = this.handover ? resumeLine(profile, start.customParameters) : profile.greeting;
    const owner = this.handover ? 'resume' : 'greeting';
    const say = (line: CachedAudio) => {
      this.recording.saying(owner, line.text);
      this.speaking.say(owner, line);
      this.greetingMs = this.now() - start.startedAt;
    };
    const cached = deps.cache.peek(profile.voiceId, first);
    if (cached) say(cached);
    else deps.cache.get(profile.voiceId, first).then((g) => this.signal.aborted || say(g), (err: unknown) => call.log.warn({ err: { name: (err as Error)?.name } }, 'greeting synthesis failed'));
    const recorderStart = { callSid: start.callSid, agent: profile.name, caller: start.caller, startedAt: this.startedAt, profile: { name: profile.name } };
    if (this.handover) return this.attach(CallRecorder.resume(deps.stores, recorderStart, this.handover.recorder));
    try {
      const r = await CallRecorder.start(deps.stores, recorderStart);
      this.attach(r.recorder);
      // The greeting stays the cached generic one; caller memory personalises the first LLM turn instead.
      this.recording.conversation.setSystem(systemPrompt(profile, this.today, r.memoryLine));
    } catch (err) {
      call.log.warn({ err: { name: (err as Error)?.name } }, 'call recorder unavailable; continuing without persistence');
    }
  }

  private attach(recorder: CallRecorder): void {
    this.recorder = recorder;
    this.recording.attach(recorder);
  }

  /** The loop: every event of the call, in order, until it ends. */
  async run(): Promise<void> {
    // SUBSCRIBE off the call's path: a slow Redis delays the console's actions, never the caller's audio.
    const desk = this.operatorDesk();
    void desk.open();
    this.inputs.pumpInbound(this.call.transport.inbound);
    this.inputs.pumpStt(this.deps.stt(this.profile), this.signal);
    const ticker = setInterval(() => this.inputs.events.push({ kind: 'tick' }), TICK_MS);
    const onAbort = () => this.inputs.events.push({ kind: 'ended', why: 'aborted' });
    this.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const ev of this.inputs.events) if (!(await this.route(ev))) break;
    } catch (err) {
      this.ending.failed = true;
      this.call.log.error({ err }, 'call loop failed');
    } finally {
      this.controller.abort('call ended');
      clearInterval(ticker);
      this.signal.removeEventListener('abort', onAbort);
      this.inputs.close();
      this.tts.close();
      await desk.close();
    }
  }

  /** The call is over: settle what is still out (heard = what played before the end), then persist off the audio path. */
  async close(): Promise<void> {
    const { start } = this.call;
    for (const d of await this.speaking.end()) if (d.outcome) this.recording.generated(d.reply, d.outcome);
    const endedAt = this.now();
    const sttSeconds = this.inputs.sttSeconds;
    const r = this.recording;
    const summary: CallSummary = {
      callSid: start.callSid, agent: this.profile.name, startedAt: this.startedAt, endedAt, turns: r.replies, interruptions: r.interruptions,
      escalated: this.ending.escalated, failed: this.ending.failed, sttSeconds, greetingMs: this.greetingMs,
    };
    if (this.ending.handedOver) {
      // The next stream writes the call record, cost and caller memory once, at the call's real end.
      await this.deps.stores.transcripts.flush(start.callSid, 5000);
      return this.callObserver.end({ ...summary, handedOver: true });
    }
    const cost = this.instruments?.cost({ endedAt, sttSeconds });
    await r.finish({ endedAt, escalated: this.ending.escalated, cost, summary: this.ending.summary }, summary);
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

  // ---- Operations console (issue 13): flags for review and operator actions. ----
  private reviewPart: Review | undefined;

  /** Flags for review (call/review.ts), created on first use with the profile's thresholds. */
  private get review(): Review {
    const { start, log } = this.call;
    return (this.reviewPart ??= new Review({
      callSid: start.callSid, thresholds: reviewOf(this.profile), capUsd: this.deps.config.COST_CAP_USD, feed: this.deps.liveFeed, log, now: this.now,
      earlierCallerTurns: this.recording.turns.filter((t) => t.role === 'user').map((t) => t.text),
      record: (name, id, args, ok) => this.recording.note(name, id, args, ok),
    }));
  }

  /** The console's actions on this call (call/operator.ts), over the task's Redis subscriber. */
  private operatorDesk(): OperatorDesk {
    const { start, log } = this.call;
    return new OperatorDesk({
      callSid: start.callSid, subscriptions: this.deps.operators, feed: this.deps.liveFeed, log, now: this.now,
      takeOver: (to) => this.ending.escalate('operator', { to }),
      hangUp: () => this.ending.hangUp('operator'),
      whisper: (text) => {
        if (this.ending.state) return false;
        this.recording.whisper(text);
        // A reply held on speculation was planned without the instruction: drop it, the confirmed turn starts afresh.
        this.speaking.drop();
        return true;
      },
      record: (name, id, args, ok) => this.recording.note(name, id, args, ok),
    });
  }

  private startReply(speculative: boolean, messages: ChatMessage[], speechEndAt?: number): Reply {
    const { call } = this;
    const reply = startReply(
      {
        deps: this.deps, profile: this.profile, callSid: call.start.callSid, caller: call.start.caller, callerHash: () => this.recorder?.callerHash,
        tts: this.tts.tts, playout: this.speaking.playout, instruments: this.instruments, signal: this.signal, log: call.log, now: this.now,
        overBudget: (usd) => this.review.guardrail(usd),
      },
      ++this.recording.replies,
      { speculative, messages, speechEndAt },
    );
    this.inputs.watch(reply);
    return reply;
  }
}

/** Which seam a failed reply's error came from. */
/** Which seam a failed reply lost: the chain says so once every provider of it failed (SeamFailedError). */
function failedSeam(err: unknown): string {
  if (err instanceof SeamFailedError) return err.seam;
  return err instanceof Error && /tts|elevenlabs/i.test(err.message) ? 'tts' : 'llm';
}

/** What the agent says first on a continued call: the outcome of <Pay> (Twilio's `Result`), or that it is back. */
function resumeLine(profile: AgentProfile, params: Record<string, string>): string {
  return payOutcomeFromStream(params)?.sentence ?? profile.resumeLine;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
