// The signed Twilio voice webhooks: `/twiml` (a number's voice webhook) and `/pay-result` (after <Pay>), each answered with a fresh signed stream.
import type http from 'node:http';
import type { Config } from '../config';
import type { Logger } from '../observability/logger';
import { payOutcome, verifyPayToken } from '../telephony/pay';
import { isValidTwilioSignature, parseForm } from '../telephony/twilio-signature';
import { streamTwiml } from '../telephony/twiml';
import { readBody, send } from './http';

/** Largest webhook body accepted; Twilio's voice webhook is ~1-2 KB of form fields. */
const MAX_WEBHOOK_BYTES = 64 * 1024;

export interface WebhookDeps {
  config: Config;
  log: Logger;
  /** The configured public base URL, as Twilio calls it. */
  base: string;
  agentFor(calledNumber: string): string;
}

/**
 * `/twiml` (the number's voice webhook) and `/pay-result` (the `<Pay action>` Twilio POSTs when card capture
 * ends) both answer with a fresh stream: after `<Pay>` the agent picks the call up again on a new WebSocket.
 */
export async function twimlWebhook(deps: WebhookDeps, req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
  const { config, log } = deps;
  const body = await readBody(req, MAX_WEBHOOK_BYTES);
  if (body === undefined) {
    res.setHeader('Connection', 'close');
    return send(res, 413, 'payload too large');
  }
  const params = parseForm(body);
  const sig = req.headers['x-twilio-signature'];
  // Twilio signs the URL exactly as it called it: the configured public base, capitals included (an ALB DNS name
  // has them; `new URL().origin` would lowercase the host and fail every signature), plus path and query.
  if (!isValidTwilioSignature(config.TWILIO_AUTH_TOKEN, typeof sig === 'string' ? sig : undefined, deps.base + (req.url ?? '/'), params)) {
    log.warn({ path, signature: sig ? 'invalid' : 'missing' }, 'refused webhook: Twilio signature check failed');
    return send(res, 403, 'Twilio Request Validation Failed.');
  }
  const callSid = one(params.CallSid);
  if (!callSid) return send(res, 400, 'CallSid is required');
  const caller = one(params.From) ?? '';
  const agent = deps.agentFor(one(params.To) ?? '');
  let extra: Record<string, string> = {};
  if (path === '/pay-result') {
    const payQuery = new URL(req.url ?? '/', 'http://x').searchParams.get('pay') ?? undefined;
    const check = verifyPayToken(config.STREAM_TOKEN_KEY, payQuery, callSid);
    if (!check.ok) {
      log.warn({ callSid, path, reason: check.reason }, 'refused pay result: pay token check failed');
      return send(res, 403, 'pay token ' + check.reason);
    }
    extra = payParameters(one(params.Result), one(params.PaymentConfirmationCode), check.claims.amount);
  }
  log.info({ callSid, agent, path, ...(extra.payResult ? { payResult: extra.payResult } : {}) }, 'answered webhook with a stream');
  send(res, 200, streamTwiml(config, { callSid, caller, agent, extra }), 'text/xml');
}

/**
 * The stream Parameters `/pay-result` forwards to the resumed call (read them with `payOutcomeFromStream`): Twilio's
 * `Result` and `PaymentConfirmationCode` (shape-checked), and the amount from the pay token, never from the request.
 * Card data never passes (Twilio sends only masked fields, and none of them is forwarded).
 */
function payParameters(result: string | undefined, code: string | undefined, amount: string): Record<string, string> {
  const o = payOutcome({ Result: result, PaymentConfirmationCode: code }, amount);
  return { resume: 'true', payResult: o.result, payAmount: amount, ...(o.confirmation ? { payConfirmationCode: o.confirmation } : {}) };
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
