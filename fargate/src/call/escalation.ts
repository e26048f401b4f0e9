// When and how a call leaves the agent: the escalation policy, the transfer/payment tools, their TwiML, and the summary for the human.
import type { TurnRecord } from './conversation';
import type { Config } from '../config';
import { payActionUrl } from '../telephony/pay';
import { dialTwiml, payTwiml } from '../telephony/twiml';
import { takePaymentContract, transferToHumanContract } from '../tools/escalation-contracts';

/** Why a call went to a person. */
export type EscalationReason =
  | 'asked-for-human' | 'repeated-failures' | 'low-confidence' | 'tool-requested' | 'provider-failure'
  /** Caller frustration reached the profile's `review.frustrationEscalateAt` (call/flags.ts). */
  | 'frustration'
  /** An operator took the call over from the console. */
  | 'operator';

export interface EscalationPolicyOptions {
  /** Failed turns in a row (tool failure, "didn't catch that", or low STT confidence) before handing off. @default 3 */
  maxFailedTurns: number;
  /** A final transcript under this mean word confidence counts as a failed turn. @default 0.45 */
  minConfidence: number;
}

/** A caller asking for a person, in the ways people say it on the phone. */
const ASKS_FOR_HUMAN =
  /\b(?:(?:speak|talk|chat)\s+(?:to|with)|connect\s+me(?:\s+(?:to|with))?|transfer\s+me(?:\s+to)?|put\s+me\s+through(?:\s+to)?|get\s+me|i\s+(?:want|need)|can\s+i\s+(?:have|get))\s+(?:a\s+|an\s+|the\s+|some\s*one\s*|somebody\s*)?(?:real\s+|live\s+|actual\s+)?(?:human|person|agent|representative|operator|someone|somebody|manager|staff)\b|^\s*(?:human|representative|operator|agent)[\s.!?]*$/i;

/** The agent admitting it did not understand (the LLM's fallback lines). */
const DID_NOT_UNDERSTAND = /\b(?:sorry|pardon|apologi[sz]e)\b[^.?!]*\b(?:say\s+that\s+again|repeat|didn'?t\s+(?:catch|understand|get)|not\s+sure\s+what\s+you|understand)\b|\bcould\s+you\s+(?:say|repeat)\s+that\b/i;

/** True when the caller is asking for a person ("can I talk to a human", "representative"). */
export function asksForHuman(text: string): boolean {
  return ASKS_FOR_HUMAN.test(text);
}

/** True when the agent's words say it did not understand the caller. */
export function didNotUnderstand(agentText: string): boolean {
  return DID_NOT_UNDERSTAND.test(agentText);
}

/** What happened in one completed turn, as the policy sees it. */
export interface TurnOutcome {
  /** Mean STT confidence of the caller's words. */
  confidence: number;
  /** Some tool call of the reply failed (its result had ok: false). */
  toolFailed: boolean;
  /** What the agent said. */
  agentText: string;
  /** Caller frustration is at the profile's escalation threshold (call/flags.ts `ReviewFlags.frustrated`). */
  frustrated?: boolean;
}

/**
 * The escalation policy of one call (pure; no I/O). {@link EscalationPolicy.beforeReply} checks the caller's words
 * (a request for a person skips the LLM); {@link EscalationPolicy.afterReply} counts failed turns in a row.
 */
export class EscalationPolicy {
  private readonly o: EscalationPolicyOptions;
  private failedInRow = 0;
  private lowConfidenceInRow = 0;

  constructor(options: Partial<EscalationPolicyOptions> = {}) {
    this.o = { maxFailedTurns: 3, minConfidence: 0.45, ...options };
  }

  /** Called with the caller's final transcript; returns a reason to hand off now, before any LLM call. */
  beforeReply(text: string): EscalationReason | undefined {
    return asksForHuman(text) ? 'asked-for-human' : undefined;
  }

  /**
   * Called after the agent answered; returns a reason when the call keeps failing, or when the caller's frustration
   * reached the profile's threshold (the seed's fallback routing: a frustrated caller goes to a person, after the
   * agent's answer to that turn, with the handoff line queued behind it).
   */
  afterReply(outcome: TurnOutcome): EscalationReason | undefined {
    if (outcome.frustrated) return 'frustration';
    const low = outcome.confidence < this.o.minConfidence;
    const failed = low || outcome.toolFailed || didNotUnderstand(outcome.agentText);
    this.failedInRow = failed ? this.failedInRow + 1 : 0;
    this.lowConfidenceInRow = low ? this.lowConfidenceInRow + 1 : 0;
    if (this.failedInRow < this.o.maxFailedTurns) return undefined;
    return this.lowConfidenceInRow >= this.o.maxFailedTurns ? 'low-confidence' : 'repeated-failures';
  }
}

/** Tool the LLM calls to hand the caller to a person. Handled by the pipeline itself, never by the tools API. */
export const TRANSFER_TOOL = transferToHumanContract.name;
/** Tool the LLM calls to take a card payment; the pipeline hands the call to Twilio <Pay>. */
export const PAYMENT_TOOL = takePaymentContract.name;

/**
 * Parses `take_payment` arguments against the catalog contract (tools/escalation-contracts.ts); the amount comes back
 * as the decimal string <Pay> wants ("25.00"). Undefined when the model sent something unusable.
 */
export function parsePaymentArgs(json: string): { amount: string; description: string } | undefined {
  try {
    const r = takePaymentContract.input.safeParse(JSON.parse(json));
    return r.success ? { amount: r.data.amount.toFixed(2), description: r.data.description } : undefined;
  } catch {
    return undefined;
  }
}

/** `<Dial>` TwiML that hands the live call to `transferNumber` (protocols.md §1.7). */
export function transferTwiml(transferNumber: string): string {
  return dialTwiml(transferNumber, { timeout: 20 });
}

/**
 * `<Pay>` TwiML (protocols.md §1.8) with its action on our public URL, carrying a token that binds the call and the
 * amount (telephony/pay.ts), so `/pay-result` trusts nothing the request itself says. Twilio collects the card by
 * DTMF, so the digits never reach STT, the LLM, the logs or the transcript.
 */
export function paymentTwiml(config: Pick<Config, 'PUBLIC_URL' | 'STREAM_TOKEN_KEY'>, callSid: string, amount: string): string {
  const action = payActionUrl(config.PUBLIC_URL, config.STREAM_TOKEN_KEY, { callSid, amount });
  return payTwiml({ action, chargeAmount: amount, prompt: 'Please enter your card number on the keypad, then press pound.' });
}

/**
 * A short summary for the person taking over: why, what the caller asked, what the agent did. Built from the
 * (already redacted) transcript, no LLM call, so it is ready the moment the transfer starts.
 */
export function summarizeForHandoff(reason: EscalationReason, turns: TurnRecord[], toolsCalled: string[]): string {
  const said = turns.filter((t) => t.role === 'user').slice(-3).map((t) => t.text);
  const last = turns.filter((t) => t.role === 'assistant').slice(-1)[0]?.text;
  const parts = [`Escalated: ${reason}.`];
  if (said.length) parts.push(`Caller said: ${said.map((s) => `"${s}"`).join(' / ')}.`);
  if (toolsCalled.length) parts.push(`Tools used: ${[...new Set(toolsCalled)].join(', ')}.`);
  if (last) parts.push(`Agent last said: "${last}".`);
  return parts.join(' ').slice(0, 1000);
}
