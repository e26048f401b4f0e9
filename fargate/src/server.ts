// The media service's front door: node:http + ws (noServer) — health, the signed TwiML/pay webhooks, signed /media streams; /metrics on an internal port.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Config } from './config';
import type { Logger } from './observability/logger';
import type { TelephonyTransport } from './providers/types';
import type { StreamClaims } from './store/stream-claims';
import { payOutcome, verifyPayToken } from './telephony/pay';
import { StreamGuard } from './telephony/stream-guard';
import { claimsFromParameters, verifyStreamToken } from './telephony/stream-token';
import { isValidTwilioSignature, parseForm } from './telephony/twilio-signature';
import { parseTwilioMessage, toInboundEvent, type TwilioInbound, type TwilioStart } from './telephony/twilio-protocol';
import { createCallControl, TwilioTransport, type CallControl } from './telephony/twilio-transport';
import { publicBase, streamTwiml, streamUrlOf } from './telephony/twiml';
import type { AcceptedCall, CallHandler, StreamStart } from './telephony/accepted-call';

export type { AcceptedCall, CallHandler, StreamStart } from './telephony/accepted-call';

/** Optional Prometheus-style scrape endpoint (`GET /metrics`). */
export interface MetricsEndpoint {
  /** Content-Type of the scrape, e.g. prom-client's `register.contentType`. */
  contentType: string;
  render(): Promise<string>;
}

/** What {@link createMediaServer} needs. */
export interface MediaServerDeps {
  config: Config;
  /** Root logger; each call gets a child bound to its callSid. */
  log: Logger;
  /** Runs each call whose stream token checked out. */
  onCall: CallHandler;
  /** Agent profile for the number Twilio was called on (the webhook's `To`). */
  agentFor(calledNumber: string): string;
  /** Serves `GET /metrics` on the internal listener (METRICS_PORT) when given. @default no metrics listener */
  metrics?: MetricsEndpoint;
  /** REST control of live calls (transfer/hang up). @default the twilio SDK with TWILIO_* from config */
  calls?: CallControl;
  /**
   * Makes each stream token single-use, across tasks (Redis `SET NX`, store/stream-claims.ts). A claim that cannot
   * be checked refuses the stream (1011). @default this process only (a single task, e.g. tests)
   */
  streamClaims?: StreamClaims;
  /** Heartbeats of live calls for the lost-call sweeper (store/live-calls.ts). @default none */
  liveCalls?: { begin(callSid: string): Promise<void>; end(callSid: string): Promise<void> };
}

/** The running parts of the media service's front door. */
export interface MediaServer {
  /** The underlying node:http server (not yet listening). */
  server: http.Server;
  /**
   * Binds and resolves with the bound port; also binds the internal metrics listener (METRICS_PORT) when `metrics`
   * was given. @default port config.PORT
   */
  listen(port?: number): Promise<number>;
  /** Port of the internal /metrics + /ready listener once bound, else undefined. */
  metricsPort(): number | undefined;
  /**
   * Stops accepting (/ready → 503, upgrades refused) and waits for active calls to end and their handlers to
   * settle (so transcripts and metrics are flushed); after `timeoutMs` aborts
   * the rest (signal reason 'drain timeout', sockets closed 1001) and waits briefly for their handlers to flush.
   * @default timeoutMs config.DRAIN_SECONDS * 1000
   */
  drain(timeoutMs?: number): Promise<void>;
  /** Calls whose stream token checked out and that have not stopped or closed. */
  activeCalls(): number;
  /** Closes every socket and the listener. */
  close(): Promise<void>;
}

/** Largest webhook body accepted; Twilio's voice webhook is ~1-2 KB of form fields. */
const MAX_WEBHOOK_BYTES = 64 * 1024;
/** Largest WebSocket frame; a Twilio media frame is ~300 bytes of JSON. ws closes bigger ones with 1009. */
const MAX_FRAME_BYTES = 64 * 1024;
/** Messages that arrive while a `start` is being claimed, at most (then the stream is closed: a real peer sends ~5). */
const MAX_HELD_WHILE_CLAIMING = 500;
/** After a drain timeout aborts calls, time their handlers get to flush transcripts and metrics. */
const ABORT_GRACE_MS = 5_000;

