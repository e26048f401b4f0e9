// What Twilio puts on the wire toward an app: the signed incoming-call webhook, TwiML parsing, and Media Streams messages.
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';

/** A Twilio SID: two-letter prefix + 32 hex digits (CA call, MZ stream, AC account). */
export function newSid(prefix: 'CA' | 'MZ' | 'AC'): string {
  return prefix + randomBytes(16).toString('hex');
}

/** `X-Twilio-Signature` for a request to `url` with form `params` (twilio@6 getExpectedTwilioSignature: HMAC-SHA1). */
export function twilioSignature(authToken: string, url: string, params: Record<string, string> = {}): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

/** The Stream Twilio would open after `<Connect><Stream>`. */
export interface StreamInstruction {
  /** The `<Stream url>` with any query string and fragment dropped (Twilio does not pass them). */
  url: string;
  /** `<Parameter name value>` pairs, which arrive as `start.customParameters`. */
  parameters: Record<string, string>;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (all, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? all;
  });
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) out[m[1]!] = decodeXml(m[2] ?? m[3] ?? '');
  return out;
}

/**
 * Reads `<Response><Connect><Stream url>` and its `<Parameter>`s from TwiML. Anything else (`<Reject>`, `<Say>` only,
 * a unidirectional `<Start><Stream>`) is not a bidirectional stream and throws, quoting the verbs found.
 */
export function parseConnectStream(twiml: string): StreamInstruction {
  const connect = /<Connect\b[^>]*>([\s\S]*?)<\/Connect>/.exec(twiml);
  const stream = connect ? /<Stream\b([^>]*?)(\/>|>([\s\S]*?)<\/Stream>)/.exec(connect[1]!) : null;
  if (!stream) {
    const verbs = [...twiml.matchAll(/<([A-Z]\w*)\b/g)].map((m) => m[1]).filter((v) => v !== 'Response');
    throw new Error(`TwiML has no <Connect><Stream> (found: ${verbs.join(', ') || 'nothing'})`);
  }
  const url = attributes(stream[1]!).url;
  if (!url) throw new Error('TwiML <Stream> has no url attribute');
  const parsed = new URL(url);
  if (parsed.protocol !== 'wss:' && parsed.protocol !== 'ws:') throw new Error(`TwiML <Stream url> must be wss:// (got ${parsed.protocol})`);
  parsed.search = '';
  parsed.hash = '';
  const parameters: Record<string, string> = {};
  for (const p of (stream[3] ?? '').matchAll(/<Parameter\b([^>]*?)\/?>/g)) {
    const a = attributes(p[1]!);
    if (a.name !== undefined) parameters[a.name] = a.value ?? '';
  }
  return { url: parsed.toString(), parameters };
}

/** The incoming-call webhook's form params (Twilio voice webhook, protocols.md §1.6). */
export interface IncomingCallParams {
  CallSid: string;
  AccountSid: string;
  From: string;
  To: string;
  CallStatus: 'ringing';
  ApiVersion: '2010-04-01';
  Direction: 'inbound';
  [extra: string]: string;
}

/**
 * POSTs the incoming-call webhook as Twilio does (form-encoded, `X-Twilio-Signature` over the URL + sorted params)
 * and returns the TwiML's stream. A non-2xx answer throws with the status and the start of the body.
 */
export async function fetchStreamTwiml(
  twimlUrl: string,
  params: IncomingCallParams,
  authToken: string | undefined,
  signal?: AbortSignal,
): Promise<StreamInstruction & { twiml: string }> {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'text/xml, application/xml',
    'user-agent': 'TwilioProxy/1.1',
  };
  if (authToken) headers['x-twilio-signature'] = twilioSignature(authToken, twimlUrl, params);
  const res = await fetch(twimlUrl, { method: 'POST', headers, body: new URLSearchParams(params).toString(), signal });
  const twiml = await res.text();
  if (!res.ok) throw new Error(`TwiML webhook ${twimlUrl} answered ${res.status}: ${twiml.slice(0, 200)}`);
  return { ...parseConnectStream(twiml), twiml };
}

/** Media Streams messages Twilio sends (protocols.md §1.2); numbers on the wire are strings except mediaFormat. */
export const wire = {
  connected: () => ({ event: 'connected', protocol: 'Call', version: '1.0.0' }),
  start: (seq: number, s: { accountSid: string; streamSid: string; callSid: string; customParameters: Record<string, string> }) => ({
    event: 'start',
    sequenceNumber: String(seq),
    start: {
      accountSid: s.accountSid,
      streamSid: s.streamSid,
      callSid: s.callSid,
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: s.customParameters,
    },
    streamSid: s.streamSid,
  }),
  /** `chunk` counts from 1; `timestamp` is the frame's presentation time in ms from the stream start. */
  media: (seq: number, streamSid: string, chunk: number, timestamp: number, payload: Uint8Array) => ({
    event: 'media',
    sequenceNumber: String(seq),
    media: { track: 'inbound', chunk: String(chunk), timestamp: String(timestamp), payload: Buffer.from(payload).toString('base64') },
    streamSid,
  }),
  /** `dtmf.track` is always `inbound_track` (not `inbound`). */
  dtmf: (seq: number, streamSid: string, digit: string) => ({
    event: 'dtmf',
    streamSid,
    sequenceNumber: String(seq),
    dtmf: { track: 'inbound_track', digit },
  }),
  mark: (seq: number, streamSid: string, name: string) => ({ event: 'mark', sequenceNumber: String(seq), streamSid, mark: { name } }),
  stop: (seq: number, s: { accountSid: string; callSid: string; streamSid: string }) => ({
    event: 'stop',
    sequenceNumber: String(seq),
    stop: { accountSid: s.accountSid, callSid: s.callSid },
    streamSid: s.streamSid,
  }),
};
