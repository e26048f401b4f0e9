// The short-lived stream token: binds a Media Stream to the webhook that created it (HMAC-SHA256, expiring, with a single-use nonce).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * What a token binds. The same values come back in Twilio's `start` message (`start.callSid` and the
 * `<Parameter>`s `caller`, `agent` and every `extra` one), so a token minted for one call cannot open a stream for
 * another, and a stream cannot swap its agent, caller or an extra Parameter (`resume`, `payResult`) without
 * invalidating the token.
 */
export interface StreamTokenClaims {
  callSid: string;
  /** Caller number (E.164) or '' when Twilio sent none. */
  caller: string;
  agent: string;
  /** Further `<Parameter>`s the stream carries, e.g. `{ resume: 'true' }` for a migrated call. @default none */
  extra?: Record<string, string>;
}

/** Why a token was refused. */
export type StreamTokenFailure = 'missing' | 'malformed' | 'expired' | 'forged';

/** `nonce` is unique per minted token: the key that makes it single-use (see server.ts `claimStream`). */
export type StreamTokenCheck = { ok: true; expiresAt: number; nonce: string } | { ok: false; reason: StreamTokenFailure };

const VERSION = 'v2';
const MAC_BYTES = 32;
const NONCE_BYTES = 12;

/**
 * Mints `v2.<expiry epoch s>.<nonce>.<base64url HMAC-SHA256>` over the claims, the expiry and a fresh random nonce.
 * Twilio strips query strings from the Stream URL, so the token travels as a `<Parameter>` instead.
 * @param now epoch ms; @default Date.now()
 */
export function signStreamToken(key: string, claims: StreamTokenClaims, ttlSeconds: number, now: number = Date.now()): string {
  const exp = Math.floor(now / 1000) + ttlSeconds;
  const nonce = randomBytes(NONCE_BYTES).toString('base64url');
  return `${VERSION}.${exp}.${nonce}.${mac(key, claims, exp, nonce).toString('base64url')}`;
}

/**
 * Checks a token against the claims of the stream presenting it, in constant time over the MAC.
 * @param now epoch ms; @default Date.now()
 */
export function verifyStreamToken(key: string, token: string | undefined, claims: StreamTokenClaims, now: number = Date.now()): StreamTokenCheck {
  if (!token) return { ok: false, reason: 'missing' };
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION || !/^\d{1,12}$/.test(parts[1]!) || !/^[A-Za-z0-9_-]{16}$/.test(parts[2]!) || !/^[A-Za-z0-9_-]+$/.test(parts[3]!)) {
    return { ok: false, reason: 'malformed' };
  }
  const exp = Number(parts[1]);
  const nonce = parts[2]!;
  const given = Buffer.from(parts[3]!, 'base64url');
  const expected = mac(key, claims, exp, nonce);
  // Compare the MAC before the expiry so a forged token never learns whether its expiry was acceptable.
  if (given.length !== MAC_BYTES || !timingSafeEqual(given, expected)) return { ok: false, reason: 'forged' };
  if (exp * 1000 <= now) return { ok: false, reason: 'expired' };
  return { ok: true, expiresAt: exp * 1000, nonce };
}

/** The claims a `start` message's custom parameters carry: `agent`, `caller`, and every other one except `token`. */
export function claimsFromParameters(callSid: string, params: Record<string, string>): StreamTokenClaims {
  const { token: _token, agent = '', caller = '', ...extra } = params;
  return { callSid, caller, agent, extra };
}

function mac(key: string, c: StreamTokenClaims, exp: number, nonce: string): Buffer {
  const extra = Object.entries(c.extra ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // JSON of an array is unambiguous: no field can bleed into the next whatever characters it holds.
  return createHmac('sha256', key).update(JSON.stringify([VERSION, c.callSid, c.caller, c.agent, extra, exp, nonce])).digest();
}
