// ElevenLabs streaming TTS over the multi-stream-input WebSocket (raw `ws`: no SDK has a client) plus one-shot HTTP synthesis.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { Logger } from '../observability/logger';
import { AsyncQueue } from './async-queue';
import { onKeepAliveTick } from './keepalive-clock';
import type { Alignment, Mulaw, TextToSpeech, TtsChunk } from './types';
import type { PooledSocket } from './warm-pool';

export interface ElevenLabsTtsOptions {
  apiKey: string;
  /** Override of wss://api.elevenlabs.io (ELEVENLABS_URL; the local emulator). http(s) and ws(s) schemes both work. */
  url?: string;
  voiceId: string;
  /** ELEVENLABS_MODEL, e.g. eleven_flash_v2_5 (multi-context is not available for eleven_v3). */
  model: string;
  log: Logger;
  /** Sent once per context init. @default ElevenLabs voice defaults */
  voiceSettings?: { stability?: number; similarity_boost?: number; style?: number; use_speaker_boost?: boolean; speed?: number };
  /**
   * Idle time after which a keep-alive goes out. ElevenLabs ends a socket/context after `inactivity_timeout` (20 s by
   * default) without input. @default 10000
   */
  keepAliveMs?: number;
  /** `inactivity_timeout` query (s, ≤ 180): each context's own idle limit, headroom over the keep-alive period. @default 60 */
  inactivityTimeoutS?: number;
  /**
   * How a clause is made to speak at once (multi-stream-input has no `try_trigger_generation`; without one of these
   * the server waits for its default `chunk_length_schedule`, 120 characters, or the final flush):
   * `auto-mode` (`auto_mode=true`: "disabling chunk schedule and buffers. Recommended for full sentences/phrases"),
   * `flush` (`flush: true` on each clause) or `schedule` (`chunk_length_schedule` = {@link chunkLengthSchedule}).
   * Chosen by measurement (README "ElevenLabs generation trigger"). @default 'auto-mode'
   */
  generation?: GenerationTrigger;
  /** `schedule` only: the context's `chunk_length_schedule`. @default [50], the spec's minimum */
  chunkLengthSchedule?: number[];
  /**
   * Longest wait for a closed context's `isFinal` after its last frame; then the reply ends anyway, so a server that
   * never sends one cannot hold a transfer or `<Pay>` until the context timeout. @default 3000
   */
  finalWaitMs?: number;
  /** Handshake timeout. @default 5000 */
  connectTimeoutMs?: number;
  /** One-shot HTTP synthesis timeout. @default 15000 */
  httpTimeoutMs?: number;
}

/** A failure of the TTS socket or of one synthesis (vendor error frame, unexpected close, HTTP error). */
export class TtsError extends Error {
  override name = 'TtsError';
  constructor(
    message: string,
    /** WebSocket close code or HTTP status. */
    readonly code?: number,
  ) {
    super(message);
  }
}

/** One open multi-stream-input socket for one call: a context per reply, kept alive between replies and while pooled. */
export interface TtsConnection extends TextToSpeech, PooledSocket {}

export interface ElevenLabsTts {
  /** Stable string of the connection options (voice, model, format): the warm-pool key. Holds no secret. */
  readonly key: string;
  /** Dials multi-stream-input and resolves once open (keep-alive context initialised). */
  connect(signal?: AbortSignal): Promise<TtsConnection>;
  /**
   * Whole-phrase synthesis over HTTP (`POST /v1/text-to-speech/{voice}/stream?output_format=ulaw_8000`): for
   * greeting/filler audio cached once per voice and phrase.
   */
  synthesizeOnce(text: string, signal?: AbortSignal): Promise<Mulaw>;
  /**
   * `synthesizeOnce` memoised per phrase for this voice and model: greeting, filler and hand-off audio is made once
   * per task and replayed from memory. A failed synthesis is not kept, so the next call tries again.
   */
  phrase(text: string): Promise<Mulaw>;
}

/** "a limit of 5 concurrent contexts per connection" (multi-context guide); one is the keep-alive context. */
const MAX_CONTEXTS = 5;
const KEEPALIVE_CONTEXT = 'keepalive';

