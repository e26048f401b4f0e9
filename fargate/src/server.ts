// The media service's front door: node:http + ws (noServer) — health, readiness, the signed TwiML webhook, and /media streams.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Config } from './config';
import type { Logger } from './observability/logger';
import type { TelephonyTransport } from './providers/types';
import { verifyStreamToken, signStreamToken } from './telephony/stream-token';
import { isValidTwilioSignature, parseForm } from './telephony/twilio-signature';
import { parseTwilioMessage, toInboundEvent, type TwilioStart } from './telephony/twilio-protocol';
import { createCallControl, TwilioTransport, type CallControl } from './telephony/twilio-transport';
import { connectStreamTwiml } from './telephony/twiml';

/** What the stream's `start` told us, after the stream token checked out. */
export interface StreamStart {
  callSid: string;
  streamSid: string;
  accountSid: string;
  agent: string;
  caller?: string;
  customParameters: Record<string, string>;
  /** Date.now() when `start` arrived. */
  startedAt: number;
}

/** One accepted call, handed to the {@link CallHandler}. */
export interface AcceptedCall {
  start: StreamStart;
  transport: TelephonyTransport;
  /** Aborts on `stop`, socket close, or when a drain runs out of time. */
  signal: AbortSignal;
  /** Child logger bound to callSid/streamSid/agent (never the caller number). */
  log: Logger;
}

/** Runs one call from `start` to its end; the server closes the socket when it settles. */
export type CallHandler = (call: AcceptedCall) => Promise<void>;

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
  /** Serves `GET /metrics` when given. @default no /metrics route */
  metrics?: MetricsEndpoint;
  /** REST control of live calls (transfer/hang up). @default the twilio SDK with TWILIO_* from config */
  calls?: CallControl;
}

