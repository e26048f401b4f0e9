// TwiML the media service answers with or pushes to a live call: <Connect><Stream>, <Dial>, <Pay> (twilio's VoiceResponse).
import twilio from 'twilio';
import type { Config } from '../config';
import { signStreamToken, type StreamTokenClaims } from './stream-token';

const { VoiceResponse } = twilio.twiml;

/**
 * `<Connect><Stream url>` with one `<Parameter>` per entry. Twilio ignores query strings on the Stream URL, so
 * everything the stream needs (agent, caller, token) rides as Parameters and arrives in `start.customParameters`.
 * `<Connect>` makes the stream bidirectional and blocks later TwiML until our side closes the socket.
 */
export function connectStreamTwiml(streamUrl: string, parameters: Record<string, string>): string {
  if (new URL(streamUrl).search) throw new Error('Stream url must not carry a query string (Twilio drops it); use parameters');
  const r = new VoiceResponse();
  const stream = r.connect().stream({ url: streamUrl });
  for (const [name, value] of Object.entries(parameters)) stream.parameter({ name, value });
  return r.toString();
}

/** Options for {@link dialTwiml}. */
export interface DialOptions {
  /** Said before dialing. @default none */
  say?: string;
  /** Caller ID shown to the human (must be a Twilio number of the account). @default Twilio's default */
  callerId?: string;
  /** Seconds to ring. @default 20 */
  timeout?: number;
}

/** `<Dial><Number>` for handing a live call to a human via `transport.transfer()`. */
export function dialTwiml(number: string, opts: DialOptions = {}): string {
  const r = new VoiceResponse();
  if (opts.say) r.say(opts.say);
  r.dial({ timeout: opts.timeout ?? 20, ...(opts.callerId ? { callerId: opts.callerId } : {}) }).number(number);
  return r.toString();
}

/** Options for {@link payTwiml}. */
export interface PayOptions {
  /** Where Twilio POSTs the outcome; it must be https and answer with TwiML (e.g. a fresh stream). */
  action: string;
  /** Amount as a decimal string, e.g. "10.00"; absent or "0" tokenizes instead of charging. */
  chargeAmount?: string;
  /** @default "usd" */
  currency?: string;
  /** @default "Default" */
  paymentConnector?: string;
  /** Said before the card prompt. @default none */
  prompt?: string;
}

/**
 * `<Pay>`: Twilio collects the card by DTMF itself, so card digits never pass through STT, the LLM or our logs
 * (PCI scope stays with Twilio). The stream ends when this replaces the call's TwiML.
 */
export function payTwiml(opts: PayOptions): string {
  const r = new VoiceResponse();
  const pay = r.pay({
    input: 'dtmf',
    action: opts.action,
    paymentConnector: opts.paymentConnector ?? 'Default',
    currency: opts.currency ?? 'usd',
    ...(opts.chargeAmount ? { chargeAmount: opts.chargeAmount } : {}),
  });
  if (opts.prompt) pay.prompt({ for: 'payment-card-number' }).say(opts.prompt);
  return r.toString();
}

/**
 * `scheme://host[:port]` of PUBLIC_URL exactly as written. Twilio computes X-Twilio-Signature over the URL as it was
 * configured, and `new URL()` would lowercase the host (WHATWG URL host parsing), so capitals in an ALB DNS name
 * ("Voice-Alb-123.us-east-1.elb.amazonaws.com") would fail every signature.
 */
export function publicBase(publicUrl: string): string {
  const m = /^https?:\/\/[^/?#]+/i.exec(publicUrl);
  if (!m) throw new Error('PUBLIC_URL must be an http(s) URL');
  return m[0];
}

/** The `<Stream url>`: https → wss (what Twilio requires), plain http → ws for the local kit on loopback; host as written. */
export function streamUrlOf(publicUrl: string): string {
  const b = publicBase(publicUrl);
  return `${/^https:/i.test(b) ? 'wss' : 'ws'}${b.slice(b.indexOf(':'))}/media`;
}

/**
 * `<Connect><Stream>` for `callSid` with a fresh single-use token binding agent, caller and every `extra` Parameter.
 * The webhook answers with it, `/pay-result` too (with the pay outcome), and a live-call migration pushes it over
 * Twilio REST with `extra: { resume: 'true' }` so the task that picks the stream up knows to resume the session.
 */
export function streamTwiml(config: Config, claims: StreamTokenClaims): string {
  const token = signStreamToken(config.STREAM_TOKEN_KEY, claims, config.STREAM_TOKEN_TTL_SECONDS);
  return connectStreamTwiml(streamUrlOf(config.PUBLIC_URL), { agent: claims.agent, caller: claims.caller, ...claims.extra, token });
}
