// Deepgram streaming STT (Nova v1 and Flux v2) through @deepgram/sdk: wire messages ⇄ SttEvent, keep-alives, finalize, close.
import { DeepgramClient } from '@deepgram/sdk';
import type { Logger } from '../observability/logger';
import { AsyncQueue } from './async-queue';
import { onKeepAliveTick } from './keepalive-clock';
import { rechunker, type Rechunker } from './rechunk';
import type { Mulaw, SpeechToText, SttEvent, SttWord } from './types';
import type { PooledSocket } from './warm-pool';

/** Nova endpointing settings fixed at the handshake (Deepgram v1 has no way to change them on an open socket). */
export interface SttProfile {
  /** `endpointing`: ms of silence before `speech_final`. */
  endpointingMs: number;
  /** `utterance_end_ms`: Deepgram refuses values below 1000 at the upgrade (protocols.md §2.2). */
  utteranceEndMs: number;
}

/** Flux end-of-turn settings (`/v2/listen`). */
export interface FluxSettings {
  /** `eot_threshold` (Deepgram default 0.7). */
  eotThreshold: number;
  /** `eager_eot_threshold` (0.3–0.9): enables EagerEndOfTurn/TurnResumed. @default off */
  eagerEotThreshold?: number;
  /** `eot_timeout_ms`: end the turn after this much silence whatever the model says. @default 5000 (Deepgram) */
  eotTimeoutMs?: number;
}

export interface DeepgramSttOptions {
  apiKey: string;
  /** Override of wss://api.deepgram.com (DEEPGRAM_URL; the local emulator). http(s):// and ws(s):// both work. */
  url?: string;
  /** `nova-3` (v1 `/v1/listen`) or a Flux model `flux-*` (v2 `/v2/listen`). */
  model: string;
  profile: SttProfile;
  /** Flux thresholds; only read when `model` is a Flux model. @default Deepgram's defaults */
  flux?: FluxSettings;
  /** Repeatable `redact` values (see privacy/redaction `deepgramRedactParams`). @default none */
  redact?: string[];
  /** Repeatable `keyterm` boosts (Nova-3 and Flux). @default none */
  keyterms?: string[];
  log: Logger;
  /**
   * Idle time after which a keep-alive is sent. Deepgram closes a socket that receives no audio for 10 s
   * (1011 NET-0001) and asks for a KeepAlive every 3–5 s (developers.deepgram.com/docs/keep-alive).
   * @default 4000
   */
  keepAliveMs?: number;
  /** How long, after the audio ends, to wait for the final results of Finalize/CloseStream. @default 2000 */
  drainMs?: number;
  /** Handshake timeout. @default 5000 */
  connectTimeoutMs?: number;
}

/** One dialed, open Deepgram socket: kept alive while idle (so it can sit in a warm pool), transcribes one call. */
export interface DeepgramConnection extends SpeechToText, PooledSocket {}

/** The factory's product: dials on demand (`transcribe`) or ahead of time (`connect`, for the warm pool). */
export interface DeepgramStt extends SpeechToText {
  /** Stable string of every handshake option: sockets with the same key are interchangeable (the pool key). */
  readonly key: string;
  /** Dials and resolves once the socket is open; it is kept alive until used or closed. */
  connect(signal?: AbortSignal): Promise<DeepgramConnection>;
}

/** The stream failed: the upgrade was refused, or the socket closed without our CloseStream (e.g. 1011 NET-0001). */
export class SttError extends Error {
  override name = 'SttError';
  constructor(
    message: string,
    /** WebSocket close code when the socket closed. */
    readonly code?: number,
  ) {
    super(message);
  }
}

const BYTES_PER_SEC = 8000;
/**
 * Flux audio goes out in 80 ms chunks (640 B of 8 kHz μ-law): "Chunk Size: 80ms audio chunks strongly recommended
 * for optimal model performance and latency" (developers.deepgram.com/docs/flux/quickstart). Twilio's 20 ms frames
 * are gathered four to a chunk; v1 (Nova) takes them as they come. (Gathering two Nova frames per message, within
 * Deepgram's "between 20ms and 250ms of data at once", github.com/orgs/deepgram/discussions/224, changed neither the
 * media task's CPU nor voice-to-voice beyond run-to-run noise: 4 alternating 50-call bench runs each.)
 */
