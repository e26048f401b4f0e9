// runCall(): one phone call from `start` to `stop`, the only orchestrator; createCallHandler() builds the task's providers and stores.
import type { LatencyClass } from '../../lambdas/shared/contract';
import { AGENTS, agentForNumber, novaSpeculates, resolveAgent, type AgentProfile } from './agents';
import { AudioCache, type CachedAudio } from './audio-cache';
import type { Config } from './config';
import { Conversation, Playout } from './conversation';
import { EscalationPolicy, paymentTwiml, summarizeForHandoff, transferTwiml, type EscalationReason } from './escalation';
import type { CallInstruments } from './observability/instruments';
import type { Logger } from './observability/logger';
import { combineObservers } from './observability/observers';
import { withSystemInstruction } from './observability/router';
import { containsCardNumber, DEFAULT_STT_REDACTION, deepgramRedactParams, redact } from './privacy/redaction';
import { createDeepgramStt, type DeepgramConnection, type DeepgramStt } from './providers/deepgram-stt';
import { createElevenLabsTts, type ElevenLabsTts, type TtsConnection } from './providers/elevenlabs-tts';
import { createGroqLlm } from './providers/groq-llm';
import { createOpenAiCompatibleLlm } from './providers/openai-compatible-llm';
import { WarmPools } from './providers/warm-pool';
import type { InboundEvent, LanguageModel, LlmTool, Mulaw, SpeechToText, SttEvent, TextToSpeech, ToolClient, TurnChange } from './providers/types';
import { PushQueue, Reply, type CallObserver, type CallSummary, type ReplyAction, type ReplyOutcome, type ReplyUsage, type TurnMeasures } from './reply';
import type { AcceptedCall } from './server';
import { CallRecorder, openStores, type Stores } from './store/call-recorder';
import { contractFor, toolsFor } from './tools/catalog';
import { createToolClient } from './tools/tool-client';
import { DEFAULT_BARGE_IN, ENDPOINTING_PROFILES, EndpointingTurnDetector } from './turn-detector';

export type { CallObserver, CallSummary, ReplyUsage, TurnMeasures } from './reply';

/** Everything one call needs from its task; built once by {@link createCallHandler}, injectable for tests. */
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
  /** Per-call cost meter, model router + budget guardrail and EMF/Prometheus metrics. @default none: the profile's model, no metrics */
  instrumentsFor?(call: AcceptedCall, profile: AgentProfile): CallInstruments;
  /** @default Date.now */
  now?(): number;
}

/** The contract main.ts and the local stack use (CONTRACTS.md). */
export interface CallRuntime {
  handle: (call: AcceptedCall) => Promise<void>;
  agentFor(calledNumber: string): string;
  close(): Promise<void>;
}

/** Clock tick for silence timeouts; barge-in deadlines get their own exact timers. */
const TICK_MS = 50;
/** Keypad digits end at '#' or after this pause. */
const DTMF_PAUSE_MS = 2000;
/** Longest wait for a handoff line to finish playing before the transfer goes ahead anyway. */
const HANDOFF_PLAY_LIMIT_MS = 8000;
/** What an LLM sees of card/SSN digits the caller spoke: redacted at the source of the history. */
const LLM_REDACTION = { card: true, ssn: true, email: false, phone: false } as const;

/**
 * What of the caller's words may enter the history (and so the LLM, the session and the transcript): card numbers
 * and SSNs, spoken or typed on the keypad, become `[card]` / `[ssn]` before anything else sees them.
 */
export function forLlm(text: string): string {
  return containsCardNumber(text) || /\d[\d\s-]{7,}\d/.test(text) ? redact(text, LLM_REDACTION) : text;
}

/** Default observer: one pino line per turn with the latency waterfall (ms after the caller's last word). */
export function logObserver(log: Logger): CallObserver {
  return {
    turn(m) {
      const from = m.speechEndAt ?? m.sttFinalAt ?? m.replyStartedAt;
      const at = (t: number | undefined) => (t === undefined ? undefined : Math.round(t - from));
      log.info(
        {
          turn: m.turn,
          waterfall: {
            speechEnd: m.speechEndAt === undefined ? undefined : 0,
            sttFinal: at(m.sttFinalAt),
            llmFirstToken: at(m.llmFirstTokenAt),
            firstClause: at(m.firstClauseAt),
            ttsFirstByte: at(m.ttsFirstByteAt),
            firstAudioOut: at(m.firstAudioAt),
          },
          voiceToVoiceMs: m.voiceToVoiceMs,
          sttFinalDelayMs: m.sttFinalDelayMs,
          llmTimeToFirstTokenMs: m.llmTimeToFirstTokenMs,
          ttsTimeToFirstByteMs: m.ttsTimeToFirstByteMs,
          tools: m.tools,
          interrupted: m.interrupted,
          speculative: m.speculative,
          discarded: m.discarded,
        },
        'turn latency',
      );
    },
    toolCall(name, ms, ok) {
      log.debug({ tool: name, ms, ok }, 'tool call');
    },
    usage(u) {
      log.debug({ ...u }, 'reply usage');
    },
    end(s) {
      log.info({ ...s }, 'call summary');
    },
  };
}

