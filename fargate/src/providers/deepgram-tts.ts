// Deepgram Aura-2 streaming TTS over wss /v1/speak (raw `ws`): text pieces → Speak/Flush, binary μ-law frames → TtsChunk, Clear on abort.
import WebSocket from 'ws';
import type { Logger } from '../observability/logger';
import { AsyncQueue } from './async-queue';
import type { TextToSpeech, TtsChunk } from './types';
import type { PooledSocket } from './warm-pool';

/*
 * Protocol: Deepgram's AsyncAPI for /v1/speak (client Speak{text}/Flush/Clear/Close; server binary audio,
 * Metadata, Flushed{sequence_id}, Cleared{sequence_id}, Warning{description, code}), query encoding/sample_rate/model,
 * header `Authorization: Token <key>`. Flush "forces the generation of audio from Deepgram's internal text buffer";
 * at most 20 Flush per 60 s, beyond which a Warning comes back (developers.deepgram.com/docs/tts-ws-flush).
 *
 * Raw `ws`, not @deepgram/sdk: the SDK's speak v1 socket runs every message, binary audio included, through
 * JSON.parse (dist/esm/api/resources/speak/resources/v1/client/Socket.mjs handleMessage → core/json.mjs fromJson), so
 * it cannot deliver audio frames in Node.
 *
 * Aura sends no alignment, so TtsChunk.alignment is absent (the failover estimates where a reply broke off).
 */

export interface DeepgramTtsOptions {
  /** The same Deepgram key as STT (DEEPGRAM_API_KEY). */
  apiKey: string;
  /** Override of wss://api.deepgram.com (DEEPGRAM_TTS_URL; the local emulator). http(s) and ws(s) schemes both work. */
  url?: string;
  /** DEEPGRAM_TTS_MODEL, an Aura-2 voice. @default 'aura-2-thalia-en' */
  model?: string;
  log: Logger;
  /** Handshake timeout. @default 5000 */
  connectTimeoutMs?: number;
}