/** A server frame, tolerating both spellings seen in the wild (protocols.md §4.2). */
interface ServerFrame {
  audio?: string | null;
  isFinal?: boolean | null;
  is_final?: boolean | null;
  contextId?: string;
  context_id?: string;
  alignment?: WireAlignment | null;
  normalizedAlignment?: WireAlignment | null;
  normalized_alignment?: WireAlignment | null;
  message?: string;
  error?: string;
  code?: number;
}

interface WireAlignment {
  chars?: string[] | null;
  charStartTimesMs?: number[] | null;
  /** Current SDK serializer and pipecat spelling. */
  charDurationsMs?: number[] | null;
  /** Older spec spelling. */
  charsDurationsMs?: number[] | null;
}

/**
 * ElevenLabs alignment → Alignment. Prefers `alignment` (the characters as sent, which is what the heard-text
 * bookkeeping compares against) over `normalizedAlignment`; reads `charDurationsMs` or the spec's `charsDurationsMs`.
 * Null, absent or inconsistent alignment → undefined.
 */
export function toAlignment(frame: Pick<ServerFrame, 'alignment' | 'normalizedAlignment' | 'normalized_alignment'>): Alignment | undefined {
  const a = frame.alignment ?? frame.normalizedAlignment ?? frame.normalized_alignment;
  if (!a?.chars || !a.charStartTimesMs) return undefined;
  const durations = a.charDurationsMs ?? a.charsDurationsMs;
  if (!durations || durations.length !== a.chars.length || a.charStartTimesMs.length !== a.chars.length) return undefined;
  return { chars: [...a.chars], charStartMs: [...a.charStartTimesMs], charDurationMs: [...durations] };
}

/** What one server frame means for a context: its audio chunk (if any) and whether the context is finished. */
export function parseFrame(frame: ServerFrame): { contextId: string | undefined; chunk?: TtsChunk; final: boolean } {
  const contextId = frame.contextId ?? frame.context_id;
  let chunk: TtsChunk | undefined;
  if (typeof frame.audio === 'string' && frame.audio.length) {
    const alignment = toAlignment(frame);
    chunk = { audio: new Uint8Array(Buffer.from(frame.audio, 'base64')), ...(alignment ? { alignment } : {}) };
  }
  // Some servers put "isFinal": null on audio frames (not in AudioOutputMulti); a final frame may also carry audio (pipecat).
  return { contextId, ...(chunk ? { chunk } : {}), final: (frame.isFinal ?? frame.is_final) === true };
}

function wsBase(url: string | undefined): string {
  return (url ?? 'wss://api.elevenlabs.io').replace(/^http(s?):/, 'ws$1:').replace(/\/+$/, '');
}
function httpBase(url: string | undefined): string {
  return (url ?? 'https://api.elevenlabs.io').replace(/^ws(s?):/, 'http$1:').replace(/\/+$/, '');
}

interface ActiveContext {
  queue: AsyncQueue<TtsChunk>;
  /** Last client message naming this context: each context has its own `inactivity_timeout` clock. */
  lastSendAt: number;
  /** Initialised on the server (its `{"text":" "}` was sent): only then may a keep-alive name it (pipecat note). */
  initialised: boolean;
  /** close_context sent: the server finishes the flushed audio, then sends isFinal; no keep-alive may name it. */
  closed: boolean;
  /** Ends the reply when isFinal does not come (bounded wait after close_context). */
  finalTimer?: NodeJS.Timeout;
}

/** What a reply does at a clause end (see {@link ElevenLabsTtsOptions.generation}). */
export type GenerationTrigger = 'auto-mode' | 'flush' | 'schedule';

/** A context's first message: a lone space with the per-context settings ("Can only be provided in the first message"). */
export function initMessage(contextId: string, opts: Pick<ElevenLabsTtsOptions, 'voiceSettings' | 'generation' | 'chunkLengthSchedule'>): Record<string, unknown> {
  return {
    text: ' ',
    context_id: contextId,
    ...(opts.voiceSettings ? { voice_settings: opts.voiceSettings } : {}),
    ...(opts.generation === 'schedule' ? { generation_config: { chunk_length_schedule: opts.chunkLengthSchedule ?? SHORT_SCHEDULE } } : {}),
  };
}

