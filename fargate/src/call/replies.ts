// Starts the replies of one call: the model the router picks, the call's TTS socket, tools, fillers and playout.
import type { AgentProfile } from '../agents';
import type { CallInstruments } from '../observability/instruments';
import type { Logger } from '../observability/logger';
import { withSystemInstruction } from '../observability/router';
import type { ChatMessage, TextToSpeech } from '../providers/types';
import { Reply } from './reply';
import type { CallDeps } from './deps';
import type { Playout } from './playout';

export interface ReplyStarterDeps {
  deps: CallDeps;
  profile: AgentProfile;
  callSid: string;
  caller?: string;
  /** Known once the call recorder is open. */
  callerHash(): string | undefined;
  tts: TextToSpeech;
  playout: Playout;
  instruments?: CallInstruments;
  signal: AbortSignal;
  log: Logger;
  now: () => number;
  /** The budget guardrail fired for this reply (the running cost passed COST_CAP_USD). */
  overBudget?(runningUsd: number): void;
}

/** Builds reply number `n` for `messages`; speculative replies hold their audio until released. */
export function startReply(d: ReplyStarterDeps, n: number, opts: { speculative: boolean; messages: ChatMessage[]; speechEndAt?: number }): Reply {
  const { deps, profile } = d;
  const toolDefs = deps.toolDefs(profile.tools);
  // Tiered inference + budget guardrail: the model for this reply, and a wrap-up instruction once over COST_CAP_USD.
  const plan = d.instruments?.planTurn({ messages: opts.messages, toolsOffered: toolDefs.length });
  if (plan?.instruction) d.overBudget?.(plan.runningUsd);
  return new Reply(
    {
      callSid: d.callSid, callerHash: d.callerHash(), callerPhone: d.caller, llm: deps.llm, tts: d.tts, tools: deps.tools,
      model: plan?.model ?? deps.modelFor(profile), toolDefs, latencyClass: deps.latencyClass,
      filler: () => deps.cache.peek(profile.voiceId, profile.fillers[n % Math.max(1, profile.fillers.length)] ?? ''),
      playout: d.playout, log: d.log, now: d.now, hiddenReasoningTokens: deps.hiddenReasoningTokens?.(profile),
    },
    `r${n}`, n, withSystemInstruction(opts.messages, plan?.instruction),
    { speculative: opts.speculative, callSignal: d.signal, speechEndAt: opts.speechEndAt, sttFinalAt: d.now() },
  );
}
