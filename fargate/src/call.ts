// runCall(): one phone call from `start` to its end. The loop only: it routes inbound, STT, tick and reply events to
// the parts in call/ (speaking, recording, ending) and to the turn detector, which own every decision and all state.
import { novaSpeculates, resolveAgent, systemPrompt, type AgentProfile } from './agents';
import type { AudioCache } from './audio-cache';
import { CallInputs, type CallEvent } from './call/inputs';
import { Ending } from './call/ending';
import { Recording } from './call/recording';
import { Speaking } from './call/speaking';
import type { Config } from './config';
import { Conversation } from './conversation';
import { EscalationPolicy } from './escalation';
import { logObserver } from './observability/log-observer';
import type { CallInstruments } from './observability/instruments';
import { combineObservers } from './observability/observers';
import { withSystemInstruction } from './observability/router';
import { forLlm } from './privacy/redaction';
import type { LanguageModel, LlmTool, SpeechToText, TextToSpeech, ToolClient, TurnChange } from './providers/types';
import { Reply, type CallObserver, type ReplyOutcome } from './reply';
import type { AcceptedCall } from './server';
import { CallRecorder, type Stores } from './store/call-recorder';
import type { LatencyClass } from '../../lambdas/shared/contract';
import { DEFAULT_BARGE_IN, ENDPOINTING_PROFILES, EndpointingTurnDetector } from './turn-detector';

/** Everything one call needs from its task; built once by `createCallHandler` (runtime.ts), injectable for tests. */
export interface CallDeps {
  config: Config;
  /** A recogniser configured for the profile's model and endpointing. */
  stt(profile: AgentProfile): SpeechToText;
  llm: LanguageModel;
  /** LLM model id for the profile's size. */
  modelFor(profile: AgentProfile): string;
  /** The call's TTS socket for a voice (taken from the warm pool); `close` at hang-up. */
  openTts(voiceId: string): { tts: TextToSpeech; close(): void };
  tools: ToolClient;
  /** The LLM tool list for the profile's tool names. */
  toolDefs(names: string[]): LlmTool[];
  latencyClass(tool: string): LatencyClass;
  cache: AudioCache;
  stores: Stores;
  /** Per-call observability seam. @default {@link logObserver} */
  observerFor?(call: AcceptedCall): CallObserver;
  /** Per-call cost meter, model router + budget guardrail and EMF/Prometheus metrics. @default none */
  instrumentsFor?(call: AcceptedCall, profile: AgentProfile): CallInstruments;
  /** @default Date.now */
  now?(): number;
}

/** Clock tick for the turn detector's silence timeouts. */
const TICK_MS = 50;