export const FLUX_CHUNK_BYTES = 640;
/** μ-law digital silence: Flux's keep-alive, since v2 has no KeepAlive message. */
const SILENCE = 0xff;

const isFlux = (model: string): boolean => model.startsWith('flux');

/** Deepgram message fields this file reads (the SDK types them per message; the mapping is tolerant by design). */
interface WireWord {
  word?: string;
  punctuated_word?: string;
  start?: number;
  end?: number;
  confidence?: number;
}
type WireMessage = Record<string, unknown> & { type?: string };

/** Maps Deepgram's audio time (s since the socket's first byte) to the call's inbound media timeline. */
export type TimeMap = (sttSeconds: number) => number;

const identity: TimeMap = (t) => t;

function words(list: unknown, toMedia: TimeMap): SttWord[] {
  if (!Array.isArray(list)) return [];
  return (list as WireWord[]).map((w) => ({
    word: w.punctuated_word ?? w.word ?? '',
    start: toMedia(w.start ?? 0),
    end: toMedia(w.end ?? w.start ?? 0),
    confidence: w.confidence ?? 0,
  }));
}

/**
 * One Nova (`/v1/listen`) server message → SttEvent, or undefined for messages the call loop does not need
 * (Metadata). Words keep Deepgram's start/end (seconds), moved onto the media timeline by `toMedia`.
 */
export function mapNovaMessage(msg: WireMessage, toMedia: TimeMap = identity): SttEvent | undefined {
  switch (msg.type) {
    case 'Results': {
      const alt = ((msg.channel as { alternatives?: Record<string, unknown>[] } | undefined)?.alternatives ?? [])[0] ?? {};
      return {
        kind: 'transcript',
        text: typeof alt.transcript === 'string' ? alt.transcript : '',
        words: words(alt.words, toMedia),
        confidence: typeof alt.confidence === 'number' ? alt.confidence : 0,
        isFinal: msg.is_final === true,
        // The endpointing docs show speech_final:true on a result with is_final:false, so the two stay independent.
        speechFinal: msg.speech_final === true,
        ...(msg.from_finalize === true ? { fromFinalize: true } : {}),
      };
    }
    case 'SpeechStarted':
      return { kind: 'speech-started', at: toMedia(typeof msg.timestamp === 'number' ? msg.timestamp : 0) };
    case 'UtteranceEnd':
      return { kind: 'utterance-end', lastWordEnd: toMedia(typeof msg.last_word_end === 'number' ? msg.last_word_end : 0) };
    default:
      return undefined;
  }
}

/**
 * One Flux (`/v2/listen`) server message → SttEvent. `TurnInfo` events map one to one; `Update` becomes a non-final
 * transcript. A fatal `Error` message throws SttError (Deepgram closes the socket after it).
 */
export function mapFluxMessage(msg: WireMessage, toMedia: TimeMap = identity): SttEvent | undefined {
  if (msg.type === 'Error') {
    throw new SttError(`Deepgram Flux error ${String(msg.code ?? 'UNKNOWN')}: ${String(msg.description ?? '')}`.trim());
  }
  if (msg.type !== 'TurnInfo') return undefined; // Connected, ConfigureSuccess/Failure
  const ws = words(msg.words, toMedia);
  const text = typeof msg.transcript === 'string' ? msg.transcript : '';
  // Flux gives per-word confidence only; the turn's confidence is their mean (end_of_turn_confidence is about timing).
  const confidence = ws.length ? ws.reduce((s, w) => s + w.confidence, 0) / ws.length : 0;
  // TurnInfo end_of_turn_confidence (spec ListenV2TurnInfo): how sure Flux is the turn is over, read by adaptive turn-taking.
  const eot = typeof msg.end_of_turn_confidence === 'number' ? { endOfTurnConfidence: msg.end_of_turn_confidence } : {};
  switch (msg.event) {
    case 'StartOfTurn': {
      const at = ws[0]?.start ?? toMedia(typeof msg.audio_window_start === 'number' ? msg.audio_window_start : 0);
      return { kind: 'speech-started', at };
    }
    case 'Update':
      return { kind: 'transcript', text, words: ws, confidence, isFinal: false, speechFinal: false, ...eot };
    case 'EagerEndOfTurn':
      return { kind: 'eager-end-of-turn', text, words: ws, confidence, ...eot };
    case 'TurnResumed':
      return { kind: 'turn-resumed' };
    case 'EndOfTurn':
      return { kind: 'end-of-turn', text, words: ws, confidence, ...eot };
    default:
      return undefined;
  }
}

