// Twilio REST emulator for live-call updates (transfer by TwiML/Url, hang-up by Status), plus the twilio SDK httpClient that targets it.
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import { closeServer, createRng, listenLoopback, readBody, sampleLatency, sendJson, sleep, takeHttpFault, type EmulatorHandle, type FaultKnobs } from './knobs';

/** Fault knobs of the Twilio emulator (acceptDelayMs, httpError; connection faults do not apply to REST). */
export type TwilioKnobs = Pick<FaultKnobs, 'acceptDelayMs' | 'httpError'> & { seed?: number };

/** Options of startTwilioEmulator. */
export interface TwilioEmulatorOptions {
  /** @default 0 (ephemeral) */
  port?: number;
  /** The account the Basic auth user must be (AC + 32 hex). */
  accountSid: string;
  authToken: string;
  knobs?: TwilioKnobs;
}

/** One accepted calls.update request. */
export interface CallUpdateRecord {
  callSid: string;
  /** The form fields as sent (Twiml, Url, Method, Status, ...). */
  params: Record<string, string>;
  at: number;
}

/** Emitted on `events` as 'call-updated' so the simulated caller can end its stream (send `stop`, close). */
export interface CallUpdatedEvent {
  callSid: string;
  twiml?: string;
  url?: string;
  status?: string;
}

/** The running Twilio REST emulator. */
export interface TwilioEmulator extends EmulatorHandle {
  /** Every accepted update, oldest first. */
  readonly requests: CallUpdateRecord[];
  /** 'call-updated' (CallUpdatedEvent). */
  readonly events: EventEmitter;
  /** Registers a live call (from/to shown in its Call JSON); unknown CallSids are treated as live calls too. */
  registerCall(callSid: string, info?: { from?: string; to?: string }): void;
  setKnobs(knobs: Partial<TwilioKnobs>): void;
}

interface CallState {
  sid: string;
  from: string;
  to: string;
  status: string;
  created: Date;
  updated: Date;
  ended?: Date;
}

const CALL_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\/([^/]+)\.json$/;

/** Twilio's REST error JSON ({code, message, more_info, status}). */
function twilioError(res: ServerResponse, status: number, code: number, message: string, extra: Record<string, string> = {}): void {
  sendJson(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }, extra);
}

function callJson(c: CallState, accountSid: string): object {
  const uri = `/2010-04-01/Accounts/${accountSid}/Calls/${c.sid}.json`;
  const duration = c.ended ? String(Math.round((c.ended.getTime() - c.created.getTime()) / 1000)) : null;
  return {
    sid: c.sid,
    date_created: c.created.toUTCString(),
    date_updated: c.updated.toUTCString(),
    parent_call_sid: null,
    account_sid: accountSid,
    to: c.to,
    to_formatted: c.to,
    from: c.from,
    from_formatted: c.from,
    phone_number_sid: null,
    status: c.status,
    start_time: c.created.toUTCString(),
    end_time: c.ended ? c.ended.toUTCString() : null,
    duration,
    price: null,
    price_unit: 'USD',
    direction: 'inbound',
    answered_by: null,
    api_version: '2010-04-01',
    forwarded_from: null,
    group_sid: null,
    caller_name: null,
    queue_time: '0',
    trunk_sid: null,
    uri,
    subresource_uris: {
      notifications: uri.replace('.json', '/Notifications.json'),
      recordings: uri.replace('.json', '/Recordings.json'),
      payments: uri.replace('.json', '/Payments.json'),
    },
  };
}

/**
 * Starts the Twilio REST emulator: `POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json` (calls.update) and
 * `GET` of the same path (calls.fetch), Basic auth AccountSid:AuthToken.
 */