/** One clause of a reply: SendTextMulti, or FlushContext (`flush: true`) when each clause is to be spoken at once. */
export function textMessage(contextId: string, piece: string, generation: GenerationTrigger): Record<string, unknown> {
  // "Should end with a single space" (SendTextMulti `text`); pieces are whole words/clauses from the chunker.
  const text = /\s$/.test(piece) ? piece : `${piece} `;
  return { text, context_id: contextId, ...(generation === 'flush' ? { flush: true } : {}) };
}

/** The shortest schedule the spec allows ("Each item should be in the range 50-500"). */
const SHORT_SCHEDULE = [50];

class Connection implements TtsConnection {
  isOpen = false;
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  private readonly contexts = new Map<string, ActiveContext>();
  /** Leaves the shared keep-alive clock (keepalive-clock.ts); a no-op until `start()`. */
  private stopKeepAlive: () => void = () => {};
  private closing = false;
  private seq = 0;
  private readonly keepaliveCtx = { lastSendAt: Date.now() };

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: ElevenLabsTtsOptions,
  ) {
    this.closed = new Promise((r) => (this.markClosed = r));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onFrame(data.toString());
    });
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    ws.on('error', (err) => opts.log.warn({ provider: 'elevenlabs', err: err.message }, 'elevenlabs socket error'));
  }

  /** Called once the socket is open: initialises the keep-alive context and joins the shared keep-alive clock. */
  start(): void {
    this.isOpen = true;
    // A dedicated context keeps an idle socket alive: {"text":"","context_id":X} resets the inactivity timeout only
    // for an initialised context (pipecat: a keep-alive before init gets the later init rejected with 1008).
    this.sendJson(initMessage(KEEPALIVE_CONTEXT, this.opts));
    this.keepaliveCtx.lastSendAt = Date.now();
    const every = this.opts.keepAliveMs ?? 10_000;
    this.stopKeepAlive = onKeepAliveTick(Math.min(1000, every), () => this.keepAlive(every));
  }

  private sendJson(obj: Record<string, unknown>): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(obj));
  }

  /**
   * "Timeout for inactivity before a context is closed" is per context, and KeepContextAlive "reset[s] its inactivity
   * timeout" for one context: every open context (the keep-alive one and a reply waiting on a long tool call) gets
   * its own `{"text":""}` once it has had no message for `every` ms, however busy the socket is.
   */
  private keepAlive(every: number): void {
    if (!this.isOpen || this.closing) return;
    const now = Date.now();
    for (const [id, ctx] of this.contexts) {
      if (ctx.initialised && !ctx.closed && now - ctx.lastSendAt >= every) {
        this.sendJson({ text: '', context_id: id });
        ctx.lastSendAt = now;
      }
    }
    if (now - this.keepaliveCtx.lastSendAt >= every) {
      this.sendJson({ text: '', context_id: KEEPALIVE_CONTEXT });
      this.keepaliveCtx.lastSendAt = now;
    }
  }

  private onFrame(raw: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(raw) as ServerFrame;
    } catch {
      return this.opts.log.warn({ provider: 'elevenlabs' }, 'unparseable elevenlabs frame ignored');
    }
    if (frame.error && !frame.audio) {
      // ElevenLabs errors: {"message","error","code"} then a close with that code (e.g. 1008 input_timeout_exceeded).
      const err = new TtsError(`ElevenLabs error ${frame.error}: ${frame.message ?? ''}`.trim(), frame.code);
      for (const ctx of this.contexts.values()) this.finish(ctx, err);
      this.contexts.clear();
      return;
    }
    const { contextId, chunk, final } = parseFrame(frame);
    const ctx = contextId ? this.contexts.get(contextId) : undefined;
    if (!ctx) return; // the keep-alive context, or late frames of a context we already finished
    if (chunk) {
      ctx.queue.push(chunk);
      if (ctx.closed) this.armFinalWait(contextId!, ctx);
    }
    // isFinal ends the context whichever reading the server follows ("sent when a context is closed", or after a
    // flush as the spec's example shows): either way the client has already sent close_context after its flush.
    if (final) this.endContext(contextId!, ctx);
  }

  /** Bounded wait for isFinal: the reply ends once the closed context has sent nothing for `finalWaitMs`. */
  private armFinalWait(id: string, ctx: ActiveContext): void {
    clearTimeout(ctx.finalTimer);
    ctx.finalTimer = setTimeout(() => {
      this.opts.log.info({ provider: 'elevenlabs', contextId: id }, 'no isFinal after close_context; ending the reply');
      this.endContext(id, ctx);
    }, this.opts.finalWaitMs ?? 3000);
    ctx.finalTimer.unref?.();
  }

  private endContext(id: string, ctx: ActiveContext): void {
    if (this.contexts.get(id) === ctx) this.contexts.delete(id);
    this.finish(ctx);
  }

  private finish(ctx: ActiveContext, err?: unknown): void {
    clearTimeout(ctx.finalTimer);
    if (err) ctx.queue.fail(err);
    else ctx.queue.end();
  }

  /** Sends close_context once (only for a context the server knows): it then finishes any flush and sends isFinal. */
  private closeContext(id: string, ctx: ActiveContext): void {
    if (ctx.closed) return;
    ctx.closed = true;
    if (ctx.initialised) {
      this.sendJson({ context_id: id, close_context: true });
      this.armFinalWait(id, ctx);
    } else this.endContext(id, ctx);
  }

  private onClose(code: number, reason: string): void {
    const wasOpen = this.isOpen;
    this.isOpen = false;
    this.stopKeepAlive();
    this.markClosed();
    const err = new TtsError(`ElevenLabs closed the socket: ${code}${reason ? ` ${reason}` : ''}`, code);
    for (const ctx of this.contexts.values()) this.finish(ctx, err);
    this.contexts.clear();
    if (wasOpen && !this.closing) this.opts.log.info({ provider: 'elevenlabs', code }, 'elevenlabs socket closed');
  }

  /** Contexts the server counts against its limit: opened and not yet closed. */
  private openContexts(): number {
    let n = 0;
    for (const ctx of this.contexts.values()) if (!ctx.closed) n++;
    return n;
  }

  synthesize(text: AsyncIterable<string>, signal: AbortSignal): AsyncIterable<TtsChunk> {
    const self = this;
    return (async function* () {
      if (signal.aborted) return;
      if (!self.isOpen) throw new TtsError('ElevenLabs socket is closed');
      if (self.openContexts() >= MAX_CONTEXTS - 1) {
        throw new TtsError(`too many open synthesis contexts (${self.openContexts()}); abort a reply before starting another (ElevenLabs allows ${MAX_CONTEXTS} per socket)`);
      }
      const id = `r${++self.seq}-${randomBytes(4).toString('hex')}`;
      const ctx: ActiveContext = { queue: new AsyncQueue<TtsChunk>(), lastSendAt: Date.now(), initialised: false, closed: false };
      self.contexts.set(id, ctx);
      // Abort (barge-in) or an early stop: close_context frees the slot, and the reply ends at once without its tail.
      const stop = () => {
        self.closeContext(id, ctx);
        self.endContext(id, ctx);
      };
      signal.addEventListener('abort', stop, { once: true });
      void self.pump(id, ctx, text, signal);
      try {
        for await (const chunk of ctx.queue) {
          if (signal.aborted) return;
          yield chunk;
        }
      } finally {
        signal.removeEventListener('abort', stop);
        stop();
      }
    })();
  }

  /** Sends a reply's clauses into its context; at the end flush, then close_context right away (what Pipecat does). */
  private async pump(id: string, ctx: ActiveContext, text: AsyncIterable<string>, signal: AbortSignal): Promise<void> {
    const generation = this.opts.generation ?? 'auto-mode';
    try {
      for await (const piece of text) {
        if (ctx.closed || signal.aborted) return;
        if (!piece.trim()) continue;
        if (!ctx.initialised) {
          this.sendJson(initMessage(id, this.opts));
          ctx.initialised = true;
        }
        this.sendJson(textMessage(id, piece, generation));
        ctx.lastSendAt = Date.now();
      }
      if (ctx.closed || signal.aborted) return;
      // "If it has already been set to flush it will continue flushing" (CloseContext): the audio still comes.
      if (ctx.initialised) this.sendJson({ context_id: id, flush: true });
      this.closeContext(id, ctx);
    } catch (err) {
      this.closeContext(id, ctx);
      this.contexts.delete(id);
      this.finish(ctx, err);
    }
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.ws.readyState === WebSocket.OPEN) {
      // "closes all contexts and closes the entire WebSocket connection" after pending flushes.
      this.ws.send(JSON.stringify({ close_socket: true }));
      const t = setTimeout(() => this.ws.terminate(), 2000);
      t.unref();
      this.ws.once('close', () => clearTimeout(t));
    } else if (this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
    for (const ctx of this.contexts.values()) this.finish(ctx);
    this.contexts.clear();
  }
}