/** The system prompt for a profile at call start: `{today}` filled, caller memory appended. */
export function systemPrompt(profile: AgentProfile, today: string, memoryLine: string): string {
  const base = profile.systemPrompt.replaceAll('{today}', today);
  return memoryLine ? `${base}\n${memoryLine}` : base;
}

type LoopEvent =
  | { kind: 'inbound'; ev: Exclude<InboundEvent, { kind: 'media' }> }
  | { kind: 'inbound-ended' }
  | { kind: 'stt'; ev: SttEvent }
  | { kind: 'stt-ended'; error?: unknown }
  | { kind: 'tick' }
  | { kind: 'dtmf-flush' }
  | { kind: 'reply-done'; reply: Reply; outcome: ReplyOutcome };

/** A held reply started on a Flux EagerEndOfTurn or a Nova early endpoint; `outcome` is set if it finished generating while held. */
interface Speculation {
  reply: Reply;
  text: string;
  confidence: number;
  outcome?: ReplyOutcome;
}

/** A reply whose generation ended but whose audio may still be playing. */
interface Settled {
  reply: Reply;
  outcome: ReplyOutcome;
  /** Transcript turn recorded. */
  recorded: boolean;
}

/**
 * One phone call. A single loop consumes merged events (inbound marks/dtmf/stop, STT events, clock ticks, reply
 * completions); media frames go straight to the STT audio queue. Never throws: every failure ends in an apology
 * and a handoff or a clean hang-up, and only this call is affected.
 */