export async function startTwilioEmulator(opts: TwilioEmulatorOptions): Promise<TwilioEmulator> {
  const { accountSid, authToken } = opts;
  let knobs: TwilioKnobs = { ...opts.knobs };
  let rng = createRng(knobs.seed ?? 1);
  const requests: CallUpdateRecord[] = [];
  const events = new EventEmitter();
  // One listener per simulated caller: a 100-call bench has 100, which is not a leak.
  events.setMaxListeners(0);
  const calls = new Map<string, CallState>();
  const callFor = (sid: string): CallState => {
    let c = calls.get(sid);
    if (!c) {
      const now = new Date();
      c = { sid, from: '', to: '', status: 'in-progress', created: now, updated: now };
      calls.set(sid, c);
    }
    return c;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const delay = sampleLatency(knobs.acceptDelayMs, rng);
    if (delay > 0) await sleep(delay);
    const [user, pass] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic\s+/i, ''), 'base64').toString('utf8').split(/:(.*)/s);
    if (!req.headers.authorization?.match(/^Basic\s+/i) || user !== accountSid || pass !== authToken) {
      return sendJson(res, 401, { code: 20003, detail: 'Your AccountSid or AuthToken was incorrect.', message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
    }
    const m = CALL_PATH.exec(url.pathname);
    if (!m || m[1] !== accountSid || (req.method !== 'POST' && req.method !== 'GET')) {
      return twilioError(res, 404, 20404, `The requested resource ${url.pathname} was not found`);
    }
    const fault = takeHttpFault(knobs);
    if (fault) {
      return twilioError(res, fault.status, fault.status === 429 ? 20429 : 20500, fault.status === 429 ? 'Too Many Requests' : 'Internal Server Error',
        fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {});
    }
    const call = callFor(decodeURIComponent(m[2]!));
    if (req.method === 'GET') return sendJson(res, 200, callJson(call, accountSid));

    const params = Object.fromEntries(new URLSearchParams(await readBody(req)));
    const { Twiml: twiml, Url: redirectUrl, Status: status } = params;
    if (status !== undefined && status !== 'completed' && status !== 'canceled') {
      return twilioError(res, 400, 20001, `Invalid Status: ${status}. Use completed or canceled.`);
    }
    if (call.status === 'completed' || call.status === 'canceled') {
      // Twilio 21220: a call that is no longer in progress cannot be redirected or ended again.
      return twilioError(res, 400, 21220, 'Call is not in-progress. Cannot redirect.');
    }
    requests.push({ callSid: call.sid, params, at: Date.now() });
    call.updated = new Date();
    if (status) {
      call.status = status;
      call.ended = call.updated;
    }
    sendJson(res, 200, callJson(call, accountSid));
    const event: CallUpdatedEvent = { callSid: call.sid, ...(twiml ? { twiml } : {}), ...(redirectUrl ? { url: redirectUrl } : {}), ...(status ? { status } : {}) };
    events.emit('call-updated', event);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) twilioError(res, 500, 20500, `emulator error: ${err.message}`);
    });
  });
  const port = await listenLoopback(server, opts.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    events,
    registerCall(callSid, info = {}) {
      const c = callFor(callSid);
      c.from = info.from ?? c.from;
      c.to = info.to ?? c.to;
    },
    setKnobs(k) {
      knobs = { ...knobs, ...k };
      if (k.seed !== undefined) rng = createRng(k.seed);
    },
    close: () => closeServer(server),
  };
}

/**
 * The `httpClient` option for the `twilio` SDK that sends every REST call to `baseUrl` instead of https://api.twilio.com
 * (the SDK has no base-URL option; protocols.md §1.7). Usage: `twilio(sid, token, { httpClient: twilioHttpClientFor(url) })`.
 */
export function twilioHttpClientFor(baseUrl: string): RequestClient {
  const base = new URL(baseUrl);
  class EmulatorRequestClient extends twilio.RequestClient {
    override request<TData>(opts: RequestClient.RequestOptions<TData>) {
      const u = new URL(opts.uri);
      const prefix = base.pathname.replace(/\/$/, '');
      return super.request<TData>({ ...opts, uri: `${base.origin}${prefix}${u.pathname}${u.search}` });
    }
  }
  return new EmulatorRequestClient();
}