/** One phone call. Never throws: every failure ends in an apology and a handoff or a clean hang-up, for this call only. */
export async function runCall(call: AcceptedCall, deps: CallDeps): Promise<void> {
  const now = deps.now ?? Date.now;
  const { start, transport, log } = call;
  const profile = resolveAgent(start.agent, deps.config.DEFAULT_AGENT);
  const instruments = deps.instrumentsFor?.(call, profile);
  const observer = combineObservers(instruments?.observer, deps.observerFor?.(call) ?? logObserver(log));
  const controller = new AbortController();
  const signal = AbortSignal.any([call.signal, controller.signal]);
  const inputs = new CallInputs(now, log);
  const today = new Date(start.startedAt).toISOString().slice(0, 10);
  const recording = new Recording(new Conversation(systemPrompt(profile, today, '')), observer, now);
  const speaking = new Speaking(transport, (u) => recording.heard(u), now);

  // Greeting first, from cached audio: nothing else (not even Redis) runs before the first frame goes out.
  let greetingMs: number | undefined;
  const greet = (line: Parameters<Speaking['say']>[1]) => {
    recording.saying('greeting', line.text);
    speaking.say('greeting', line);
    greetingMs = now() - start.startedAt;
  };
  const cached = deps.cache.peek(profile.voiceId, profile.greeting);
  if (cached) greet(cached);
  else deps.cache.get(profile.voiceId, profile.greeting).then((g) => signal.aborted || greet(g), (err: unknown) => log.warn({ err: { name: (err as Error)?.name } }, 'greeting synthesis failed'));

  // Stores while the greeting plays: call record, session, caller memory (bounded wait inside the recorder).
  let recorder: CallRecorder | undefined;
  try {
    const r = await CallRecorder.start(deps.stores, { callSid: start.callSid, agent: profile.name, caller: start.caller, startedAt: start.startedAt, profile: { name: profile.name } });
    recorder = r.recorder;
    recording.attach(recorder);
    // The greeting stays the cached generic one; caller memory personalises the first LLM turn instead.
    recording.conversation.setSystem(systemPrompt(profile, today, r.memoryLine));
  } catch (err) {
    log.warn({ err: { name: (err as Error)?.name } }, 'call recorder unavailable; continuing without persistence');
  }

  const { tts, close: closeTts } = deps.openTts(profile.voiceId);
  const detector = new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES[profile.endpointing], speculate: novaSpeculates(profile) });
  const policy = new EscalationPolicy();
  const ending = new Ending({
    profile, speaking, recording, transport, cache: deps.cache, publicUrl: deps.config.PUBLIC_URL, transferNumber: deps.config.TRANSFER_NUMBER, signal, log,
    putHandoff: (summary) => deps.stores.transcripts.putCall({ callSid: start.callSid, agent: profile.name, callerHash: recorder?.callerHash, startedAt: start.startedAt, summary, escalated: true }),
    stop: (reason) => controller.abort(reason),
    providerError: (what) => instruments?.providerError(what),
  });
  let lastConfidence = 1;

  const startReply = (speculative: boolean, messages: ReturnType<Conversation['messages']>, speechEndAt?: number): Reply => {
    const n = ++recording.replies;
    // Tiered inference + budget guardrail: the model for this reply, and a wrap-up instruction once over COST_CAP_USD.
    const plan = instruments?.planTurn({ messages, toolsOffered: deps.toolDefs(profile.tools).length });
    const reply = new Reply(
      {
        callSid: start.callSid, callerHash: recorder?.callerHash, callerPhone: start.caller, llm: deps.llm, tts, tools: deps.tools,
        model: plan?.model ?? deps.modelFor(profile), toolDefs: deps.toolDefs(profile.tools), latencyClass: deps.latencyClass,
        filler: () => deps.cache.peek(profile.voiceId, profile.fillers[n % Math.max(1, profile.fillers.length)] ?? ''),
        playout: speaking.playout, log, now,
      },
      `r${n}`, n, withSystemInstruction(messages, plan?.instruction),
      { speculative, callSignal: signal, speechEndAt, sttFinalAt: now() },
    );
    inputs.watch(reply);
    return reply;
  };

  /** The caller's turn is over: confirm the held reply, or start one. */
  const userFinished = async (rawText: string, confidence: number, speechEndAt: number | undefined) => {
    if (ending.state) return;
    const text = forLlm(rawText);
    lastConfidence = confidence;
    const confirmed = speaking.confirm(rawText, { speechEndAt, sttFinalAt: now() });
    if (confirmed) {
      recording.user(text, speechEndAt);
      if (confirmed.outcome) inputs.events.push({ kind: 'reply-done', reply: confirmed.reply, outcome: confirmed.outcome });
      return;
    }
    if (speaking.audible()) interrupt();
    const prev = await speaking.supersede();
    recording.user(text, speechEndAt, { merge: prev.superseded && !prev.audible });
    const reason = policy.beforeReply(text);
    if (reason) return void ending.escalate(reason);
    speaking.play(startReply(false, recording.conversation.messages(), speechEndAt));
  };

  const interrupt = () => {
    recording.interruptions++;
    speaking.cut();
  };

  const onTurn = async (change: TurnChange) => {
    if (change.kind === 'barge-in') speaking.pause();
    else if (change.kind === 'false-alarm') speaking.resume();
    else if (change.kind === 'user-started') interrupt();
    else if (change.kind === 'speculation-cancelled') speaking.drop();
    else if (change.kind === 'user-finished') await userFinished(change.text, change.confidence, inputs.wallOf(change.lastWordEnd));
    else if (!ending.state && !speaking.current && !speaking.audible() && !policy.beforeReply(forLlm(change.text))) {
      // Speculate. A request for a person skips the LLM once confirmed, so it is never speculated either.
      const messages = [...recording.conversation.messages(), { role: 'user' as const, content: forLlm(change.text) }];
      speaking.hold(startReply(true, messages, inputs.wallOf(change.lastWordEnd)), change.text.trim());
    }
  };

  const onReplyDone = (reply: Reply, outcome: ReplyOutcome) => {
    const what = speaking.generated(reply, outcome);
    if (what === 'held') return;
    recording.generated(reply, outcome);
    if (what !== 'live' || ending.state) return;
    if (outcome.status === 'failed') return ending.providerFailure(failedSeam(outcome.error), outcome.error);
    if (outcome.status !== 'done') return;
    // The handoff/payment line queues behind this reply's audio, so the caller hears both in order.
    if (outcome.action) return void (outcome.action.kind === 'transfer' ? ending.escalate('tool-requested') : ending.pay(outcome.action.amount));
    const reason = policy.afterReply({ confidence: lastConfidence, toolFailed: outcome.toolResults.some((r) => !r.ok), agentText: outcome.spoken });
    if (reason) void ending.escalate(reason);
  };

  const route = async (ev: CallEvent): Promise<boolean> => {
    if (ev.kind === 'ended') return false;
    if (ev.kind === 'mark') speaking.onMark(ev.name);
    else if (ev.kind === 'keypad') await userFinished(`[keypad] ${ev.digits}`, 1, now());
    else if (ev.kind === 'reply-done') onReplyDone(ev.reply, ev.outcome);
    else if (ev.kind === 'stt-ended') {
      if (!signal.aborted && !ending.state) ending.providerFailure('stt', ev.error ?? new Error('STT stream ended'));
    } else {
      if (ev.kind === 'stt' && ev.ev.kind === 'speech-started' && speaking.audible()) {
        // Exact deadlines for the barge-in rules instead of waiting for the next tick.
        inputs.tickIn(DEFAULT_BARGE_IN.minSpeechMs + 1);
        inputs.tickIn(DEFAULT_BARGE_IN.maxWaitForTextMs + 1);
      }
      const change = detector.update(ev.kind === 'stt' ? ev.ev : ev, now(), speaking.audible());
      if (change) await onTurn(change);
    }
    return !signal.aborted || ev.kind === 'reply-done';
  };

  inputs.pumpInbound(transport.inbound);
  inputs.pumpStt(deps.stt(profile), signal);
  const ticker = setInterval(() => inputs.events.push({ kind: 'tick' }), TICK_MS);
  const onAbort = () => inputs.events.push({ kind: 'ended', why: 'aborted' });
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const ev of inputs.events) if (!(await route(ev))) break;
  } catch (err) {
    ending.failed = true;
    log.error({ err }, 'call loop failed');
  } finally {
    controller.abort('call ended');
    clearInterval(ticker);
    signal.removeEventListener('abort', onAbort);
    inputs.close();
    closeTts();
  }

  // The call is over: settle what is still out (heard = what played before the end), then persist off the audio path.
  for (const d of await speaking.end()) if (d.outcome) recording.generated(d.reply, d.outcome);
  const endedAt = now();
  const cost = instruments?.cost({ endedAt, sttSeconds: inputs.sttSeconds });
  await recording.finish({ endedAt, escalated: ending.escalated, cost, summary: ending.summary });
  observer.end({
    callSid: start.callSid, agent: profile.name, startedAt: start.startedAt, endedAt, turns: recording.replies, interruptions: recording.interruptions,
    escalated: ending.escalated, failed: ending.failed, sttSeconds: inputs.sttSeconds, greetingMs,
  });
}

/** Which seam a failed reply's error came from. */
function failedSeam(err: unknown): 'tts' | 'llm' {
  return err instanceof Error && /tts|elevenlabs/i.test(err.message) ? 'tts' : 'llm';
}