/** Builds the HTTP + WebSocket server (not yet listening). */
export function createMediaServer(deps: MediaServerDeps): MediaServer {
  const { config, log } = deps;
  const base = publicBase(config.PUBLIC_URL);
  const streamUrl = streamUrlOf(config.PUBLIC_URL);
  const calls =
    deps.calls ??
    createCallControl({ accountSid: config.TWILIO_ACCOUNT_SID, authToken: config.TWILIO_AUTH_TOKEN, apiUrl: config.TWILIO_API_URL });
  const claims = deps.streamClaims ?? processStreamClaims();

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  /** Every open /media socket. */
  const sockets = new Set<WebSocket>();
  /** Sockets that have not presented a valid `start` yet: their own small cap, never counted as calls. */
  const pending = new Set<WebSocket>();
  /** Sockets past a valid-looking `start` (being claimed or live): these count toward MAX_CALLS. */
  const started = new Set<WebSocket>();
  /** Accepted calls: their abort controllers. */
  const active = new Map<WebSocket, AbortController>();
  /** Handlers still running (they may outlive their socket while flushing). */
  const handlers = new Set<Promise<void>>();
  let draining = false;
  const idleWaiters = new Set<() => void>();
  let metricsServer: http.Server | undefined;
  let evicted = 0;

  const atCapacity = () => started.size >= config.MAX_CALLS;
  const notifyIfIdle = () => {
    if (active.size === 0 && handlers.size === 0) for (const w of idleWaiters) w();
  };
  const pinger = startPinger(sockets, config.WS_PING_SECONDS * 1000);

  const server = http.createServer((req, res) => {
    handleHttp(req, res).catch((err: unknown) => {
      log.error({ err }, 'http handler failed');
      if (!res.headersSent) send(res, 500, 'internal error');
      else res.destroy();
    });
  });

  function readiness(res: http.ServerResponse): void {
    const ready = !draining && !atCapacity();
    send(res, ready ? 200 : 503, JSON.stringify({ ready, draining, activeCalls: active.size, maxCalls: config.MAX_CALLS }), 'application/json');
  }

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    // /healthz is the ALB's liveness check. /ready stays here for the local stack's start-up wait; the ALB forwards
    // only /twiml, /pay-result and /media (lib/), and /metrics lives on the internal listener only.
    if (path === '/healthz') return void (req.method === 'GET' ? send(res, 200, 'ok') : send(res, 405, 'method not allowed'));
    if (path === '/ready') return req.method === 'GET' ? readiness(res) : send(res, 405, 'method not allowed');
    if (path === '/twiml' || path === '/pay-result') return req.method === 'POST' ? twimlWebhook(req, res, path) : send(res, 405, 'method not allowed');
    send(res, 404, 'not found');
  }

  /**
   * `/twiml` (the number's voice webhook) and `/pay-result` (the `<Pay action>` Twilio POSTs when card capture
   * ends) both answer with a fresh stream: after `<Pay>` the agent picks the call up again on a new WebSocket.
   */
  async function twimlWebhook(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const body = await readBody(req, MAX_WEBHOOK_BYTES);
    if (body === undefined) {
      res.setHeader('Connection', 'close');
      return send(res, 413, 'payload too large');
    }
    const params = parseForm(body);
    const sig = req.headers['x-twilio-signature'];
    // Twilio signs the URL exactly as it called it: the configured public base, capitals included (an ALB DNS name
    // has them; `new URL().origin` would lowercase the host and fail every signature), plus path and query.
    if (!isValidTwilioSignature(config.TWILIO_AUTH_TOKEN, typeof sig === 'string' ? sig : undefined, base + (req.url ?? '/'), params)) {
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

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // A client that resets mid-handshake must not crash the process (an unhandled 'error' on the raw socket would).
    socket.on('error', (err) => log.debug({ err }, 'upgrade socket error'));
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/media') return refuseUpgrade(socket, 404, 'Not Found');
    if (draining) return refuseUpgrade(socket, 503, 'Service Unavailable');
    // Twilio signs the upgrade like a webhook with no body: HMAC-SHA1 over the wss URL it opened, which is the
    // <Stream url> we gave it (twilio.com/docs/global-infrastructure/firewall-configurations/media-streams-configuration:
    // "You must also configure your application to validate the X-Twilio-Signature header"; the URL form with no
    // params as in twilio/twilio-agent-connect-python#16 and twilio-labs/twilio-aspnet#162). Checked before any
    // socket exists, so unsigned upgrades cost one HTTP answer.
    const sig = req.headers['x-twilio-signature'];
    const query = (req.url ?? '').includes('?') ? (req.url ?? '').slice((req.url ?? '').indexOf('?')) : '';
    if (!isValidTwilioSignature(config.TWILIO_AUTH_TOKEN, typeof sig === 'string' ? sig : undefined, streamUrl + query, {})) {
      log.warn({ signature: sig ? 'invalid' : 'missing' }, 'refused media stream: Twilio signature check failed');
      return refuseUpgrade(socket, 403, 'Forbidden');
    }
    // Refuse before handleUpgrade so a full task costs Twilio one cheap HTTP answer, not a socket.
    if (atCapacity()) {
      log.warn({ calls: started.size, maxCalls: config.MAX_CALLS }, 'refused media stream: no capacity');
      return refuseUpgrade(socket, 503, 'Service Unavailable');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // Not-yet-started sockets have their own cap and never take a call's slot. The signature on an upgrade is the
      // same for every stream (it covers only the URL), so a captured one can be replayed: when the cap is reached the
      // oldest waiting socket goes, never the newcomer. Twilio sends `start` right after the upgrade, so a real
      // stream is the youngest and keeps its place.
      if (pending.size >= config.MAX_PENDING_STREAMS) {
        const oldest = pending.values().next().value as WebSocket;
        pending.delete(oldest);
        oldest.close(1013, 'too many streams waiting for start');
        evicted++;
        if (evicted === 1 || evicted % 100 === 0) log.warn({ evicted, pending: pending.size }, 'evicted a media stream that had not started');
      }
      onStream(ws);
    });
  });

  function onStream(ws: WebSocket): void {
    sockets.add(ws);
    pending.add(ws);
    const st = new StreamState(ws);
    ws.on('message', (data: RawData, isBinary: boolean) => st.onMessage(data, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      // ws reports oversized frames (WS_ERR_UNSUPPORTED_MESSAGE_LENGTH, closed 1009) and invalid UTF-8 here.
      st.log.warn({ code: err.code }, 'media stream socket error');
      st.finish('socket error');
    });
    ws.on('close', (code: number) => {
      sockets.delete(ws);
      if (st.phase !== 'done') st.log.info({ code }, 'media stream closed by peer');
      st.finish('closed');
      notifyIfIdle();
    });
  }

  /** One /media socket from upgrade to close: start timeout, token claim, live delivery, silence watch. */
  class StreamState {
    phase: 'awaiting-start' | 'claiming' | 'live' | 'done' = 'awaiting-start';
    log: Logger = log;
    private transport: TwilioTransport | undefined;
    private controller: AbortController | undefined;
    private readonly guard = new StreamGuard();
    private readonly held: TwilioInbound[] = [];
    private readonly startTimer: NodeJS.Timeout;
    private silenceTimer: NodeJS.Timeout | undefined;
    private lastMedia = 0;
    private silenced = false;

    constructor(private readonly ws: WebSocket) {
      this.startTimer = setTimeout(() => this.fail(1008, 'no start message in time'), config.STREAM_START_TIMEOUT_MS);
    }

    fail(code: number, why: string): void {
      if (this.phase === 'done') return;
      this.log.warn({ code, why }, 'closing media stream: protocol violation');
      this.ws.close(code, why.slice(0, 120));
      this.finish('protocol violation');
    }

    /** The call is over for us: uncount it, abort its signal, end its inbound. Idempotent. */
    finish(reason = 'closed'): void {
      if (this.phase === 'done') return;
      this.phase = 'done';
      clearTimeout(this.startTimer);
      clearTimeout(this.silenceTimer);
      pending.delete(this.ws);
      started.delete(this.ws);
      this.transport?.end();
      if (this.controller) {
        active.delete(this.ws);
        this.controller.abort(reason);
      }
      notifyIfIdle();
    }

    onMessage(data: RawData, isBinary: boolean): void {
      if (this.phase === 'done' || this.silenced) return;
      if (isBinary) return this.fail(1003, 'binary frames are not part of the Media Streams protocol');
      const parsed = parseTwilioMessage(rawToString(data));
      if (parsed.kind === 'invalid-json') return this.fail(1007, parsed.detail);
      if (parsed.kind === 'unknown') {
        const u = this.guard.unknownEvent();
        if (u.log) this.log.info({ event: parsed.event, count: u.count }, 'ignored unknown Media Streams event (logged 1st-3rd, then every 100th)');
        return;
      }
      if (parsed.kind === 'invalid-message') {
        if (this.phase === 'awaiting-start') return this.fail(parsed.detail.includes('base64') ? 1007 : 1008, `bad ${parsed.event}: ${parsed.detail}`);
        // Mid-call, one malformed message (an odd DTMF digit, a bad field) is dropped, not the caller's call.
        const b = this.guard.badMessage();
        if (b.log) this.log.warn({ event: parsed.event, detail: parsed.detail, count: b.count }, 'dropped a malformed Media Streams message');
        if (b.close) this.fail(1008, 'too many malformed messages');
        return;
      }
      this.onValid(parsed.message);
    }

    private onValid(msg: TwilioInbound): void {
      if (this.phase === 'awaiting-start') {
        if (msg.event === 'connected') return;
        if (msg.event === 'start') return void this.accept(msg);
        if (msg.event === 'stop') return void (this.ws.close(1000), this.finish('stop'));
        return this.fail(1008, `${msg.event} before start`);
      }
      if (this.phase === 'claiming') {
        if (this.held.length >= MAX_HELD_WHILE_CLAIMING) return this.fail(1008, 'too many messages before the stream was accepted');
        return void this.held.push(msg);
      }
      this.deliver(msg);
    }

    private deliver(msg: TwilioInbound): void {
      if (msg.event === 'connected' || msg.event === 'start') return this.fail(1008, `duplicate ${msg.event}`);
      if (msg.event === 'media') this.lastMedia = Date.now();
      if (msg.event === 'dtmf') {
        const d = this.guard.digit(msg.dtmf.digit);
        if (d.firstDrop) this.log.warn('keypad input too long without #: dropping further digits until #');
        if (d.verdict === 'drop') return;
      }
      const ev = toInboundEvent(msg);
      if (ev) this.transport!.deliver(ev);
      if (msg.event === 'stop') this.finish('stop');
    }

    /** Checks the token, claims its nonce (single use, across tasks), then goes live with what arrived meanwhile. */
    private async accept(msg: TwilioStart): Promise<void> {
      clearTimeout(this.startTimer);
      const { callSid, streamSid, customParameters } = msg.start;
      const agent = customParameters.agent ?? '';
      this.log = log.child({ callSid, streamSid, agent });
      const check = verifyStreamToken(config.STREAM_TOKEN_KEY, customParameters.token, claimsFromParameters(callSid, customParameters));
      if (!check.ok) return this.fail(1008, `stream token ${check.reason}`);
      if (!agent) return this.fail(1008, 'start has no agent parameter');
      if (atCapacity()) return this.fail(1013, 'no capacity'); // 1013 Try Again Later (RFC 6455 §7.4.1 registry)
      pending.delete(this.ws);
      started.add(this.ws);
      this.phase = 'claiming';
      let first: boolean;
      try {
        first = await claims.claim(check.nonce, callSid, (check.expiresAt - Date.now()) / 1000 + 60);
      } catch (err) {
        this.log.error({ err: { name: (err as Error)?.name } }, 'cannot check stream token use (redis); refusing the stream');
        return this.fail(1011, 'cannot check the stream token');
      }
      if (this.phase as StreamState['phase'] !== 'claiming') return; // closed while claiming
      if (!first) return this.fail(1008, 'stream token already used');
      this.goLive(msg);
      for (const m of this.held.splice(0)) if ((this.phase as StreamState['phase']) === 'live') this.deliver(m);
    }

    private goLive(msg: TwilioStart): void {
      // A stream that upgraded before a drain began is accepted: Twilio will not retry it on another task.
      const { callSid, streamSid, accountSid, customParameters } = msg.start;
      const caller = customParameters.caller ?? '';
      this.phase = 'live';
      const controller = (this.controller = new AbortController());
      active.set(this.ws, controller);
      const ws = this.ws;
      const transport = (this.transport = new TwilioTransport({
        streamSid, callSid, calls, log: this.log,
        send: (text) => {
          if (ws.readyState === ws.OPEN) ws.send(text);
        },
      }));
      const start: StreamStart = { callSid, streamSid, accountSid, agent: customParameters.agent!, ...(caller ? { caller } : {}), customParameters, startedAt: Date.now() };
      this.lastMedia = start.startedAt;
      this.watchSilence();
      this.log.info({ activeCalls: active.size }, 'call started');
      void deps.liveCalls?.begin(callSid).catch(() => undefined);
      const run = (async () => deps.onCall({ start, transport, signal: controller.signal, log: this.log }))()
        .catch((err: unknown) => this.log.error({ err }, 'call handler failed'))
        .finally(() => {
          handlers.delete(run);
          void deps.liveCalls?.end(callSid).catch(() => undefined);
          // The handler is done with the call: closing the socket lets Twilio continue (or end) the call.
          if (ws.readyState === ws.OPEN) ws.close(1000, 'call ended');
          this.log.info({ droppedMedia: transport.droppedMedia }, 'call handler finished');
          notifyIfIdle();
        });
      handlers.add(run);
    }

    /**
     * Ends the call's inbound after MEDIA_SILENCE_SECONDS without `media` (a dead leg): the handler sees its inbound
     * end as after a stop, and if it has not settled within the abort grace its signal is aborted too.
     */
    private watchSilence(): void {
      const limit = config.MEDIA_SILENCE_SECONDS * 1000;
      const check = () => {
        if (this.phase !== 'live') return;
        const quiet = Date.now() - this.lastMedia;
        if (quiet < limit) return void (this.silenceTimer = setTimeout(check, limit - quiet));
        this.log.warn({ silentMs: quiet }, 'no media from Twilio: ending the call (dead leg)');
        this.silenced = true;
        this.transport?.end();
        this.silenceTimer = setTimeout(() => this.controller?.abort('media silence'), ABORT_GRACE_MS);
      };
      this.silenceTimer = setTimeout(check, limit);
    }
  }

  function waitIdle(ms: number): Promise<boolean> {
    if (active.size === 0 && handlers.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (idle: boolean) => {
        clearTimeout(timer);
        idleWaiters.delete(onIdle);
        resolve(idle);
      };
      const onIdle = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      idleWaiters.add(onIdle);
    });
  }

  /** The internal listener: GET /metrics for the scraper and GET /ready; not forwarded by the ALB. */
  async function listenMetrics(): Promise<void> {
    if (!deps.metrics) return;
    const m = deps.metrics;
    const srv = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') return send(res, 405, 'method not allowed');
      if (path === '/ready') return readiness(res);
      if (path !== '/metrics') return send(res, 404, 'not found');
      m.render().then((text) => send(res, 200, text, m.contentType), (err: unknown) => (log.error({ err }, 'metrics render failed'), send(res, 500, 'internal error')));
    });
    try {
      await listenOn(srv, config.METRICS_PORT);
      metricsServer = srv;
    } catch (err) {
      // Metrics must never stop calls: a taken port (two local stacks on one machine) costs only the scrape.
      log.error({ err: { code: (err as { code?: string }).code }, port: config.METRICS_PORT }, 'metrics listener not started');
    }
  }

  return {
    server,
    async listen(port = config.PORT) {
      const bound = await listenOn(server, port);
      await listenMetrics();
      return bound;
    },
    metricsPort: () => (metricsServer?.address() as import('node:net').AddressInfo | null)?.port,
    async drain(timeoutMs = config.DRAIN_SECONDS * 1000) {
      draining = true;
      log.info({ activeCalls: active.size, timeoutMs }, 'draining: refusing new calls');
      for (const ws of pending) ws.close(1001, 'server shutting down');
      if (await waitIdle(timeoutMs)) return log.info('drained: all calls ended');
      log.warn({ activeCalls: active.size }, 'drain timeout: aborting remaining calls');
      for (const c of active.values()) c.abort('drain timeout');
      for (const ws of sockets) ws.close(1001, 'server shutting down');
      await waitIdle(ABORT_GRACE_MS);
    },
    activeCalls: () => active.size,
    async close() {
      draining = true;
      clearInterval(pinger);
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (metricsServer) await new Promise<void>((resolve) => metricsServer!.close(() => resolve()));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
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

/** Single use within this process only: the default when no Redis-backed {@link StreamClaims} is given. */
function processStreamClaims(): StreamClaims {
  const used = new Map<string, number>();
  return {
    async claim(nonce, _callSid, ttlSeconds) {
      const now = Date.now();
      for (const [k, until] of used) if (until <= now) used.delete(k);
      if (used.has(nonce)) return false;
      used.set(nonce, now + ttlSeconds * 1000);
      return true;
    },
  };
}

/**
 * Pings every socket each `intervalMs`; one that has not answered the previous ping (nor sent anything since) is
 * terminated, which closes its call like a peer close. RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint
 * MUST send a Pong frame in response". 0 disables.
 */
function startPinger(sockets: Set<WebSocket>, intervalMs: number): NodeJS.Timeout | undefined {
  if (!intervalMs) return undefined;
  const alive = new WeakMap<WebSocket, boolean>();
  const t = setInterval(() => {
    for (const ws of sockets) {
      if (!alive.has(ws)) {
        ws.on('pong', () => alive.set(ws, true));
        ws.on('message', () => alive.set(ws, true));
      } else if (!alive.get(ws)) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, intervalMs);
  t.unref();
  return t;
}

function listenOn(srv: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, () => {
      srv.off('error', reject);
      resolve((srv.address() as import('node:net').AddressInfo).port);
    });
  });
}

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Reads the body up to `limit` bytes; undefined (and the rest discarded) when it is larger. */
function readBody(req: http.IncomingMessage, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
