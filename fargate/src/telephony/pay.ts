// <Pay> round trip: the signed action URL that binds callSid/amount/expiry, and the pure reading of Twilio's action callback.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What the agent relies on when the caller comes back from `<Pay>`: bound into the action URL's token. */
export interface PayClaims {
  callSid: string;
  /** Decimal string as given to `<Pay chargeAmount>`, e.g. "42.50". */
  amount: string;
  /** @default "usd" */
  currency?: string;
}

export type PayTokenCheck = { ok: true; claims: Required<PayClaims> } | { ok: false; reason: 'missing' | 'malformed' | 'forged' | 'expired' | 'other-call' };

const DOMAIN = 'pay1';

/**
 * `<Pay action>` for one charge: `{publicUrl}/pay-result?pay=<token>`. Twilio signs the action URL with its query
 * string (X-Twilio-Signature covers "the full URL ... including the query string", twilio.com/docs/usage/webhooks/webhooks-security),
 * and the token's own HMAC binds callSid, amount, currency and expiry, so neither a replayed callback for another
 * call nor a changed amount is believed.
 * @param ttlSeconds how long card entry may take; @default 900
 */
export function payActionUrl(publicUrl: string, key: string, claims: PayClaims, ttlSeconds = 900, now = Date.now()): string {
  const body = Buffer.from(JSON.stringify([claims.callSid, claims.amount, claims.currency ?? 'usd', Math.floor(now / 1000) + ttlSeconds])).toString('base64url');
  return `${publicUrl.replace(/\/+$/, '')}/pay-result?pay=${body}.${mac(key, body)}`;
}

/** Checks the `pay` query parameter of a `/pay-result` request against the callback's `CallSid`. */
export function verifyPayToken(key: string, token: string | undefined, callSid: string, now = Date.now()): PayTokenCheck {
  if (!token) return { ok: false, reason: 'missing' };
  const m = /^([A-Za-z0-9_-]{1,800})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return { ok: false, reason: 'malformed' };
  const given = Buffer.from(m[2]!, 'base64url');
  const expected = Buffer.from(mac(key, m[1]!), 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'forged' };
  const [sid, amount, currency, exp] = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as [string, string, string, number];
  if (exp * 1000 <= now) return { ok: false, reason: 'expired' };
  if (sid !== callSid) return { ok: false, reason: 'other-call' };
  return { ok: true, claims: { callSid: sid, amount, currency } };
}

/** What the agent says and records after `<Pay>`. */
export interface PayOutcome {
  ok: boolean;
  /** Twilio's `Result`, or 'unknown'. */
  result: string;
  /** The line the agent speaks. */
  sentence: string;
  /** `PaymentConfirmationCode` when the charge went through (processor reference), else absent. */
  confirmation?: string;
}

/**
 * Sentences per `Result` of the `<Pay>` action callback. Twilio POSTs the action URL "when <Pay> finishes collecting
 * valid payment data or terminates" (twilio.com/docs/voice/twiml/pay) with `Result` and, on a charge,
 * `PaymentConfirmationCode` (plus masked card fields this service never reads). Only `success` means paid;
 * every other value, known or not, is a failure the caller is told about.
 */
const FAILURES: Record<string, string> = {
  'caller-interrupted': 'The card entry was cancelled, so nothing was charged.',
  'caller-hung-up': 'The card entry ended early, so nothing was charged.',
  'too-many-failed-attempts': 'I could not take the card after several tries, so nothing was charged.',
  'input-matching-failed': 'The card details did not match, so nothing was charged.',
  'payment-connector-error': 'The payment could not be processed right now, so nothing was charged.',
  'internal-error': 'The payment could not be processed right now, so nothing was charged.',
};

/** Reads the `<Pay>` action callback's parameters (or the same values forwarded as stream Parameters). Pure. */
export function payOutcome(params: { Result?: string; PaymentConfirmationCode?: string }, amount?: string): PayOutcome {
  const result = /^[a-z-]{1,40}$/.test(params.Result ?? '') ? params.Result! : 'unknown';
  if (result === 'success') {
    const code = /^[A-Za-z0-9_-]{1,64}$/.test(params.PaymentConfirmationCode ?? '') ? params.PaymentConfirmationCode : undefined;
    const paid = amount ? `Your payment of ${amount} went through.` : 'Your payment went through.';
    return { ok: true, result, sentence: code ? `${paid} Your confirmation code is the one ${spell(code)}.` : paid, ...(code ? { confirmation: code } : {}) };
  }
  return { ok: false, result, sentence: FAILURES[result] ?? 'The payment did not go through, so nothing was charged.' };
}

/** The stream Parameters `/pay-result` forwards to the resumed call: `payOutcomeFromStream(start.customParameters)`. */
export function payOutcomeFromStream(p: Record<string, string>): PayOutcome | undefined {
  if (!p.payResult) return undefined;
  return payOutcome({ Result: p.payResult, PaymentConfirmationCode: p.payConfirmationCode }, p.payAmount);
}

/** The last six characters of a confirmation code, read out one by one ("ch_a9dc62" → "ends in a 9 d c 6 2"). */
function spell(code: string): string {
  const tail = code.replace(/[_-]/g, '').slice(-6);
  return `ending in ${tail.split('').join(' ')}`;
}

function mac(key: string, body: string): string {
  return createHmac('sha256', key).update(`${DOMAIN}.${body}`).digest('base64url');
}