export class DeepgramTtsError extends Error {
  override name = 'DeepgramTtsError';
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** One open /v1/speak socket for one call: replies are spoken one after another over it. */
export interface DeepgramTtsConnection extends TextToSpeech, PooledSocket {}

export interface DeepgramTts {
  /** Stable string of the connection options (model, format): the warm-pool key. Holds no secret. */
  readonly key: string;
  connect(signal?: AbortSignal): Promise<DeepgramTtsConnection>;
}

/** Deepgram's Flush budget: 20 per 60 s (tts-ws-flush "Limits"). */
export const FLUSH_LIMIT = 20;
const FLUSH_WINDOW_MS = 60_000;

/** Remembers Flush times so mid-reply flushes are skipped before the budget runs out; the end-of-reply Flush always goes. */
export class FlushBudget {
  private sent: number[] = [];
  constructor(private readonly now: () => number = Date.now) {}
  /** Whether an optional (mid-reply) flush fits, keeping `reserve` flushes for reply ends. */
  allows(reserve = 5): boolean {
    this.prune();
    return this.sent.length < FLUSH_LIMIT - reserve;
  }
  record(): void {
    this.sent.push(this.now());
  }
  private prune(): void {
    const t = this.now() - FLUSH_WINDOW_MS;
    while (this.sent.length && this.sent[0]! <= t) this.sent.shift();
  }
}

/** A piece that ends a sentence is worth a mid-reply Flush (audio starts without waiting for the whole reply). */
const endsSentence = (t: string) => /[.!?]["')\]]*\s*$/.test(t);

class Connection implements DeepgramTtsConnection {
  isOpen = true;
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  private current: { q: AsyncQueue<TtsChunk>; pendingFlushes: number; textDone: boolean; clearing: boolean } | undefined;
  /** Clear messages not yet answered with Cleared: audio and Flushed until then belong to an abandoned reply. */
  private unanswered = 0;
  private readonly budget = new FlushBudget();

  constructor(
    private readonly ws: WebSocket,
    private readonly log: Logger,
  ) {
    this.closed = new Promise((r) => (this.markClosed = r));
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    ws.on('error', (e) => log.warn({ provider: 'deepgram-tts', err: e.message }, 'deepgram tts socket error'));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const cur = this.unanswered > 0 ? undefined : this.current;
    if (isBinary) {
      if (cur && data.length) cur.q.push({ audio: new Uint8Array(data) });
      return;
    }
    let msg: { type?: string; description?: string; code?: string };
    try {
      msg = JSON.parse(data.toString()) as typeof msg;
    } catch {
      return;
    }
    if (msg.type === 'Warning') this.log.warn({ provider: 'deepgram-tts', code: msg.code, description: msg.description }, 'deepgram tts warning');
    if (msg.type === 'Cleared') this.unanswered = Math.max(0, this.unanswered - 1);
    if (msg.type === 'Flushed' && cur) {
      cur.pendingFlushes -= 1;
      if (cur.textDone && cur.pendingFlushes <= 0) cur.q.end();
    }
  }

  private onClose(code: number, reason: string): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.markClosed();
    this.current?.q.fail(new DeepgramTtsError(`Deepgram TTS closed the socket: ${code}${reason ? ` ${reason}` : ''}`, code));
  }

  private sendJson(msg: object): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private flush(): void {
    this.budget.record();
    this.current!.pendingFlushes += 1;
    this.sendJson({ type: 'Flush' });
  }

  synthesize(text: AsyncIterable<string>, signal: AbortSignal): AsyncIterable<TtsChunk> {
    const self = this;
    return (async function* () {
      if (self.current) throw new DeepgramTtsError('a Deepgram TTS connection speaks one reply at a time');
      const q = new AsyncQueue<TtsChunk>();
      const cur = { q, pendingFlushes: 0, textDone: false, clearing: false };
      self.current = cur;
      if (!self.isOpen) q.fail(new DeepgramTtsError('Deepgram TTS socket closed before the reply'));
      const onAbort = () => {
        // Barge-in: Clear drops Deepgram's buffer and queued audio; audio until Cleared is discarded.
        if (cur.clearing) return;
        cur.clearing = true;
        if (self.isOpen) (self.unanswered += 1), self.sendJson({ type: 'Clear' });
        q.end();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void (async () => {
        try {
          for await (const piece of text) {
            if (cur.clearing || q.settled) return;
            if (!piece) continue;
            self.sendJson({ type: 'Speak', text: piece });
            if (endsSentence(piece) && self.budget.allows()) self.flush();
          }
          if (cur.clearing || q.settled) return;
          cur.textDone = true;
          self.flush(); // end of reply: speak what is left, Flushed ends the synthesis
        } catch (err) {
          q.fail(err);
        }
      })();
      try {
        yield* q;
      } finally {
        signal.removeEventListener('abort', onAbort);
        if (!(q.settled && cur.textDone)) onAbort();
        self.current = undefined;
      }
    })();
  }

  close(): void {
    if (!this.isOpen) return;
    this.sendJson({ type: 'Close' });
    this.ws.close(1000);
    this.onClose(1000, '');
  }
}

const toWs = (url: string) => url.replace(/^http/, 'ws');

/**
 * Creates the Deepgram Aura-2 TTS (μ-law 8 kHz, the Twilio format, so nothing is transcoded).
 *
 * @example
 * const tts = createDeepgramTts({ apiKey: cfg.DEEPGRAM_API_KEY!, url: cfg.DEEPGRAM_TTS_URL, log });
 * const conn = await tts.connect();
 * for await (const chunk of conn.synthesize(clauses, reply.signal)) transport.play(chunk.audio);
 */
export function createDeepgramTts(opts: DeepgramTtsOptions): DeepgramTts {
  const model = opts.model ?? 'aura-2-thalia-en';
  const query = new URLSearchParams({ model, encoding: 'mulaw', sample_rate: '8000' });
  const endpoint = `${toWs(opts.url ?? 'wss://api.deepgram.com').replace(/\/$/, '')}/v1/speak?${query}`;
  return {
    key: `deepgram-tts:${query}`,
    async connect(signal) {
      signal?.throwIfAborted();
      const ws = new WebSocket(endpoint, { headers: { Authorization: `Token ${opts.apiKey}` }, handshakeTimeout: opts.connectTimeoutMs ?? 5000 });
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => (ws.terminate(), reject(new DeepgramTtsError('Deepgram TTS connect aborted')));
        signal?.addEventListener('abort', onAbort, { once: true });
        ws.once('open', () => (signal?.removeEventListener('abort', onAbort), resolve()));
        ws.once('unexpected-response', (_req, res) => (ws.terminate(), reject(new DeepgramTtsError(`Deepgram TTS upgrade refused: HTTP ${res.statusCode}`, res.statusCode))));
        ws.once('error', (e) => reject(new DeepgramTtsError(`Deepgram TTS connect failed: ${e.message}`)));
      });
      return new Connection(ws, opts.log);
    },
  };
}
