// A live call handed from one media stream to the next: to another task when this one must go (deploy, scale-in),
// or back to the agent after Twilio <Pay>. The state rides in Redis, written once and taken once.
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import type { TurnRecord } from './conversation';
import type { ChatMessage } from '../providers/types';
import { streamTwiml } from '../telephony/twiml';

/** Why the call moved. */
export type HandoverReason = 'migrate' | 'pay';

/** Everything the next stream needs to go on with the same conversation, transcript and cost. */
export interface Handover {
  v: 1;
  callSid: string;
  agent: string;
  reason: HandoverReason;
  /** The call's first `start` (epoch ms): duration and cost run from here. */
  startedAt: number;
  /** The LLM's system prompt and history, as heard. */
  system: string;
  history: ChatMessage[];
  /** Recording: heard turns (for the handoff summary), tools called, reply and interruption counts. */
  turns: TurnRecord[];
  toolsCalled: string[];
  replies: number;
  interruptions: number;
  /** Seconds of caller audio already sent to the STT. */
  sttSeconds: number;
  /** The call recorder's own state (transcript turn numbers, what caller memory will keep). */
  recorder?: unknown;
  /** The cost meter's usage so far. */
  usage?: unknown;
}

/** A <Pay> can take minutes; a migration seconds. After this the state is gone and the next stream starts afresh. */
const HANDOVER_TTL_SECONDS = 900;
const key = (callSid: string) => `va:handover:${callSid}`;

/** Writes the handover; rejects if Redis does (the caller then keeps the call where it is). */
export async function saveHandover(redis: Pick<Redis, 'set'>, h: Handover): Promise<void> {
  await redis.set(key(h.callSid), JSON.stringify(h), 'EX', HANDOVER_TTL_SECONDS);
}

/** Takes the handover for `callSid` (GETDEL: a second stream for the same call cannot take it again). */
export async function takeHandover(redis: Pick<Redis, 'getdel'>, callSid: string): Promise<Handover | undefined> {
  const raw = await redis.getdel(key(callSid));
  if (!raw) return undefined;
  const h = JSON.parse(raw) as Handover;
  return h.v === 1 && h.callSid === callSid ? h : undefined;
}

/**
 * A stream start carries a handover when the TwiML that opened it said so: `resume` (a migration, or `/pay-result`
 * after <Pay>), a Parameter the stream token's MAC covers, so no caller can add it.
 */
export function expectsHandover(customParameters: Record<string, string>): boolean {
  return customParameters.resume === 'true';
}

/**
 * TwiML that reconnects the live call to the service (`<Connect><Stream>` on PUBLIC_URL's /media, with a fresh
 * single-use stream token), so the load balancer lands it on a healthy task, which takes the handover.
 */
export function resumeTwiml(config: Config, c: { callSid: string; caller: string; agent: string }): string {
  return streamTwiml(config, { ...c, extra: { resume: 'true' } });
}