/** The subset of the SDK's v1/v2 sockets used here (both have it; sendKeepAlive/sendFinalize are v1 only). */
interface SdkSocket {
  on(event: 'message', cb: (m: unknown) => void): void;
  on(event: 'close', cb: (e: { code?: number; reason?: string }) => void): void;
  on(event: 'error', cb: (e: Error) => void): void;
  on(event: 'open', cb: () => void): void;
  connect(): unknown;
  waitForOpen(): Promise<unknown>;
  close(): void;
  readonly readyState: number;
  sendMedia(m: ArrayBufferView): void;
  sendCloseStream(m: { type: 'CloseStream' }): void;
  sendKeepAlive?(m: { type: 'KeepAlive' }): void;
  sendFinalize?(m: { type: 'Finalize' }): void;
}

const OPEN = 1;

class Connection implements DeepgramConnection {
  isOpen = true;
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  private queue: AsyncQueue<SttEvent> | undefined;
  private used = false;
  /** We sent CloseStream (or closed ourselves): the close that follows is not an error. */
  private closing = false;
  private bytesSent = 0;
  /** Silence we injected to keep a Flux socket alive: [stt time it starts, seconds]. Subtracted from word times. */
  private readonly injected: [number, number][] = [];
  private lastSendAt = Date.now();
  /** Leaves the shared keep-alive clock (keepalive-clock.ts). */
  private readonly stopKeepAlive: () => void;
  /** Flux only: 20 ms frames → 80 ms chunks. */
  private readonly chunker: Rechunker | undefined;

  constructor(
    private readonly socket: SdkSocket,
    private readonly flux: boolean,
    private readonly opts: { log: Logger; keepAliveMs: number; drainMs: number },
  ) {
    this.closed = new Promise((r) => (this.markClosed = r));
    this.chunker = flux ? rechunker(FLUX_CHUNK_BYTES) : undefined;
    // The SDK's on() replaces the previous callback (README), so each event gets exactly one router, set once.
    socket.on('message', (m) => this.onMessage(m as WireMessage));
    socket.on('close', (e) => this.onClose(e.code ?? 1005, e.reason ?? ''));
    socket.on('error', (e) => this.opts.log.warn({ provider: 'deepgram', err: e.message }, 'deepgram socket error'));
    this.stopKeepAlive = onKeepAliveTick(Math.min(1000, opts.keepAliveMs), () => this.keepAlive());
  }

  private toMedia: TimeMap = (t) => {
    let shift = 0;
    for (const [at, sec] of this.injected) if (at < t) shift += sec;
    return Math.max(0, Math.round((t - shift) * 1000) / 1000);
  };

  private onMessage(msg: WireMessage): void {
    const q = this.queue;
    if (!q || !msg || typeof msg !== 'object') return; // idle (pooled) sockets: Flux `Connected` etc.
    try {
      const ev = this.flux ? mapFluxMessage(msg, this.toMedia) : mapNovaMessage(msg, this.toMedia);
      if (ev) q.push(ev);
    } catch (err) {
      q.fail(err);
    }
  }

