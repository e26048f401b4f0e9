// Every /media socket of the task from upgrade to close: the caps (waiting for `start`, live calls), the stream token claim, live delivery to the call handler, the silence watch, and waiting for calls to end (drain).
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import type { Config } from '../config';
import type { Logger } from '../observability/logger';
import type { StreamClaims } from '../store/stream-claims';
import { StreamGuard } from '../telephony/stream-guard';
import { claimsFromParameters, verifyStreamToken } from '../telephony/stream-token';
import { isValidTwilioSignature } from '../telephony/twilio-signature';
import { parseTwilioMessage, toInboundEvent, type TwilioInbound, type TwilioStart } from '../telephony/twilio-protocol';
import { TwilioTransport, type CallControl } from '../telephony/twilio-transport';
import type { CallHandler, StreamStart } from '../telephony/accepted-call';
import { refuseUpgrade } from './http';

/** Messages that arrive while a `start` is being claimed, at most (then the stream is closed: a real peer sends ~5). */
const MAX_HELD_WHILE_CLAIMING = 500;
/** After a drain timeout aborts calls, time their handlers get to flush transcripts and metrics. */
export const ABORT_GRACE_MS = 5_000;

/** What the streams of a task share. */
export interface StreamContext {
  config: Config;
  log: Logger;
  onCall: CallHandler;
  calls: CallControl;
  claims: StreamClaims;
  liveCalls?: { begin(callSid: string): Promise<void>; end(callSid: string): Promise<void> };
}

/** The task's /media sockets, by phase, and the call handlers still running. */
export class Streams {
  /** Every open /media socket. */
  readonly sockets = new Set<WebSocket>();
  /** Sockets that have not presented a valid `start` yet: their own small cap, never counted as calls. */
  readonly pending = new Set<WebSocket>();
  /** Sockets past a valid-looking `start` (being claimed or live): these count toward MAX_CALLS. */
  readonly started = new Set<WebSocket>();
  /** Accepted calls: their abort controllers. */
  readonly active = new Map<WebSocket, AbortController>();
  /** Handlers still running (they may outlive their socket while flushing). */
  readonly handlers = new Set<Promise<void>>();
  draining = false;
  private readonly idleWaiters = new Set<() => void>();
  private evicted = 0;

  constructor(readonly ctx: StreamContext) {}

  atCapacity(): boolean {
    return this.started.size >= this.ctx.config.MAX_CALLS;
  }

  notifyIfIdle(): void {
    if (this.active.size === 0 && this.handlers.size === 0) for (const w of this.idleWaiters) w();
  }

  waitIdle(ms: number): Promise<boolean> {
    if (this.active.size === 0 && this.handlers.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (idle: boolean) => {
        clearTimeout(timer);
        this.idleWaiters.delete(onIdle);
        resolve(idle);
      };
      const onIdle = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.idleWaiters.add(onIdle);
    });
  }

  /** Refuses new calls, waits for the live ones; after `timeoutMs` aborts the rest and gives their handlers a grace to flush. */
  async drain(timeoutMs: number): Promise<void> {
    const { log } = this.ctx;
    this.draining = true;
    log.info({ activeCalls: this.active.size, timeoutMs }, 'draining: refusing new calls');
    for (const ws of this.pending) ws.close(1001, 'server shutting down');
    if (await this.waitIdle(timeoutMs)) return log.info('drained: all calls ended');
    log.warn({ activeCalls: this.active.size }, 'drain timeout: aborting remaining calls');
    for (const c of this.active.values()) c.abort('drain timeout');
    for (const ws of this.sockets) ws.close(1001, 'server shutting down');
    await this.waitIdle(ABORT_GRACE_MS);
  }

  /**
   * A socket past the upgrade checks. Not-yet-started sockets have their own cap and never take a call's slot. The
   * signature on an upgrade is the same for every stream (it covers only the URL), so a captured one can be replayed:
   * when the cap is reached the oldest waiting socket goes, never the newcomer. Twilio sends `start` right after the
   * upgrade, so a real stream is the youngest and keeps its place.
   */
  admit(ws: WebSocket, socket: Duplex): void {
    if (this.pending.size >= this.ctx.config.MAX_PENDING_STREAMS) {
      const oldest = this.pending.values().next().value as WebSocket;
      this.pending.delete(oldest);
      oldest.close(1013, 'too many streams waiting for start');
      this.evicted++;
      if (this.evicted === 1 || this.evicted % 100 === 0) this.ctx.log.warn({ evicted: this.evicted, pending: this.pending.size }, 'evicted a media stream that had not started');
    }
    this.open(ws, socket);
  }

  private open(ws: WebSocket, socket: Duplex): void {
    this.sockets.add(ws);
    this.pending.add(ws);
    const st = new StreamState(ws, socket, this);
    ws.on('message', (data: RawData, isBinary: boolean) => st.onMessage(data, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      // ws reports oversized frames (WS_ERR_UNSUPPORTED_MESSAGE_LENGTH, closed 1009) and invalid UTF-8 here.
      st.log.warn({ code: err.code }, 'media stream socket error');
      st.finish('socket error');
    });
    ws.on('close', (code: number) => {
      this.sockets.delete(ws);
      if (st.phase !== 'done') st.log.info({ code }, 'media stream closed by peer');
      st.finish('closed');
      this.notifyIfIdle();
    });
  }
}