/** The running parts of the media service's front door. */
export interface MediaServer {
  /** The underlying node:http server (not yet listening). */
  server: http.Server;
  /** Binds and resolves with the bound port. @default port config.PORT */
  listen(port?: number): Promise<number>;
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
/** Twilio sends `connected` and `start` right after the upgrade; a socket still silent after this is dropped. */
const START_TIMEOUT_MS = 10_000;
/** After a drain timeout aborts calls, time their handlers get to flush transcripts and metrics. */
const ABORT_GRACE_MS = 5_000;

/** Builds the HTTP + WebSocket server (not yet listening). */
export function createMediaServer(deps: MediaServerDeps): MediaServer {
  const { config, log } = deps;
  const publicUrl = new URL(config.PUBLIC_URL);
  const publicOrigin = publicUrl.origin;
  // https → wss (what Twilio requires); plain http stays ws for the local kit on loopback.
  const streamUrl = `${publicUrl.protocol === 'https:' ? 'wss:' : 'ws:'}//${publicUrl.host}/media`;
  const calls =
    deps.calls ??
    createCallControl({ accountSid: config.TWILIO_ACCOUNT_SID, authToken: config.TWILIO_AUTH_TOKEN, apiUrl: config.TWILIO_API_URL });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  /** Every open /media socket, started or not: capacity counts these so a burst of upgrades cannot overshoot. */
  const sockets = new Set<WebSocket>();
  /** Accepted calls: their abort controllers. */
  const active = new Map<WebSocket, AbortController>();
  /** Handlers still running (they may outlive their socket while flushing). */
  const handlers = new Set<Promise<void>>();
  let draining = false;
  const idleWaiters = new Set<() => void>();

  const atCapacity = () => sockets.size >= config.MAX_CALLS;
  const notifyIfIdle = () => {
    if (active.size === 0 && handlers.size === 0) for (const w of idleWaiters) w();
  };

  const server = http.createServer((req, res) => {
    handleHttp(req, res).catch((err: unknown) => {
      log.error({ err }, 'http handler failed');
      if (!res.headersSent) send(res, 500, 'internal error');
      else res.destroy();
    });
  });

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return void (req.method === 'GET' ? send(res, 200, 'ok') : send(res, 405, 'method not allowed'));
    if (path === '/ready') {
      if (req.method !== 'GET') return send(res, 405, 'method not allowed');
      const ready = !draining && !atCapacity();
      return send(res, ready ? 200 : 503, JSON.stringify({ ready, draining, activeCalls: active.size, maxCalls: config.MAX_CALLS }), 'application/json');
    }
    if (path === '/twiml' || path === '/pay-result') return req.method === 'POST' ? twimlWebhook(req, res, path) : send(res, 405, 'method not allowed');
    if (path === '/metrics' && deps.metrics) {
      if (req.method !== 'GET') return send(res, 405, 'method not allowed');
      return send(res, 200, await deps.metrics.render(), deps.metrics.contentType);
    }
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
    // Twilio signs the URL it was configured with, i.e. the public one, not the one the ALB forwarded to us.
    if (!isValidTwilioSignature(config.TWILIO_AUTH_TOKEN, typeof sig === 'string' ? sig : undefined, publicOrigin + req.url, params)) {
      log.warn({ path, signature: sig ? 'invalid' : 'missing' }, 'refused webhook: Twilio signature check failed');
      return send(res, 403, 'Twilio Request Validation Failed.');
    }
    const callSid = one(params.CallSid);
    if (!callSid) return send(res, 400, 'CallSid is required');
    const caller = one(params.From) ?? '';
    const agent = deps.agentFor(one(params.To) ?? '');
    const token = signStreamToken(config.STREAM_TOKEN_KEY, { callSid, caller, agent }, config.STREAM_TOKEN_TTL_SECONDS);
    // <Pay>'s outcome (`success`, `caller-interrupted`, `payment-connector-error`, ...) goes to the resumed call as
    // the `payment` Parameter; card data never does (Twilio sends only masked fields, and we forward none of them).
    const result = path === '/pay-result' ? one(params.Result) : undefined;
    const payment: Record<string, string> = result && /^[a-z-]{1,40}$/.test(result) ? { payment: result } : {};
    log.info({ callSid, agent, path, ...payment }, 'answered webhook with a stream');
    send(res, 200, connectStreamTwiml(streamUrl, { agent, caller, token, ...payment }), 'text/xml');
  }

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // A client that resets mid-handshake must not crash the process (an unhandled 'error' on the raw socket would).
    socket.on('error', (err) => log.debug({ err }, 'upgrade socket error'));
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/media') return refuseUpgrade(socket, 404, 'Not Found');
    // Refuse before handleUpgrade so a full or draining task costs Twilio one cheap HTTP answer, not a socket.
    if (draining || atCapacity()) {
      log.warn({ draining, open: sockets.size, maxCalls: config.MAX_CALLS }, 'refused media stream: no capacity');
      return refuseUpgrade(socket, 503, 'Service Unavailable');
    }
    wss.handleUpgrade(req, socket, head, (ws) => onStream(ws));
  });

  function onStream(ws: WebSocket): void {
    sockets.add(ws);
    let phase: 'awaiting-start' | 'live' | 'done' = 'awaiting-start';
    let transport: TwilioTransport | undefined;
    let controller: AbortController | undefined;
    let slog = log;
    const startTimer = setTimeout(() => fail(1008, 'no start message in time'), START_TIMEOUT_MS);

    const fail = (code: number, why: string) => {
      if (phase === 'done') return;
      slog.warn({ code, why }, 'closing media stream: protocol violation');
      ws.close(code, why.slice(0, 120));
      finish('protocol violation');
    };
    /** The call is over for us: uncount it, abort its signal, end its inbound. Idempotent. */
    const finish = (reason = 'closed') => {
      if (phase === 'done') return;
      phase = 'done';
      clearTimeout(startTimer);
      transport?.end();
      if (controller) {
        active.delete(ws);
        controller.abort(reason);
      }
      notifyIfIdle();
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (phase === 'done') return;
      if (isBinary) return fail(1003, 'binary frames are not part of the Media Streams protocol');
      const parsed = parseTwilioMessage(rawToString(data));
      switch (parsed.kind) {
        case 'invalid-json':
          return fail(1007, parsed.detail);
        case 'invalid-message':
          return fail(parsed.detail.includes('base64') ? 1007 : 1008, `bad ${parsed.event}: ${parsed.detail}`);
        case 'unknown':
          slog.info({ event: parsed.event }, 'ignored unknown Media Streams event');
          return;
      }
      const msg = parsed.message;
      if (phase === 'awaiting-start') {
        if (msg.event === 'connected') return;
        if (msg.event === 'start') return accept(msg);
        if (msg.event === 'stop') return void (ws.close(1000), finish('stop'));
        return fail(1008, `${msg.event} before start`);
      }
      if (msg.event === 'connected' || msg.event === 'start') return fail(1008, `duplicate ${msg.event}`);
      const ev = toInboundEvent(msg);
      if (ev) transport!.deliver(ev);
      if (msg.event === 'stop') finish('stop');
    });

    ws.on('error', (err: Error & { code?: string }) => {
      // ws reports oversized frames (WS_ERR_UNSUPPORTED_MESSAGE_LENGTH, closed 1009) and invalid UTF-8 here.
      slog.warn({ code: err.code }, 'media stream socket error');
      finish('socket error');
    });

    ws.on('close', (code: number) => {
      sockets.delete(ws);
      if (phase !== 'done') slog.info({ code }, 'media stream closed by peer');
      finish('closed');
      notifyIfIdle();
    });

    function accept(msg: TwilioStart): void {
      clearTimeout(startTimer);
      const { callSid, streamSid, accountSid, customParameters } = msg.start;
      const agent = customParameters.agent ?? '';
      const caller = customParameters.caller ?? '';
      slog = log.child({ callSid, streamSid, agent });
      const check = verifyStreamToken(config.STREAM_TOKEN_KEY, customParameters.token, { callSid, caller, agent });
      if (!check.ok) return fail(1008, `stream token ${check.reason}`);
      if (!agent) return fail(1008, 'start has no agent parameter');
      // A stream that upgraded before a drain began is accepted: Twilio will not retry it on another task.

      phase = 'live';
      controller = new AbortController();
      active.set(ws, controller);
      transport = new TwilioTransport({
        streamSid,
        callSid,
        calls,
        log: slog,
        send: (text) => {
          if (ws.readyState === ws.OPEN) ws.send(text);
        },
      });
      const start: StreamStart = {
        callSid,
        streamSid,
        accountSid,
        agent,
        ...(caller ? { caller } : {}),
        customParameters,
        startedAt: Date.now(),
      };
      slog.info({ activeCalls: active.size }, 'call started');
      const run = (async () => deps.onCall({ start, transport: transport!, signal: controller!.signal, log: slog }))()
        .catch((err: unknown) => slog.error({ err }, 'call handler failed'))
        .finally(() => {
          handlers.delete(run);
          // The handler is done with the call: closing the socket lets Twilio continue (or end) the call.
          if (ws.readyState === ws.OPEN) ws.close(1000, 'call ended');
          slog.info({ droppedMedia: transport!.droppedMedia }, 'call handler finished');
          notifyIfIdle();
        });
      handlers.add(run);
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

  return {
    server,
    listen(port = config.PORT) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, () => {
          server.off('error', reject);
          resolve((server.address() as import('node:net').AddressInfo).port);
        });
      });
    },
    async drain(timeoutMs = config.DRAIN_SECONDS * 1000) {
      draining = true;
      log.info({ activeCalls: active.size, timeoutMs }, 'draining: refusing new calls');
      if (await waitIdle(timeoutMs)) return log.info('drained: all calls ended');
      log.warn({ activeCalls: active.size }, 'drain timeout: aborting remaining calls');
      for (const c of active.values()) c.abort('drain timeout');
      for (const ws of sockets) ws.close(1001, 'server shutting down');
      await waitIdle(ABORT_GRACE_MS);
    },
    activeCalls: () => active.size,
    async close() {
      draining = true;
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
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