/**
 * Creates the ElevenLabs TTS for one voice and model (ulaw_8000 out, no transcoding anywhere).
 *
 * @example
 * const tts = createElevenLabsTts({ apiKey, url: cfg.ELEVENLABS_URL, voiceId: agent.voiceId, model: cfg.ELEVENLABS_MODEL, log });
 * const conn = await pools.acquire(tts.key, (s) => tts.connect(s));   // one socket per call
 * for await (const chunk of conn.synthesize(clauses, reply.signal)) transport.play(chunk.audio);
 * conn.close();                                                         // at hang-up
 * const greeting = await tts.synthesizeOnce(agent.greeting);            // cached per voice + phrase
 */
export function createElevenLabsTts(opts: ElevenLabsTtsOptions): ElevenLabsTts {
  const query = new URLSearchParams({
    model_id: opts.model,
    output_format: 'ulaw_8000',
    inactivity_timeout: String(opts.inactivityTimeoutS ?? 60),
    // "Whether to include timing data with every audio chunk": the heard-text bookkeeping needs each chunk's alignment.
    sync_alignment: 'true',
    ...((opts.generation ?? 'auto-mode') === 'auto-mode' ? { auto_mode: 'true' } : {}),
  });
  const wsUrl = `${wsBase(opts.url)}/v1/text-to-speech/${encodeURIComponent(opts.voiceId)}/multi-stream-input?${query}`;
  const key = `elevenlabs:${opts.voiceId}:${opts.model}:ulaw_8000`;

  function connect(signal?: AbortSignal): Promise<TtsConnection> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl, { headers: { 'xi-api-key': opts.apiKey }, handshakeTimeout: opts.connectTimeoutMs ?? 5000 });
      const conn = new Connection(ws, opts);
      const onError = (err: Error) => fail(`ElevenLabs connect failed: ${err.message}`);
      const onRefused = (_req: unknown, res: import('node:http').IncomingMessage) => {
        res.resume();
        fail(`ElevenLabs refused the WebSocket upgrade: HTTP ${res.statusCode}`, res.statusCode);
      };
      const onAbort = () => fail('connect aborted');
      const detach = () => {
        signal?.removeEventListener('abort', onAbort);
        ws.off('error', onError);
        ws.off('unexpected-response', onRefused);
      };
      function fail(msg: string, code?: number) {
        detach();
        ws.terminate();
        reject(new TtsError(msg, code));
      }
      if (signal?.aborted) return fail('connect aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
      ws.on('unexpected-response', onRefused);
      ws.on('error', onError);
      ws.once('open', () => {
        detach();
        conn.start();
        resolve(conn);
      });
    });
  }

  async function synthesizeOnce(text: string, signal?: AbortSignal): Promise<Mulaw> {
    if (!text.trim()) throw new TtsError('synthesizeOnce needs non-empty text');
    const url = `${httpBase(opts.url)}/v1/text-to-speech/${encodeURIComponent(opts.voiceId)}/stream?output_format=ulaw_8000`;
    const timeout = AbortSignal.timeout(opts.httpTimeoutMs ?? 15_000);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'xi-api-key': opts.apiKey, 'content-type': 'application/json', accept: 'audio/basic' },
      body: JSON.stringify({ text, model_id: opts.model, ...(opts.voiceSettings ? { voice_settings: opts.voiceSettings } : {}) }),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    if (!res.ok) {
      const body = await res.text().catch(() => '');
      let status = '';
      try {
        status = (JSON.parse(body) as { detail?: { status?: string } }).detail?.status ?? '';
      } catch {
        // not JSON
      }
      throw new TtsError(`ElevenLabs HTTP ${res.status}${status ? ` ${status}` : ''}`, res.status);
    }
    return new Uint8Array(await res.arrayBuffer());
  }

  const phrases = new Map<string, Promise<Mulaw>>();
  function phrase(text: string): Promise<Mulaw> {
    let p = phrases.get(text);
    if (!p) {
      p = synthesizeOnce(text);
      phrases.set(text, p);
      p.catch(() => phrases.delete(text));
    }
    return p;
  }

  return { key, connect, synthesizeOnce, phrase };
}
