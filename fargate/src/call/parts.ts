// The parts of one call, wired together (providers, turn detector, speaking, recording, ending), and what comes before and after its loop: the greeting and the stores first, the call record last.
import { systemPrompt, type AgentProfile } from '../agents';
import type { CallDeps } from './deps';
import type { CachedAudio } from './audio-cache';
import { Ending } from './ending';
import { expectsHandover, resumeTwiml, saveHandover, takeHandover, type Handover, type HandoverReason } from './handover';
import { CallInputs } from './inputs';
import { Recording } from './recording';
import { startReply } from './replies';
import { Speaking, type HeardUtterance } from './speaking';
import { Conversation } from './conversation';
import { EscalationPolicy } from './escalation';
import { OperatorDesk } from './operator';
import { Review } from './review';
import { reviewOf } from '../agents/types';
import { SeamFailedError } from '../providers/failover';
import type { CallInstruments } from '../observability/instruments';
import { logObserver } from '../observability/log-observer';
import { combineObservers } from '../observability/observers';
import { payOutcomeFromStream } from '../telephony/pay';
import type { ChatMessage, TurnChange, TurnDetector } from '../providers/types';
import type { Reply } from './reply';
import type { CallObserver, CallSummary } from '../observability/observer';
import type { AcceptedCall } from '../telephony/accepted-call';
import { CallRecorder } from '../store/call-recorder';

/** The state an earlier stream of this call left (migration, <Pay>), if this stream is its continuation. */
export async function handoverFor(call: AcceptedCall, deps: CallDeps): Promise<Handover | undefined> {
  if (!expectsHandover(call.start.customParameters)) return undefined;
  try {
    return await takeHandover(deps.stores.redis, call.start.callSid);
  } catch (err) {
    call.log.warn({ err: { name: (err as Error)?.name } }, 'handover unavailable; the call starts afresh');
    return undefined;
  }
}

/** The turn-taking part as the call uses it (turn-detector.ts; the loop builds it, so call/ never imports upward). */
export interface CallTurnDetector extends TurnDetector {
  /** A change left over from the last `update`. */
  drain(): TurnChange | undefined;
  /** When a clock tick could next change anything (pure). */
  nextDeadline(): number | undefined;
  /** What the agent just said (adaptive turn-taking judges the caller's answer by it). */
  setAgentContext(ctx: { lastUtterance: string }): void;
}

/** One call's parts, built from its agent profile (or the handover of its earlier stream); the loop (call.ts) routes events to them. */
export class CallParts {
  protected readonly now: () => number;
  protected readonly profile: AgentProfile;
  protected readonly instruments: CallInstruments | undefined;
  protected readonly controller = new AbortController();
  protected readonly signal: AbortSignal;
  protected readonly inputs: CallInputs;
  protected readonly recording: Recording;
  protected readonly speaking: Speaking;
  protected readonly ending: Ending;
  protected readonly detector: CallTurnDetector;
  protected readonly policy = new EscalationPolicy();
  protected readonly tts: ReturnType<CallDeps['openTts']>;
  /** The per-call observer (log line, or the local stack's trace), without the metrics. */
  protected readonly callObserver: CallObserver;
  protected recorder: CallRecorder | undefined;
  private greetingMs: number | undefined;

  constructor(
    protected readonly call: AcceptedCall,
    protected readonly deps: CallDeps,
    protected readonly handover: Handover | undefined,
    turnDetectorFor: (profile: AgentProfile) => CallTurnDetector,
  ) {
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
    // The operations console gets every transcript line as heard (Recording publishes it).
    if (deps.liveFeed) this.recording.live = { feed: deps.liveFeed, callSid: call.start.callSid };
    this.speaking = new Speaking(call.transport, (u) => this.heard(u), this.now);
    this.detector = turnDetectorFor(this.profile);
    this.tts = deps.openTts(this.profile.voiceId);
    this.ending = new Ending({
      profile: this.profile, speaking: this.speaking, recording: this.recording, transport: call.transport, cache: deps.cache, signal: this.signal, log,
      config: deps.config, callSid: start.callSid,
      putHandoff: (summary) => deps.stores.transcripts.putCall({ callSid: start.callSid, agent: this.profile.name, callerHash: this.recorder?.callerHash, startedAt: this.startedAt, summary, escalated: true }),
      handOver: (reason) => saveHandover(deps.stores.redis, this.snapshot(reason)),
      resumeTwiml: () => resumeTwiml(deps.config, { callSid: start.callSid, caller: start.caller ?? '', agent: this.profile.name }),
      stop: (reason) => this.controller.abort(reason),
      providerError: (what) => this.instruments?.providerError(what),
      escalating: (reason) => deps.liveFeed?.publish({ type: 'escalation', callSid: start.callSid, reason, at: this.now() }),
    });
  }

  /** An utterance reached its end: recorded as heard, and what the caller is answering now (adaptive turn-taking). */
  private heard(u: HeardUtterance): void {
    this.recording.heard(u);
    if (u.text) this.detector.setAgentContext({ lastUtterance: u.text });
  }

  /** The call's first `start`, whichever stream this is. */
  protected get startedAt(): number {
    return this.handover?.startedAt ?? this.call.start.startedAt;
  }

  private get today(): string {
    return new Date(this.startedAt).toISOString().slice(0, 10);
  }

  private snapshot(reason: HandoverReason): Handover {
    const { start } = this.call;
    return {
      v: 1, callSid: start.callSid, agent: this.profile.name, reason, startedAt: this.startedAt,
      sttSeconds: this.inputs.sttSeconds, usage: this.instruments?.usage(this.now()), ...this.recording.snapshot(),
    };
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

  // ---- Operations console (issue 13): flags for review and operator actions. ----
  private reviewPart: Review | undefined;

  /** Flags for review (call/review.ts), created on first use with the profile's thresholds. */
  protected get review(): Review {
    const { start, log } = this.call;
    return (this.reviewPart ??= new Review({
      callSid: start.callSid, thresholds: reviewOf(this.profile), capUsd: this.deps.config.COST_CAP_USD, feed: this.deps.liveFeed, log, now: this.now,
      earlierCallerTurns: this.recording.turns.filter((t) => t.role === 'user').map((t) => t.text),
      record: (name, id, args, ok) => this.recording.note(name, id, args, ok),
    }));
  }

  /** The console's actions on this call (call/operator.ts), over the task's Redis subscriber. */
  protected operatorDesk(): OperatorDesk {
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

  /** Starts reply number n+1 (speculative: its audio is held until confirmed); its completion becomes a loop event. */
  protected startReply(speculative: boolean, messages: ChatMessage[], speechEndAt?: number): Reply {
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

/** Which seam a failed reply lost: the chain says so once every provider of it failed (SeamFailedError). */
export function failedSeam(err: unknown): string {
  if (err instanceof SeamFailedError) return err.seam;
  return err instanceof Error && /tts|elevenlabs/i.test(err.message) ? 'tts' : 'llm';
}

/** What the agent says first on a continued call: the outcome of <Pay> (Twilio's `Result`), or that it is back. */
function resumeLine(profile: AgentProfile, params: Record<string, string>): string {
  return payOutcomeFromStream(params)?.sentence ?? profile.resumeLine;
}
