// The short-lived stream token: binds a Media Stream to the webhook that created it (HMAC-SHA256, expiring).
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * What a token binds. The same values come back in Twilio's `start` message (`start.callSid` and the
 * `<Parameter>`s `caller` and `agent`), so a token minted for one call cannot open a stream for another, and
 * a stream cannot swap its agent or caller without invalidating the token.
 */
export interface StreamTokenClaims {
  callSid: string;
  /** Caller number (E.164) or '' when Twilio sent none. */
  caller: string;
  agent: string;
}

/** Why a token was refused. */
export type StreamTokenFailure = 'missing' | 'malformed' | 'expired' | 'forged';

export type StreamTokenCheck = { ok: true; expiresAt: number } | { ok: false; reason: StreamTokenFailure };

const VERSION = 'v1';
const MAC_BYTES = 32;

/**
 * Mints `v1.<expiry epoch s>.<base64url HMAC-SHA256>` over the claims and the expiry.
 * Twilio strips query strings from the Stream URL, so the token travels as a `<Parameter>` instead.
 * @param now epoch ms; @default Date.now()
 */
export function signStreamToken(key: string, claims: StreamTokenClaims, ttlSeconds: number, now: number = Date.now()): string {
  const exp = Math.floor(now / 1000) + ttlSeconds;
  return `${VERSION}.${exp}.${mac(key, claims, exp).toString('base64url')}`;
}

/**
 * Checks a token against the claims of the stream presenting it, in constant time over the MAC.
 * @param now epoch ms; @default Date.now()
 */
export function verifyStreamToken(key: string, token: string | undefined, claims: StreamTokenClaims, now: number = Date.now()): StreamTokenCheck {
  if (!token) return { ok: false, reason: 'missing' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || !/^\d{1,12}$/.test(parts[1]!) || !/^[A-Za-z0-9_-]+$/.test(parts[2]!)) {
    return { ok: false, reason: 'malformed' };
  }
  const exp = Number(parts[1]);
  const given = Buffer.from(parts[2]!, 'base64url');
  const expected = mac(key, claims, exp);
  // Compare the MAC before the expiry so a forged token never learns whether its expiry was acceptable.
  if (given.length !== MAC_BYTES || !timingSafeEqual(given, expected)) return { ok: false, reason: 'forged' };
  if (exp * 1000 <= now) return { ok: false, reason: 'expired' };
  return { ok: true, expiresAt: exp * 1000 };
}

function mac(key: string, c: StreamTokenClaims, exp: number): Buffer {
  // JSON of an array is unambiguous: no field can bleed into the next whatever characters it holds.
  return createHmac('sha256', key).update(JSON.stringify([VERSION, c.callSid, c.caller, c.agent, exp])).digest();
}
