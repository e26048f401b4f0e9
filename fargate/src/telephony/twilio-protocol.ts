// Pure translator for Twilio Media Streams (bidirectional) messages: JSON text in → typed events, typed events → JSON text out.
import { z } from 'zod';
import type { InboundEvent, Mulaw } from '../providers/types';

// Twilio sends sequenceNumber, chunk and timestamp as strings of digits (docs: websocket-messages); numbers are
// accepted too so a lenient peer still parses, but anything else is malformed.
const counter = z.union([z.string().regex(/^\d{1,15}$/), z.number().int().nonnegative()]).transform(Number);
// Optional fields we never act on: a malformed one is read as absent instead of failing the whole message, so a
// live call never loses a frame (or the call) over bookkeeping.
const optionalCounter = counter.optional().catch(undefined);

// Standard base64 with padding, as Twilio encodes media.payload. Buffer.from(…, 'base64') silently skips junk,
// so the shape is checked first; empty payloads are allowed (they decode to no audio).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const connected = z.object({ event: z.literal('connected'), protocol: z.string(), version: z.string() });

const start = z.object({
  event: z.literal('start'),
  sequenceNumber: optionalCounter,
  streamSid: z.string().min(1),
  start: z.object({
    accountSid: z.string().min(1),
    streamSid: z.string().min(1),
    callSid: z.string().min(1),
    tracks: z.array(z.string()).default(['inbound']),
    mediaFormat: z.object({ encoding: z.string(), sampleRate: z.number(), channels: z.number() }),
    customParameters: z.record(z.string(), z.string()).default({}),
  }),
});

const media = z.object({
  event: z.literal('media'),
  sequenceNumber: optionalCounter,
  streamSid: z.string().min(1),
  media: z.object({
    track: z.string().default('inbound').catch('inbound'),
    chunk: optionalCounter,
    timestamp: counter,
    payload: z.string().regex(BASE64, 'media.payload is not base64'),
  }),
});

const dtmf = z.object({
  event: z.literal('dtmf'),
  sequenceNumber: optionalCounter,
  streamSid: z.string().min(1),
  dtmf: z.object({ track: z.string().optional().catch(undefined), digit: z.string().regex(/^[0-9*#A-D]$/, 'dtmf.digit must be one key') }),
});

const mark = z.object({
  event: z.literal('mark'),
  sequenceNumber: optionalCounter,
  streamSid: z.string().min(1),
  mark: z.object({ name: z.string() }),
});

const stop = z.object({
  event: z.literal('stop'),
  sequenceNumber: optionalCounter,
  streamSid: z.string().min(1),
  stop: z.object({ accountSid: z.string(), callSid: z.string() }).partial().optional().catch(undefined),
});

/** The schema of each Twilio → server event (the reference the media fast path is tested against). */
export const TWILIO_SCHEMAS = { connected, start, media, dtmf, mark, stop } as const;

/** A Twilio → server message after validation; media payloads are still base64 (decode with {@link toInboundEvent}). */
export type TwilioInbound =
  | z.output<typeof connected>
  | z.output<typeof start>
  | z.output<typeof media>
  | z.output<typeof dtmf>
  | z.output<typeof mark>
  | z.output<typeof stop>;

/** A validated `start` message (ids, tracks, media format, custom parameters). */
export type TwilioStart = z.output<typeof start>;

/**
 * Outcome of parsing one text frame:
 * - `message`: a known event that matched its schema;
 * - `unknown`: valid JSON with an `event` we do not know (Twilio may add events; callers log and ignore);
 * - `invalid-json` / `invalid-message`: the frame is broken; `detail` names the problem without echoing content.
 */
export type ParseResult =
  | { kind: 'message'; message: TwilioInbound }
  | { kind: 'unknown'; event: string }
  | { kind: 'invalid-json'; detail: string }
  | { kind: 'invalid-message'; event: string; detail: string };

/**
 * A media frame exactly as Twilio writes it: compact JSON in its key order (the websocket-messages docs' example;
 * frames logged off real Twilio streams read the same), with values that need no JSON unescaping. It is 50 frames a
 * second per call, so it is read without JSON.parse or zod; anything else, in any other form, goes through the
 * schema (the same outcome: a property test pins the two together).
 */
const WIRE_MEDIA =
  /^\{"event":"media","sequenceNumber":"(\d{1,15})","media":\{"track":"([a-z_]{1,32})","chunk":"(\d{1,15})","timestamp":"(\d{1,15})","payload":"([A-Za-z0-9+/]*={0,2})"\},"streamSid":"([A-Za-z0-9]{1,64})"\}$/;

/** Parses one Twilio → server text frame. Never throws. */
export function parseTwilioMessage(text: string): ParseResult {
  const wire = WIRE_MEDIA.exec(text);
  // The payload's characters are base64's and padding comes last; a length in fours makes it BASE64's exact shape.
  if (wire && wire[5]!.length % 4 === 0) {
    const [, seq, track, chunk, timestamp, payload, streamSid] = wire;
    const media = { track: track!, chunk: Number(chunk), timestamp: Number(timestamp), payload: payload! };
    return { kind: 'message', message: { event: 'media', sequenceNumber: Number(seq), streamSid: streamSid!, media } };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'invalid-json', detail: 'frame is not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { kind: 'invalid-json', detail: 'frame is not a JSON object' };
  const event = (raw as { event?: unknown }).event;
  if (typeof event !== 'string') return { kind: 'invalid-message', event: '(none)', detail: 'missing "event"' };
  if (!Object.hasOwn(TWILIO_SCHEMAS, event)) return { kind: 'unknown', event: event.slice(0, 40) };
  const parsed = TWILIO_SCHEMAS[event as keyof typeof TWILIO_SCHEMAS].safeParse(raw);
  if (!parsed.success) {
    // Paths and zod messages only: values (audio, digits, parameters) never reach the log.
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return { kind: 'invalid-message', event, detail };
  }
  return { kind: 'message', message: parsed.data as TwilioInbound };
}

/** Maps a parsed media/dtmf/mark/stop message to the transport's InboundEvent (decoding audio); else undefined. */
export function toInboundEvent(msg: TwilioInbound): InboundEvent | undefined {
  switch (msg.event) {
    case 'media':
      return { kind: 'media', audio: decodePayload(msg.media.payload), timestampMs: msg.media.timestamp };
    case 'dtmf':
      return { kind: 'dtmf', digit: msg.dtmf.digit };
    case 'mark':
      return { kind: 'mark', name: msg.mark.name };
    case 'stop':
      return { kind: 'stop' };
    default:
      return undefined;
  }
}

function decodePayload(b64: string): Mulaw {
  const buf = Buffer.from(b64, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Outbound `media`: μ-law bytes, base64, no file header (Twilio plays them in order, any size). Written by hand, as
 * base64 needs no JSON escaping: JSON.stringify of the object cost 4× the concatenation, 50 times a second per call.
 */
export function mediaMessage(streamSid: string, audio: Mulaw): string {
  const payload = Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength).toString('base64');
  return `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"${payload}"}}`;
}

/** Outbound `mark`: Twilio echoes it once the audio queued before it has played, or at once on `clear`. */
export function markMessage(streamSid: string, name: string): string {
  return JSON.stringify({ event: 'mark', streamSid, mark: { name } });
}

/** Outbound `clear`: Twilio drops its buffered audio and echoes every pending mark. */
export function clearMessage(streamSid: string): string {
  return JSON.stringify({ event: 'clear', streamSid });
}
