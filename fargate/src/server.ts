// The media service's front door: node:http + ws (noServer) — health, the signed TwiML/pay webhooks, signed /media streams; /metrics on an internal port.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from './config';
import type { Logger } from './observability/logger';
import type { StreamClaims } from './store/stream-claims';
import { createCallControl, type CallControl } from './telephony/twilio-transport';
import { publicBase, streamUrlOf } from './telephony/twiml';
import type { CallHandler } from './telephony/accepted-call';
import { listenOn, send } from './server/http';
import { onUpgrade, Streams } from './server/streams';
import { twimlWebhook, type WebhookDeps } from './server/webhooks';

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

/** Largest WebSocket frame; a Twilio media frame is ~300 bytes of JSON. ws closes bigger ones with 1009. */
const MAX_FRAME_BYTES = 64 * 1024;

/** Builds the HTTP + WebSocket server (not yet listening). */
export function createMediaServer(deps: MediaServerDeps): MediaServer {
  const { config, log } = deps;
  const calls =
    deps.calls ??
    createCallControl({ accountSid: config.TWILIO_ACCOUNT_SID, authToken: config.TWILIO_AUTH_TOKEN, apiUrl: config.TWILIO_API_URL });
  const streams = new Streams({ config, log, onCall: deps.onCall, calls, claims: deps.streamClaims ?? processStreamClaims(), liveCalls: deps.liveCalls });
  const webhooks: WebhookDeps = { config, log, base: publicBase(config.PUBLIC_URL), agentFor: (n) => deps.agentFor(n) };
  const streamUrl = streamUrlOf(config.PUBLIC_URL);
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  const pinger = startPinger(streams.sockets, config.WS_PING_SECONDS * 1000);
  let metricsServer: http.Server | undefined;

  const readiness = (res: http.ServerResponse): void => {
    const ready = !streams.draining && !streams.atCapacity();
    send(res, ready ? 200 : 503, JSON.stringify({ ready, draining: streams.draining, activeCalls: streams.active.size, maxCalls: config.MAX_CALLS }), 'application/json');
  };
  const server = http.createServer((req, res) => {
    handleHttp(webhooks, readiness, req, res).catch((err: unknown) => {
      log.error({ err }, 'http handler failed');
      if (!res.headersSent) send(res, 500, 'internal error');
      else res.destroy();
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(streams, wss, streamUrl, req, socket, head));

  return {
    server,
    async listen(port = config.PORT) {
      const bound = await listenOn(server, port);
      if (deps.metrics) metricsServer = await listenMetrics(deps.metrics, config.METRICS_PORT, readiness, log);
      return bound;
    },
    metricsPort: () => (metricsServer?.address() as import('node:net').AddressInfo | null)?.port,
    drain: (timeoutMs = config.DRAIN_SECONDS * 1000) => streams.drain(timeoutMs),
    activeCalls: () => streams.active.size,
    async close() {
      streams.draining = true;
      clearInterval(pinger);
      for (const ws of streams.sockets) ws.terminate();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (metricsServer) await new Promise<void>((resolve) => metricsServer!.close(() => resolve()));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** The public listener's routes: liveness, readiness and the two signed webhooks. */
async function handleHttp(webhooks: WebhookDeps, readiness: (res: http.ServerResponse) => void, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  // /healthz is the ALB's liveness check. /ready stays here for the local stack's start-up wait; the ALB forwards
  // only /twiml, /pay-result and /media (lib/), and /metrics lives on the internal listener only.
  if (path === '/healthz') return void (req.method === 'GET' ? send(res, 200, 'ok') : send(res, 405, 'method not allowed'));
  if (path === '/ready') return req.method === 'GET' ? readiness(res) : send(res, 405, 'method not allowed');
  if (path === '/twiml' || path === '/pay-result') return req.method === 'POST' ? twimlWebhook(webhooks, req, res, path) : send(res, 405, 'method not allowed');
  send(res, 404, 'not found');
}

/** The internal listener: GET /metrics for the scraper and GET /ready; not forwarded by the ALB. Undefined when it could not bind. */
async function listenMetrics(m: MetricsEndpoint, port: number, readiness: (res: http.ServerResponse) => void, log: Logger): Promise<http.Server | undefined> {
  const srv = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(res, 405, 'method not allowed');
    if (path === '/ready') return readiness(res);
    if (path !== '/metrics') return send(res, 404, 'not found');
    m.render().then((text) => send(res, 200, text, m.contentType), (err: unknown) => (log.error({ err }, 'metrics render failed'), send(res, 500, 'internal error')));
  });
  try {
    await listenOn(srv, port);
    return srv;
  } catch (err) {
    // Metrics must never stop calls: a taken port (two local stacks on one machine) costs only the scrape.
    log.error({ err: { code: (err as { code?: string }).code }, port }, 'metrics listener not started');
    return undefined;
  }
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