  private onClose(code: number, reason: string): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.stopKeepAlive();
    this.markClosed();
    if (this.closing) this.queue?.end();
    else {
      // No silent auto-reconnect on a live call (reconnectAttempts: 0): the call loop decides what a lost STT means.
      this.queue?.fail(new SttError(`Deepgram closed the stream: ${code}${reason ? ` ${reason}` : ''}`, code));
    }
  }

  /** Deepgram closes after 10 s without audio: v1 gets a KeepAlive text frame, Flux (no KeepAlive on v2) a silence frame. */
  private keepAlive(): void {
    if (!this.isOpen || this.closing || this.socket.readyState !== OPEN) return;
    if (Date.now() - this.lastSendAt < this.opts.keepAliveMs) return;
    try {
      if (this.chunker) {
        // deepgram-python-sdk#649: a KeepAlive on Flux kills the socket (1005). Silence is audio, so its time is
        // remembered; it completes any partial chunk to one 80 ms chunk.
        const chunk = this.fluxChunk(this.chunker.take());
        this.socket.sendMedia(chunk);
        this.bytesSent += chunk.length;
      } else {
        this.socket.sendKeepAlive?.({ type: 'KeepAlive' });
      }
      this.lastSendAt = Date.now();
    } catch {
      // The socket closed between the check and the send; onClose reports it.
    }
  }

  /** A held-back partial chunk (possibly empty) completed to one 80 ms Flux chunk with silence, its time remembered as injected. */
  private fluxChunk(partial: Uint8Array): Uint8Array {
    const chunk = new Uint8Array(FLUX_CHUNK_BYTES).fill(SILENCE);
    chunk.set(partial);
    this.injected.push([(this.bytesSent + partial.length) / BYTES_PER_SEC, (FLUX_CHUNK_BYTES - partial.length) / BYTES_PER_SEC]);
    return chunk;
  }

  private send(frame: Mulaw): void {
    // "Sending an empty byte ... will cause unexpected closures" (Deepgram troubleshooting).
    if (!frame.length || !this.isOpen || this.socket.readyState !== OPEN) return;
    for (const chunk of this.chunker ? this.chunker.add(frame) : [frame]) this.sendNow(chunk);
  }

  private sendNow(chunk: Uint8Array): void {
    if (!chunk.length) return;
    this.socket.sendMedia(chunk);
    this.bytesSent += chunk.length;
    this.lastSendAt = Date.now();
  }

  /** Asks Deepgram to flush (v1 Finalize) and close (CloseStream); the socket closes with 1000 after the last results. */
  private async finish(): Promise<void> {
    if (!this.isOpen || this.closing) return;
    this.closing = true;
    try {
      // The last words: a partial Flux chunk is completed to 80 ms with silence, as the keep-alive does.
      const last = this.chunker?.take();
      if (last?.length && this.isOpen && this.socket.readyState === OPEN) this.sendNow(this.fluxChunk(last));
      if (!this.flux) this.socket.sendFinalize?.({ type: 'Finalize' });
      this.socket.sendCloseStream({ type: 'CloseStream' });
    } catch {
      // already closing
    }
    const drained = await Promise.race([this.closed.then(() => true), new Promise<false>((r) => setTimeout(r, this.opts.drainMs, false).unref())]);
    if (!drained) this.close();
  }

  transcribe(audio: AsyncIterable<Mulaw>, signal: AbortSignal): AsyncIterable<SttEvent> {
    if (this.used) throw new Error('a Deepgram connection transcribes one call; take another from the pool');
    this.used = true;
    const q = new AsyncQueue<SttEvent>();
    this.queue = q;
    if (!this.isOpen) q.fail(new SttError('Deepgram socket closed before the call started'));
    const onAbort = () => {
      // The call is over: best-effort Finalize/CloseStream so Deepgram stops billing, then stop at once.
      void this.finish();
      q.end();
    };
    const pump = async () => {
      try {
        for await (const frame of audio) {
          // An abort has already set `closing` (onAbort → finish), so the signal itself need not be read per frame.
          if (this.closing || !this.isOpen) break;
          this.send(frame);
        }
      } catch (err) {
        q.fail(err);
        this.close();
        return;
      }
      if (!signal.aborted) await this.finish(); // hang-up: flush the last words before ending
    };
    const self = this;
    return (async function* () {
      if (signal.aborted) return self.close();
      signal.addEventListener('abort', onAbort, { once: true });
      void pump();
      try {
        yield* q;
      } finally {
        signal.removeEventListener('abort', onAbort);
        if (self.isOpen && !self.closing) void self.finish();
      }
    })();
  }

  close(): void {
    this.closing = true;
    this.queue?.end();
    if (!this.isOpen) return;
    try {
      this.socket.close(); // fires our close handler synchronously (code 1000)
    } finally {
      this.onClose(1000, '');
    }
  }
}

/**
 * Creates the Deepgram STT for one set of handshake options (an agent's model, endpointing profile, redaction,
 * keyterms). `transcribe` dials per call; `connect` pre-dials for the warm pool (see warm-pool.ts).
 *
 * @example
 * const stt = createDeepgramStt({ apiKey, url: cfg.DEEPGRAM_URL, model: 'nova-3', profile: { endpointingMs: 500, utteranceEndMs: 1000 }, log });
 * const conn = await pools.acquire(stt.key, () => stt.connect());
 * for await (const ev of conn.transcribe(inboundAudio, call.signal)) detector.update(ev, Date.now(), audible);
 */