export async function runCall(call: AcceptedCall, deps: CallDeps): Promise<void> {
  const now = deps.now ?? Date.now;
  const { start, transport, log } = call;
  const config = deps.config;
  const profile = resolveAgent(start.agent, config.DEFAULT_AGENT);
  const instruments = deps.instrumentsFor?.(call, profile);
  const observer = combineObservers(instruments?.observer, deps.observerFor?.(call) ?? logObserver(log));
  const controller = new AbortController();
  const signal = AbortSignal.any([call.signal, controller.signal]);
  const playout = new Playout(transport);
  const events = new PushQueue<LoopEvent>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, ev: LoopEvent) => {
    const t = setTimeout(() => {
      timers.delete(t);
      events.push(ev);
    }, ms);
    timers.add(t);
    return t;
  };

  // 1. Greeting first, from cached audio: nothing else (not even Redis) runs before the first frame goes out.
  let greetingMs: number | undefined;
  const playCached = (owner: string, phrase: CachedAudio) => {
    playout.play(owner, phrase.audio, phrase.alignment, now());
  };
  const greeting = deps.cache.peek(profile.voiceId, profile.greeting);
  if (greeting) {
    playCached('greeting', greeting);
    greetingMs = now() - start.startedAt;
  } else {
    // Cold cache (warm-up failed at boot): synthesize now; the call still works, only slower to greet.
    deps.cache.get(profile.voiceId, profile.greeting).then(
      (g) => {
        if (signal.aborted) return;
        playCached('greeting', g);
        greetingMs = now() - start.startedAt;
      },
      (err: unknown) => log.warn({ err: { name: (err as Error)?.name } }, 'greeting synthesis failed'),
    );
  }

  // 2. Stores: call record, session, caller memory (bounded wait inside the recorder) while the greeting plays.
  let recorder: CallRecorder | undefined;
  let memoryLine = '';
  try {
    const r = await CallRecorder.start(deps.stores, { callSid: start.callSid, agent: profile.name, caller: start.caller, startedAt: start.startedAt, profile: { name: profile.name } });
    recorder = r.recorder;
    memoryLine = r.memoryLine;
  } catch (err) {
    log.warn({ err: { name: (err as Error)?.name } }, 'call recorder unavailable; continuing without persistence');
  }
  const today = new Date(start.startedAt).toISOString().slice(0, 10);
  // Decision: the greeting stays the cached generic one (first frame in ms, no per-caller TTS); caller memory
  // personalises the first LLM turn instead ("Welcome them back by name"), which costs nothing on the audio path.
  const conversation = new Conversation(systemPrompt(profile, today, memoryLine));
  conversation.add({ role: 'assistant', content: profile.greeting }, 'greeting');

  const { tts, close: closeTts } = deps.openTts(profile.voiceId);
  const detector = new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES[profile.endpointing], speculate: novaSpeculates(profile) });
  const policy = new EscalationPolicy();
  const turnRecords: { role: 'user' | 'assistant'; text: string; at: number }[] = [];
  const toolsCalled: string[] = [];
  let replyNo = 0;
  let interruptions = 0;
  let current: Reply | undefined;
  /** Held (speculative) reply started on a Flux EagerEndOfTurn or a Nova early endpoint. */
  let speculative: Speculation | undefined;
  const settling = new Map<string, Settled>();
  const heardAtInterrupt = new Map<string, string>();
  let lastUserConfidence = 1;
  let ending: 'escalating' | 'paying' | 'hanging-up' | undefined;
  let escalated = false;
  let failed = false;
  let greetingRecorded = false;

  // Media timeline → wall clock: STT times are seconds of audio sent; the earliest-arriving frame fixes the offset.
  let audioMsSent = 0;
  let wallOffset = Number.POSITIVE_INFINITY;
  const wallOf = (mediaSec: number) => (Number.isFinite(wallOffset) ? mediaSec * 1000 + wallOffset : undefined);

  const audio = new PushQueue<Mulaw>();
  void (async () => {
    try {
      for await (const ev of transport.inbound) {
        if (ev.kind === 'media') {
          wallOffset = Math.min(wallOffset, now() - audioMsSent);
          audioMsSent += ev.audio.length / 8;
          audio.push(ev.audio);
        } else events.push({ kind: 'inbound', ev });
      }
    } catch (err) {
      log.warn({ err: { name: (err as Error)?.name } }, 'inbound stream failed');
    }
    events.push({ kind: 'inbound-ended' });
  })();

  void (async () => {
    try {
      for await (const ev of deps.stt(profile).transcribe(audio, signal)) events.push({ kind: 'stt', ev });
      events.push({ kind: 'stt-ended' });
    } catch (err) {
      events.push({ kind: 'stt-ended', error: err });
    }
  })();

  const ticker = setInterval(() => events.push({ kind: 'tick' }), TICK_MS);
  const onAbort = () => events.push({ kind: 'inbound-ended' });
  signal.addEventListener('abort', onAbort, { once: true });

  const record = (role: 'user' | 'assistant', text: string, extra: { interrupted?: boolean; latency?: Record<string, number>; toolCalls?: { id: string; name: string; arguments: string; ok?: boolean; latencyMs?: number }[]; startedAt?: number } = {}) => {
    if (!text && !extra.toolCalls?.length) return;
    turnRecords.push({ role, text, at: now() });
    recorder?.turn({ role, text, interrupted: extra.interrupted, startedAt: extra.startedAt ?? now(), endedAt: now(), latency: extra.latency, toolCalls: extra.toolCalls });
  };

  const latencyOf = (m: TurnMeasures): Record<string, number> => {
    const out: Record<string, number> = {};
    if (m.voiceToVoiceMs !== undefined) out.voiceToVoice = Math.round(m.voiceToVoiceMs);
    if (m.sttFinalDelayMs !== undefined) out.sttFinalDelay = Math.round(m.sttFinalDelayMs);
    if (m.llmTimeToFirstTokenMs !== undefined) out.llmTimeToFirstToken = Math.round(m.llmTimeToFirstTokenMs);
    if (m.ttsTimeToFirstByteMs !== undefined) out.ttsTimeToFirstByte = Math.round(m.ttsTimeToFirstByteMs);
    return out;
  };

  /** Records a settled reply's assistant turn once its audio has played (or was cut). */
  const maybeRecordAssistant = (s: Settled) => {
    if (s.recorded || playout.pending(s.reply.id)) return;
    s.recorded = true;
    const interrupted = conversation.isInterrupted(s.reply.id);
    if (interrupted) s.reply.measures.interrupted = true;
    observer.turn(s.reply.measures);
    const text = interrupted ? (heardAtInterrupt.get(s.reply.id) ?? '').trim() : s.outcome.spoken;
    record('assistant', text, {
      interrupted: interrupted || undefined,
      startedAt: s.reply.measures.replyStartedAt,
      latency: latencyOf(s.reply.measures),
      toolCalls: s.outcome.toolResults.map((r) => ({ id: r.toolCallId, name: r.name, arguments: r.arguments, ok: r.ok, latencyMs: r.latencyMs })),
    });
    settling.delete(s.reply.id);
    playout.forget(s.reply.id);
  };

  /** Folds a finished reply into the history (cut to the heard text if interrupted) and reports it. */
  /** Drops a held speculative reply; if it already finished generating, its (wasted) spend is reported now. */
  const dropSpeculation = (spec: Speculation) => {
    spec.reply.abort('discarded');
    if (spec.outcome) settle(spec.reply, spec.outcome);
  };

  const settle = (reply: Reply, outcome: ReplyOutcome): Settled | undefined => {
    if (settling.has(reply.id) || (reply as { settled?: boolean }).settled) return settling.get(reply.id);
    (reply as { settled?: boolean }).settled = true;
    if (current === reply) current = undefined;
    const m = reply.measures;
    if (m.firstAudioAt !== undefined && m.speechEndAt !== undefined) m.voiceToVoiceMs = m.firstAudioAt - m.speechEndAt;
    if (m.sttFinalAt !== undefined && m.speechEndAt !== undefined) m.sttFinalDelayMs = m.sttFinalAt - m.speechEndAt;
    const usage = reply.spend();
    observer.usage(usage);
    for (const t of m.tools) observer.toolCall(t.name, t.ms, t.ok);
    // A dropped speculation is reported now; a spoken reply once its audio has played or been cut (interrupted known).
    if (m.discarded) {
      observer.turn(m);
      return undefined;
    }
    for (const msg of outcome.messages) conversation.add(msg, reply.id);
    for (const r of outcome.toolResults) {
      toolsCalled.push(r.name);
      recorder?.toolResult(r);
    }
    const heard = heardAtInterrupt.get(reply.id);
    if (heard !== undefined) conversation.setHeard(reply.id, heard);
    else if (outcome.status !== 'done' && !reply.audible) conversation.setHeard(reply.id, '');
    const s: Settled = { reply, outcome, recorded: false };
    settling.set(reply.id, s);
    maybeRecordAssistant(s);
    return s;
  };

  /** Barge-in: clear Twilio's queue, stop the reply, keep only what was heard. */
  const interrupt = () => {
    const t = now();
    const owners = playout.clear(t);
    interruptions++;
    for (const owner of owners) {
      if (owner === 'greeting') {
        if (!greetingRecorded) {
          greetingRecorded = true;
          conversation.setHeard('greeting', playout.heard('greeting'));
          record('assistant', playout.heard('greeting').trim(), { interrupted: true });
        }
        continue;
      }
      heardAtInterrupt.set(owner, playout.heard(owner));
      const s = settling.get(owner);
      if (s) {
        conversation.setHeard(owner, heardAtInterrupt.get(owner)!);
        maybeRecordAssistant(s);
      }
    }
    if (current) {
      if (!heardAtInterrupt.has(current.id)) heardAtInterrupt.set(current.id, playout.heard(current.id));
      current.abort('interrupted');
    }
  };

  const startReply = (opts: { speculative: boolean; messages: ReturnType<Conversation['messages']>; speechEndAt?: number; sttFinalAt?: number }): Reply => {
    const id = `r${++replyNo}`;
    // Tiered inference + budget guardrail: the model for this reply, and a wrap-up instruction once over COST_CAP_USD.
    const plan = instruments?.planTurn({ messages: opts.messages, toolsOffered: deps.toolDefs(profile.tools).length });
    if (plan) log.debug({ replyId: id, tier: plan.tier, reason: plan.reason }, 'model routed');
    const reply = new Reply(
      {
        callSid: start.callSid,
        callerHash: recorder?.callerHash,
        callerPhone: start.caller,
        llm: deps.llm,
        tts,
        tools: deps.tools,
        model: plan?.model ?? deps.modelFor(profile),
        toolDefs: deps.toolDefs(profile.tools),
        latencyClass: deps.latencyClass,
        filler: () => deps.cache.peek(profile.voiceId, profile.fillers[replyNo % Math.max(1, profile.fillers.length)] ?? ''),
        playout,
        log,
        now,
      },
      id,
      replyNo,
      withSystemInstruction(opts.messages, plan?.instruction),
      { speculative: opts.speculative, callSignal: signal, speechEndAt: opts.speechEndAt, sttFinalAt: opts.sttFinalAt },
    );
    void reply.done.then((outcome) => events.push({ kind: 'reply-done', reply, outcome }));
    return reply;
  };

  /** Says a cached line, waits (bounded) until it has played, then runs `then`. */
  const sayThen = async (phrase: string, owner: string) => {
    try {
      const line = await Promise.race([deps.cache.get(profile.voiceId, phrase), sleep(2000).then(() => undefined)]);
      if (!line || signal.aborted) return;
      playCached(owner, line);
      const limit = now() + Math.min(HANDOFF_PLAY_LIMIT_MS, line.audio.length / 8 + 1500);
      while (playout.pending(owner) && now() < limit && !signal.aborted) await sleep(40);
    } catch (err) {
      log.warn({ err: { name: (err as Error)?.name } }, 'cached line unavailable');
    }
  };

  /** Hands the call to a person: handoff line, summary for the human, `<Dial>` via Twilio REST. */
  const escalate = async (reason: EscalationReason, opts: { apology?: boolean } = {}) => {
    if (ending) return;
    ending = 'escalating';
    escalated = true;
    log.info({ reason }, 'escalating to a human');
    if (current) current.abort('superseded');
    if (speculative) dropSpeculation(speculative);
    speculative = undefined;
    if (opts.apology) await sayThen(profile.apologyLine, 'apology');
    await sayThen(profile.handoffLine, 'handoff');
    const summary = summarizeForHandoff(reason, turnRecords, toolsCalled);
    deps.stores.transcripts.putCall({ callSid: start.callSid, agent: profile.name, callerHash: recorder?.callerHash, startedAt: start.startedAt, summary, escalated: true });
    handoffSummary = summary;
    try {
      await transport.transfer(transferTwiml(config.TRANSFER_NUMBER));
    } catch (err) {
      failed = true;
      log.error({ err: { name: (err as Error)?.name } }, 'transfer failed; hanging up');
      await transport.hangup('transfer failed').catch(() => undefined);
    }
    controller.abort('transferred');
  };
  let handoffSummary: string | undefined;

  const takePayment = async (amount: string) => {
    if (ending) return;
    ending = 'paying';
    await sayThen(profile.paymentLine, 'payment');
    try {
      await transport.transfer(paymentTwiml(config.PUBLIC_URL, amount));
    } catch (err) {
      failed = true;
      log.error({ err: { name: (err as Error)?.name } }, 'payment handoff failed');
    }
    controller.abort('payment');
  };

  /** Provider failure mid-call: apology from cache, then a person (or a clean hang-up if that fails too). */
  const providerFailure = (what: string, err: unknown) => {
    instruments?.providerError(what);
    if (ending) return;
    failed = true;
    log.error({ provider: what, err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'provider failed mid-call');
    void escalate('provider-failure', { apology: true });
  };

  /** The caller's turn is over: start (or confirm) a reply. */
  const userFinished = async (rawText: string, confidence: number, lastWordEnd: number, opts: { dtmf?: boolean } = {}) => {
    if (ending) return;
    const text = forLlm(rawText);
    const sttFinalAt = now();
    const speechEndAt = opts.dtmf ? sttFinalAt : wallOf(lastWordEnd);
    lastUserConfidence = confidence;
    const spec = speculative;
    speculative = undefined;
    if (spec) {
      if (spec.text === rawText.trim() && !ending) {
        // The turn was confirmed with the speculated text: the held reply goes live, its audio leaves at once.
        conversation.addUser(text);
        record('user', text, { startedAt: speechEndAt });
        current = spec.reply;
        spec.reply.release({ speechEndAt, sttFinalAt });
        // Generation may have finished while held: handle its completion now that it is the live reply.
        if (spec.outcome) events.push({ kind: 'reply-done', reply: spec.reply, outcome: spec.outcome });
        return;
      }
      dropSpeculation(spec);
    }
    if (playout.audible(now())) interrupt();
    let merge = false;
    if (current) {
      const prev = current;
      merge = !prev.audible;
      prev.abort(prev.audible ? 'interrupted' : 'superseded');
      settle(prev, await prev.done);
    }
    conversation.addUser(text, { merge });
    record('user', text, { startedAt: speechEndAt });
    const reason = policy.beforeReply(text);
    if (reason) return void escalate(reason);
    current = startReply({ speculative: false, messages: conversation.messages(), speechEndAt, sttFinalAt });
  };

  const onTurnChange = async (change: TurnChange) => {
    switch (change.kind) {
      case 'user-started':
        interrupt();
        return;
      case 'user-finished':
        return userFinished(change.text, change.confidence, change.lastWordEnd);
      case 'speculate': {
        if (ending || current || playout.audible(now())) return;
        if (speculative) dropSpeculation(speculative);
        speculative = undefined;
        const text = forLlm(change.text);
        // A request for a person skips the LLM once confirmed (policy.beforeReply), so it is never speculated either:
        // a released held reply would bypass that check.
        if (policy.beforeReply(text)) return;
        const messages = [...conversation.messages(), { role: 'user' as const, content: text }];
        speculative = { reply: startReply({ speculative: true, messages, speechEndAt: wallOf(change.lastWordEnd), sttFinalAt: now() }), text: change.text.trim(), confidence: change.confidence };
        return;
      }
      case 'speculation-cancelled':
        if (speculative) dropSpeculation(speculative);
        speculative = undefined;
        return;
    }
  };

  let dtmfDigits = '';
  let dtmfTimer: NodeJS.Timeout | undefined;
  const flushDtmf = async () => {
    if (dtmfTimer) clearTimeout(dtmfTimer);
    dtmfTimer = undefined;
    const digits = dtmfDigits;
    dtmfDigits = '';
    if (digits) await userFinished(`[keypad] ${digits}`, 1, 0, { dtmf: true });
  };

  const finishAssistantIfDone = () => {
    for (const s of [...settling.values()]) maybeRecordAssistant(s);
  };

  try {
    for await (const ev of events) {
      if (ev.kind === 'inbound-ended') break;
      switch (ev.kind) {
        case 'inbound': {
          const e = ev.ev;
          if (e.kind === 'stop') break;
          if (e.kind === 'mark') {
            const r = playout.onMark(e.name, now());
            if (r?.finished) {
              if (r.owner === 'greeting' && !greetingRecorded) {
                greetingRecorded = true;
                record('assistant', profile.greeting);
              }
              finishAssistantIfDone();
            }
          } else if (e.kind === 'dtmf') {
            if (e.digit === '#') await flushDtmf();
            else {
              dtmfDigits += e.digit;
              if (dtmfTimer) {
                clearTimeout(dtmfTimer);
                timers.delete(dtmfTimer);
              }
              dtmfTimer = later(DTMF_PAUSE_MS, { kind: 'dtmf-flush' });
            }
          }
          break;
        }
        case 'dtmf-flush':
          await flushDtmf();
          break;
        case 'stt': {
          const t = now();
          if (ev.ev.kind === 'speech-started' && playout.audible(t)) {
            // Exact deadlines for the barge-in rules instead of waiting for the next 50 ms tick.
            later(DEFAULT_BARGE_IN.minSpeechMs + 1, { kind: 'tick' });
            later(DEFAULT_BARGE_IN.maxWaitForTextMs + 1, { kind: 'tick' });
          }
          const change = detector.update(ev.ev, t, playout.audible(t));
          if (change) await onTurnChange(change);
          break;
        }
        case 'tick': {
          const t = now();
          const change = detector.update({ kind: 'tick' }, t, playout.audible(t));
          if (change) await onTurnChange(change);
          break;
        }
        case 'stt-ended':
          if (!signal.aborted && !ending) providerFailure('stt', ev.error ?? new Error('STT stream ended'));
          break;
        case 'reply-done': {
          const { reply, outcome } = ev;
          if (speculative?.reply === reply) {
            // Still held: settled when the turn is confirmed or the caller resumes. A failure waits too: it becomes
            // the live reply's failure (apology, handoff) only if the turn is confirmed with this text.
            speculative.outcome = outcome;
            break;
          }
          const wasCurrent = current === reply;
          const s = settle(reply, outcome);
          if (!wasCurrent || !s) break;
          if (outcome.status === 'failed') {
            providerFailure(outcome.error instanceof Error && /tts|elevenlabs/i.test(outcome.error.message) ? 'tts' : 'llm', outcome.error);
            break;
          }
          if (outcome.status !== 'done') break;
          if (outcome.action) {
            // The handoff/payment line queues behind this reply's audio, so the caller hears both in order.
            const a: ReplyAction = outcome.action;
            if (a.kind === 'transfer') void escalate('tool-requested');
            else void takePayment(a.amount);
            break;
          }
          const reason = policy.afterReply({ confidence: lastUserConfidence, toolFailed: outcome.toolResults.some((r) => !r.ok), agentText: outcome.spoken });
          if (reason) void escalate(reason);
          break;
        }
      }
      if (signal.aborted && ev.kind !== 'reply-done') break;
    }
  } catch (err) {
    failed = true;
    log.error({ err }, 'call loop failed');
  } finally {
    controller.abort('call ended');
    clearInterval(ticker);
    for (const t of timers) clearTimeout(t);
    if (dtmfTimer) clearTimeout(dtmfTimer);
    signal.removeEventListener('abort', onAbort);
    audio.end();
    events.end();
    closeTts();
  }

  // The call is over: settle what is still out (heard = what played before the end), then persist off the audio path.
  if (speculative) {
    speculative.reply.abort('discarded');
    settle(speculative.reply, await speculative.reply.done);
  }
  if (current) {
    const r = current;
    r.abort('call-ended');
    const outcome = await r.done;
    heardAtInterrupt.set(r.id, playout.heard(r.id));
    settle(r, outcome);
  }
  for (const s of [...settling.values()]) {
    if (s.recorded) continue;
    s.recorded = true;
    const heard = playout.heard(s.reply.id).trim();
    const full = heard.replace(/\s+/g, '') === s.outcome.spoken.replace(/\s+/g, '');
    if (!full) s.reply.measures.interrupted = true;
    observer.turn(s.reply.measures);
    record('assistant', full ? s.outcome.spoken : heard, { interrupted: full ? undefined : true, startedAt: s.reply.measures.replyStartedAt, latency: latencyOf(s.reply.measures) });
  }
  const endedAt = now();
  const cost = instruments?.cost({ endedAt, sttSeconds: audioMsSent / 1000 });
  if (recorder) {
    await recorder.finish({ endedAt, escalated, cost, summary: handoffSummary });
  }
  const summary: CallSummary = {
    callSid: start.callSid, agent: profile.name, startedAt: start.startedAt, endedAt, turns: replyNo, interruptions, escalated, failed,
    sttSeconds: audioMsSent / 1000, greetingMs,
  };
  observer.end(summary);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options of {@link createCallHandler}. */
export interface CallHandlerOptions {
  /** Per-call observability (EMF metrics, cost meter, model router). @default {@link logObserver} */
  observerFor?(call: AcceptedCall): CallObserver;
  /** Per-call cost meter, router + guardrail, EMF/Prometheus (observability/instruments.ts `instrumentsFor`). */
  instrumentsFor?(call: AcceptedCall, profile: AgentProfile): CallInstruments;
  /** TranscriptWriteErrors: items the transcript writer gave up on. */
  onTranscriptWriteError?(count: number): void;
  /** Longest boot wait for the phrase cache and warm sockets; calls still work (slower) if it runs out. @default 10000 */
  warmUpTimeoutMs?: number;
}

/**
 * Builds the task's call runtime: stores (Redis session + memory, DynamoDB transcripts), providers (Deepgram STT and
 * ElevenLabs TTS from per-profile warm pools, Groq or an OpenAI-compatible LLM, the tools API client), and the
 * phrase cache warmed with every profile's greeting, fillers and handoff lines. `handle` runs one call.
 */
export async function createCallHandler(config: Config, log: Logger, opts: CallHandlerOptions = {}): Promise<CallRuntime> {
  const stores = await openStores(config, log, { onTranscriptWriteError: opts.onTranscriptWriteError });
  const sttPools = new WarmPools<DeepgramConnection>({ size: config.WARM_POOL_SIZE, log });
  const ttsPools = new WarmPools<TtsConnection>({ size: config.WARM_POOL_SIZE, log });

  const sttByKey = new Map<string, DeepgramStt>();
  const sttOf = (profile: AgentProfile): DeepgramStt => {
    const ep = ENDPOINTING_PROFILES[profile.endpointing];
    const flux = profile.stt.startsWith('flux');
    const speculate = profile.speculate !== false;
    const id = `${profile.stt}:${profile.endpointing}:${speculate}`;
    let stt = sttByKey.get(id);
    if (!stt) {
      stt = createDeepgramStt({
        apiKey: config.DEEPGRAM_API_KEY,
        url: config.DEEPGRAM_URL,
        model: profile.stt,
        // Nova speculation: Deepgram ends segments at the eager window; the detector holds for the full one.
        profile: { endpointingMs: novaSpeculates(profile) ? ep.eagerEndpointingMs : ep.endpointingMs, utteranceEndMs: ep.utteranceEndMs },
        flux: { eotThreshold: ep.eotThreshold, ...(flux && speculate ? { eagerEotThreshold: ep.eagerEotThreshold } : {}) },
        // Card numbers and SSNs are redacted at the source on Nova; Flux only offers `numbers`, which would also hide
        // order numbers and times, so Flux text is redacted by us before it reaches the LLM.
        redact: flux ? [] : deepgramRedactParams(DEFAULT_STT_REDACTION),
        log,
      });
      sttByKey.set(id, stt);
    }
    return stt;
  };
  const ttsByVoice = new Map<string, ElevenLabsTts>();
  const ttsOf = (voiceId: string): ElevenLabsTts => {
    let tts = ttsByVoice.get(voiceId);
    if (!tts) {
      tts = createElevenLabsTts({ apiKey: config.ELEVENLABS_API_KEY, url: config.ELEVENLABS_URL, voiceId, model: config.ELEVENLABS_MODEL, log });
      ttsByVoice.set(voiceId, tts);
    }
    return tts;
  };
  const llm =
    config.LLM_PROVIDER === 'groq'
      ? createGroqLlm({ apiKey: config.GROQ_API_KEY!, baseURL: config.GROQ_BASE_URL, log })
      : createOpenAiCompatibleLlm({ apiKey: config.LLM_API_KEY!, baseURL: config.LLM_BASE_URL!, log });
  const tools = createToolClient({ baseUrl: config.TOOLS_URL, auth: config.TOOLS_AUTH, region: config.AWS_REGION, log });
  // Fail at boot, not mid-call, if a profile names a tool the catalog does not have.
  for (const p of Object.values(AGENTS)) toolsFor(p.tools);
  const toolDefsByAgent = new Map<string, LlmTool[]>();
  const cache = new AudioCache({
    synth: async (voiceId, text, signal) => ({ audio: await ttsOf(voiceId).synthesizeOnce(text, signal) }),
    log,
  });

  // Warm at boot: every profile's phrases, and sockets for the Nova profiles (a Flux socket is kept alive with
  // silence that Deepgram bills as audio, so Flux pools fill on first use instead).
  const profiles = [...new Map(Object.values(AGENTS).map((p) => [p.name, p])).values()];
  for (const p of profiles) {
    if (!p.stt.startsWith('flux')) {
      const stt = sttOf(p);
      sttPools.pool(stt.key, (s) => stt.connect(s));
    }
    const tts = ttsOf(p.voiceId);
    ttsPools.pool(tts.key, (s) => tts.connect(s));
  }
  const warmTimeout = opts.warmUpTimeoutMs ?? 10_000;
  await Promise.race([cache.warm(profiles), sleep(warmTimeout)]);

  const deps: CallDeps = {
    config,
    stt: (profile) => {
      const stt = sttOf(profile);
      return {
        transcribe: (audio, signal) =>
          (async function* () {
            const conn = await sttPools.acquire(stt.key, (s) => stt.connect(s));
            try {
              yield* conn.transcribe(audio, signal);
            } finally {
              conn.close();
            }
          })(),
      };
    },
    llm,
    modelFor: (p) => (p.llm === 'large' ? config.LLM_MODEL_LARGE : config.LLM_MODEL_SMALL),
    openTts: (voiceId) => {
      const t = ttsOf(voiceId);
      const conn = ttsPools.acquire(t.key, (s) => t.connect(s));
      conn.catch(() => undefined);
      return {
        tts: {
          synthesize: (text, signal) =>
            (async function* () {
              yield* (await conn).synthesize(text, signal);
            })(),
        },
        close: () => void conn.then((c) => c.close(), () => undefined),
      };
    },
    tools,
    toolDefs: (names) => {
      const key = names.join(',');
      let defs = toolDefsByAgent.get(key);
      if (!defs) toolDefsByAgent.set(key, (defs = toolsFor(names)));
      return defs;
    },
    latencyClass: (name) => contractFor(name)?.latencyClass ?? 'slow',
    cache,
    stores,
    observerFor: opts.observerFor,
    instrumentsFor: opts.instrumentsFor,
  };

  return {
    async handle(call) {
      try {
        await runCall(call, deps);
      } catch (err) {
        // runCall catches per call; this is the last line so one call's bug never reaches the server.
        call.log.error({ err }, 'call failed');
      }
    },
    agentFor: (calledNumber) => agentForNumber(calledNumber, config.DEFAULT_AGENT),
    async close() {
      sttPools.close();
      ttsPools.close();
      tools.close();
      await stores.close();
    },
  };
}
