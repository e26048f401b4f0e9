// The operations console's wire contract, shared by the media service, the console Lambdas and the local stand-in:
// what a console may send ($default route), what it is sent (PostToConnection payloads), and the Redis pub/sub command
// that carries an operator's action to the task holding the call.
import { z } from 'zod';

const callSid = z.string().regex(/^CA[0-9a-f]{32}$/i, 'a Twilio call SID');
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'an E.164 phone number');

/** What an operator's console sends on the WebSocket API's $default route. `id` comes back in the ack. */
export const operatorActionSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('take-over'), id: z.string().min(1).max(64), callSid, to: e164 }),
  z.object({ action: z.literal('hang-up'), id: z.string().min(1).max(64), callSid }),
  z.object({ action: z.literal('whisper'), id: z.string().min(1).max(64), callSid, text: z.string().min(1).max(500) }),
]);
export type OperatorAction = z.infer<typeof operatorActionSchema>;

/** The Redis pub/sub message on `operatorChannel(callSid)`: the action plus who asked, from which connection. */
export const operatorCommandSchema = z.object({
  action: operatorActionSchema,
  /** The operator's IAM principal ARN (from the $connect request context; "local" on the laptop stand-in). */
  by: z.string().min(1),
  connectionId: z.string().min(1),
  at: z.number().int(),
});
export type OperatorCommand = z.infer<typeof operatorCommandSchema>;

/** The per-call Redis pub/sub channel the task holding the call subscribes to. */
export const operatorChannel = (sid: string): string => `va:operator:${sid}`;

/** Per-stage latency of one reply (ms), the console's waterfall bars. */
export const waterfallSchema = z.object({
  sttFinalDelayMs: z.number().optional(),
  llmTimeToFirstTokenMs: z.number().optional(),
  ttsTimeToFirstByteMs: z.number().optional(),
  voiceToVoiceMs: z.number().optional(),
});

/** Why a call was flagged for human review, with the action the agent recommends. */
export const flagSchema = z.object({
  kind: z.enum(['frustration', 'low-confidence', 'tool-failures', 'guardrail']),
  detail: z.string(),
  recommended: z.enum(['take-over', 'whisper', 'review-after']),
});
export type CallFlag = z.infer<typeof flagSchema>;

/**
 * What a console is sent; each PostToConnection carries a JSON array of these (batched). Events that carry caller or
 * agent words (`turn`) go only to connections authorized for transcripts; the others get `turn` without text.
 */
export const consoleEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('call-started'), callSid, agent: z.string(), caller: z.string(), at: z.number() }),
  z.object({
    type: z.literal('turn'), callSid, turn: z.number().int(), at: z.number(),
    caller: z.string().optional(), agent: z.string().optional(), interrupted: z.boolean(), waterfall: waterfallSchema,
  }),
  z.object({ type: z.literal('tool'), callSid, name: z.string(), ms: z.number(), ok: z.boolean(), at: z.number() }),
  z.object({ type: z.literal('cost'), callSid, usd: z.number(), at: z.number() }),
  z.object({ type: z.literal('flag'), callSid, flag: flagSchema, at: z.number() }),
  z.object({ type: z.literal('escalation'), callSid, reason: z.string(), at: z.number() }),
  z.object({ type: z.literal('operator-action'), callSid, action: z.string(), by: z.string(), ok: z.boolean(), at: z.number() }),
  z.object({ type: z.literal('call-ended'), callSid, at: z.number(), escalated: z.boolean() }),
  z.object({ type: z.literal('ack'), id: z.string(), ok: z.boolean(), error: z.string().optional() }),
]);
export type ConsoleEvent = z.infer<typeof consoleEventSchema>;

/** A row of the console connections table (pk `connectionId`, TTL attribute `expiresAt`, epoch seconds). */
export interface ConsoleConnection {
  connectionId: string;
  principal: string;
  /** May this connection read caller and agent words? Set at $connect from the stage's transcript readers. */
  transcripts: boolean;
  connectedAt: number;
  expiresAt: number;
}

/** Where a call's events go, per call: the media service implements it with PostToConnection, batched, off the audio path. */
export interface LiveFeed {
  publish(e: ConsoleEvent): void;
}