export function createDeepgramStt(opts: DeepgramSttOptions): DeepgramStt {
  const flux = isFlux(opts.model);
  if (!flux && opts.profile.utteranceEndMs < 1000) {
    throw new Error(`utteranceEndMs must be at least 1000 (Deepgram refuses utterance_end_ms below 1000), got ${opts.profile.utteranceEndMs}`);
  }
  if (!flux && (!Number.isInteger(opts.profile.endpointingMs) || opts.profile.endpointingMs < 10)) {
    throw new Error(`endpointingMs must be an integer ≥ 10, got ${opts.profile.endpointingMs}`);
  }
  const client = new DeepgramClient({ apiKey: opts.apiKey, ...(opts.url ? { baseUrl: opts.url } : {}) });
  const common = {
    encoding: 'mulaw',
    sample_rate: 8000,
    // The SDK silently redials up to 30 times on a non-1000 close; a live call must see the failure instead.
    reconnectAttempts: 0,
    connectionTimeoutInSeconds: (opts.connectTimeoutMs ?? 5000) / 1000,
    ...(opts.keyterms?.length ? { keyterm: opts.keyterms } : {}),
    // `redact` is repeatable; the SDK types it as one string, its query builder repeats arrays (arrayFormat "repeat").
    ...(opts.redact?.length ? { queryParams: { redact: opts.redact } } : {}),
  } as const;
  const v1Args = {
    ...common,
    model: opts.model,
    channels: 1,
    // The SDK types these booleans as string enums (protocols.md §2.6).
    interim_results: 'true',
    endpointing: opts.profile.endpointingMs,
    utterance_end_ms: opts.profile.utteranceEndMs,
    vad_events: 'true',
    smart_format: 'true',
    punctuate: 'true',
  };
  const v2Args = {
    ...common,
    model: opts.model,
    ...(opts.flux?.eotThreshold !== undefined ? { eot_threshold: opts.flux.eotThreshold } : {}),
    ...(opts.flux?.eagerEotThreshold !== undefined ? { eager_eot_threshold: opts.flux.eagerEotThreshold } : {}),
    ...(opts.flux?.eotTimeoutMs !== undefined ? { eot_timeout_ms: opts.flux.eotTimeoutMs } : {}),
  };
  const { reconnectAttempts: _r, connectionTimeoutInSeconds: _c, ...keyArgs } = flux ? v2Args : v1Args;
  const key = `deepgram:${JSON.stringify(keyArgs)}`;
  const tuning = { log: opts.log, keepAliveMs: opts.keepAliveMs ?? 4000, drainMs: opts.drainMs ?? 2000 };

  async function connect(signal?: AbortSignal): Promise<DeepgramConnection> {
    signal?.throwIfAborted();
    // Not the SDK's abortSignal: it would also close the socket after it was handed to a call (pool shutdown ≠ call end).
    const socket = (flux ? await client.listen.v2.connect(v2Args) : await client.listen.v1.connect(v1Args)) as unknown as SdkSocket;
    let failure: string | undefined;
    socket.on('error', (e) => (failure = e.message));
    let closeCode: number | undefined;
    socket.on('close', (e) => (closeCode = e.code));
    socket.connect(); // v5 sockets start closed: this dials
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(new SttError('Deepgram connect aborted'));
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = () => signal?.removeEventListener('abort', onAbort);
        socket.waitForOpen().then(
          () => (done(), resolve()),
          (e: unknown) => (done(), reject(e)),
        );
      });
    } catch (err) {
      socket.close();
      if (err instanceof SttError) throw err;
      throw new SttError(`Deepgram upgrade failed${failure ? `: ${failure}` : ''}${closeCode ? ` (${closeCode})` : ''}`, closeCode);
    }
    return new Connection(socket, flux, tuning);
  }

  return {
    key,
    connect,
    transcribe(audio, signal) {
      return (async function* () {
        const conn = await connect(signal);
        yield* conn.transcribe(audio, signal);
      })();
    },
  };
}
