// Twilio webhook authentication: form-body parsing and the X-Twilio-Signature check (the twilio SDK's algorithm).
import twilio from 'twilio';

/** Form parameters as Twilio signs them: a repeated key keeps every value. */
export type FormParams = Record<string, string | string[]>;

/** Parses an `application/x-www-form-urlencoded` body into the params shape `validateRequest` signs over. */
export function parseForm(body: string): FormParams {
  const out: FormParams = {};
  for (const [k, v] of new URLSearchParams(body)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/**
 * True when `signature` is Twilio's HMAC-SHA1 (keyed with the account Auth Token) over `url` plus the sorted
 * params. Delegates to the SDK's `validateRequest`, which also tries the URL with and without the default port
 * and compares in constant time (twilio@6 lib/webhooks/webhooks.js).
 * @param url the exact public URL Twilio was configured with, including any query string
 */
export function isValidTwilioSignature(authToken: string, signature: string | undefined, url: string, params: FormParams): boolean {
  if (!signature) return false;
  try {
    return twilio.validateRequest(authToken, signature, url, params);
  } catch {
    // A malformed URL or header makes the SDK throw; that is a failed validation, not a server error.
    return false;
  }
}