/** An HTTP upgrade to /media: refused (404, 503 draining or full, 403 unsigned) before any socket exists, else admitted. */
export function onUpgrade(streams: Streams, wss: WebSocketServer, streamUrl: string, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  const { config, log } = streams.ctx;
  // A client that resets mid-handshake must not crash the process (an unhandled 'error' on the raw socket would).
  socket.on('error', (err) => log.debug({ err }, 'upgrade socket error'));
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/media') return refuseUpgrade(socket, 404, 'Not Found');
  if (streams.draining) return refuseUpgrade(socket, 503, 'Service Unavailable');
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
  if (streams.atCapacity()) {
    log.warn({ calls: streams.started.size, maxCalls: config.MAX_CALLS }, 'refused media stream: no capacity');
    return refuseUpgrade(socket, 503, 'Service Unavailable');
  }
  wss.handleUpgrade(req, socket, head, (ws) => streams.admit(ws, socket));
}

/** One /media socket from upgrade to close: start timeout, token claim, live delivery, silence watch. */
class StreamState {
  phase: 'awaiting-start' | 'claiming' | 'live' | 'done' = 'awaiting-start';
  log: Logger;
  private transport: TwilioTransport | undefined;
  private controller: AbortController | undefined;
  private readonly guard = new StreamGuard();
  private readonly held: TwilioInbound[] = [];
  private readonly startTimer: NodeJS.Timeout;
  private silenceTimer: NodeJS.Timeout | undefined;
  private lastMedia = 0;
  private silenced = false;

  constructor(
    private readonly ws: WebSocket,
    /** The socket under `ws`: corked while one burst of agent audio is written. */
    private readonly socket: Duplex,
    private readonly streams: Streams,
  ) {
    const { config, log } = streams.ctx;
    this.log = log;
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
    this.streams.pending.delete(this.ws);
    this.streams.started.delete(this.ws);
    this.transport?.end();
    if (this.controller) {
      this.streams.active.delete(this.ws);
      this.controller.abort(reason);
    }
    this.streams.notifyIfIdle();
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
    const { config, log, claims } = this.streams.ctx;
    const { callSid, streamSid, customParameters } = msg.start;
    const agent = customParameters.agent ?? '';
    this.log = log.child({ callSid, streamSid, agent });
    const check = verifyStreamToken(config.STREAM_TOKEN_KEY, customParameters.token, claimsFromParameters(callSid, customParameters));
    if (!check.ok) return this.fail(1008, `stream token ${check.reason}`);
    if (!agent) return this.fail(1008, 'start has no agent parameter');
    if (this.streams.atCapacity()) return this.fail(1013, 'no capacity'); // 1013 Try Again Later (RFC 6455 §7.4.1 registry)
    this.streams.pending.delete(this.ws);
    this.streams.started.add(this.ws);
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
    const { streams } = this;
    const { calls, liveCalls, onCall } = streams.ctx;
    this.phase = 'live';
    const controller = (this.controller = new AbortController());
    streams.active.set(this.ws, controller);
    const ws = this.ws;
    const transport = (this.transport = new TwilioTransport({
      streamSid, callSid, calls, log: this.log,
      send: (text) => {
        if (ws.readyState !== ws.OPEN) return;
        corkUntilNextTick(this.socket);
        ws.send(text);
      },
    }));
    const start: StreamStart = { callSid, streamSid, accountSid, agent: customParameters.agent!, ...(caller ? { caller } : {}), customParameters, startedAt: Date.now() };
    this.lastMedia = start.startedAt;
    this.watchSilence();
    this.log.info({ activeCalls: streams.active.size }, 'call started');
    void liveCalls?.begin(callSid).catch(() => undefined);
    const run = (async () => onCall({ start, transport, signal: controller.signal, log: this.log }))()
      .catch((err: unknown) => this.log.error({ err }, 'call handler failed'))
      .finally(() => {
        streams.handlers.delete(run);
        void liveCalls?.end(callSid).catch(() => undefined);
        // The handler is done with the call: closing the socket lets Twilio continue (or end) the call.
        if (ws.readyState === ws.OPEN) ws.close(1000, 'call ended');
        this.log.info({ droppedMedia: transport.droppedMedia }, 'call handler finished');
        streams.notifyIfIdle();
      });
    streams.handlers.add(run);
  }

  /**
   * Ends the call's inbound after MEDIA_SILENCE_SECONDS without `media` (a dead leg): the handler sees its inbound
   * end as after a stop, and if it has not settled within the abort grace its signal is aborted too.
   */
  private watchSilence(): void {
    const limit = this.streams.ctx.config.MEDIA_SILENCE_SECONDS * 1000;
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

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

const corked = new WeakSet<Duplex>();

/**
 * Buffers what this tick writes to `socket` and flushes it as one write on the next tick: a TTS chunk leaves as
 * many 20 ms media frames (+ its mark) in one synchronous burst, which would otherwise cost a socket write each.
 * Node's stream docs (nodejs.org/api/stream.html#writableuncork): "defer calls to writable.uncork() using
 * process.nextTick(). Doing so allows batching of all writable.write() calls that occur within a given Node.js event
 * loop phase"; cork calls nest, so ws's own cork/uncork around a frame's two parts (ws/lib/sender.js sendFrame) stays inside this one.
 */
function corkUntilNextTick(socket: Duplex): void {
  if (corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  process.nextTick(() => {
    corked.delete(socket);
    socket.uncork();
  });
}
