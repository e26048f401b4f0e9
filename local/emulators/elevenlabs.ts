// ElevenLabs TTS emulator: stream-input and multi-stream-input WebSockets plus HTTP /stream, speaking text as decodable μ-law tones.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { encodeToneText, TONE_BLOCK_SAMPLES } from '../audio/tone-text';
import {
  closeServer,
  createRng,
  listenLoopback,
  readBody,
  sampleLatency,
  sendJson,
  sleep,
  takeHttpFault,
  type EmulatorHandle,
  type FaultKnobs,
  type Latency,
} from './knobs';

/** One character = one tone block: 520 samples at 8 kHz = 65 ms. */
const MS_PER_CHAR = (TONE_BLOCK_SAMPLES / 8000) * 1000;
/** ElevenLabs default chunk_length_schedule (spec GenerationConfig). */
const DEFAULT_SCHEDULE = [120, 160, 250, 290];
/** "a limit of 5 concurrent contexts per connection" (multi-context guide). */
const MAX_CONTEXTS = 5;

/** Latency and fault knobs of the ElevenLabs emulator. */
export interface ElevenLabsKnobs extends FaultKnobs {
  /** @default 1 */
  seed?: number;
  /** Generation trigger (schedule threshold, flush, close...) → first audio frame of that generation. @default 150 (the seed budget) */
  firstByteMs?: Latency;
  /** Synthesis time per character between later audio chunks (real TTS runs faster than real time). @default 5 */
  msPerChar?: Latency;
  /** Overrides the inactivity timeout of each context and of a socket with none (otherwise `inactivity_timeout` query seconds, else 20 s). */
  inactivityTimeoutMs?: number;
  /**
   * When multi-stream-input sends a context's isFinal. `close` (default): only once the context is closed
   * (close_context, close_socket) or timed out: "This is sent when a context is closed" (`is_final`,
   * WebsocketTTSServerMessageMulti). `flush`: also after each flush, as the spec's own x-fern-example shows (a test
   * setting for the other reading). `never`: no isFinal at all (tests the client's bounded wait).
   */
  isFinalOn?: 'close' | 'flush' | 'never';
}

/** Options of startElevenLabsEmulator. */
export interface ElevenLabsEmulatorOptions {
  /** @default 0 (ephemeral) */
  port?: number;
  knobs?: ElevenLabsKnobs;
  /** When set, only this key is accepted; otherwise any non-empty key is. */
  apiKey?: string;
}

/** A text the emulator turned into audio (tests assert what the agent said). */
export interface GenerationRecord {
  voiceId: string;
  contextId?: string;
  text: string;
  at: number;
}

/** The running ElevenLabs emulator. */
export interface ElevenLabsEmulator extends EmulatorHandle {
  setKnobs(knobs: Partial<ElevenLabsKnobs>): void;
  /** Every generation, in order. */
  readonly generations: GenerationRecord[];
  /** multi-stream-input contexts closed by their own inactivity timeout, in order. */
  readonly timedOutContexts: string[];
}

/** Alignment object in the spec's spelling (`Alignment`/`NormalizedAlignment`: chars, charStartTimesMs, charsDurationsMs). */
function alignmentOf(text: string): { chars: string[]; charStartTimesMs: number[]; charsDurationsMs: number[] } {
  const chars = [...text];
  return { chars, charStartTimesMs: chars.map((_, i) => Math.round(i * MS_PER_CHAR)), charsDurationsMs: chars.map(() => Math.round(MS_PER_CHAR)) };
}

/** Splits a generation into audio chunks of one word each (with its trailing spaces), like the real per-chunk cadence. */
function chunksOf(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [];
}

interface Ctx {
  id: string | undefined;
  buffer: string;
  generationIndex: number;
  schedule: number[];
  /** Generations of this context run one after another. */
  chain: Promise<void>;
  closed: boolean;
  /** multi-stream-input: this context's own inactivity timer. */
  idle?: NodeJS.Timeout;
}

interface Emu {
  knobs: ElevenLabsKnobs;
  rng: () => number;
  apiKey: string | undefined;
  generations: GenerationRecord[];
  timedOutContexts: string[];
}

/** One stream-input or multi-stream-input socket. */
class TtsSession {
  private readonly contexts = new Map<string, Ctx>();
  /** Contexts that got a KeepContextAlive before their init: pipecat reports ElevenLabs then rejects the init with 1008. */
  private readonly poisoned = new Set<string>();
  private authed: boolean;
  private initialized = false;
  private closing = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly faultTimers: NodeJS.Timeout[] = [];
  private readonly single: Ctx;
  private readonly timeoutMs: number;
  /** auto_mode=true disables the chunk schedule and buffers: each text message is spoken at once. */
  private readonly autoMode: boolean;
  /** sync_alignment=true: "include timing data with every audio chunk"; otherwise only a generation's first chunk has it. */
  private readonly syncAlignment: boolean;

  constructor(
    private readonly ws: WebSocket,
    private readonly emu: Emu,
    private readonly voiceId: string,
    private readonly multi: boolean,
    query: URLSearchParams,
    headerKey: string | undefined,
  ) {
    this.authed = headerKey !== undefined && this.keyOk(headerKey);
    this.single = this.newCtx(undefined, undefined);
    const q = Number(query.get('inactivity_timeout'));
    this.timeoutMs = emu.knobs.inactivityTimeoutMs ?? (Number.isFinite(q) && q > 0 ? q * 1000 : 20_000);
    this.autoMode = query.get('auto_mode') === 'true';
    this.syncAlignment = query.get('sync_alignment') === 'true';
    const { dropAfterMs, closeWith } = emu.knobs;
    if (dropAfterMs !== undefined) this.faultTimers.push(setTimeout(() => ws.terminate(), dropAfterMs));
    if (closeWith) this.faultTimers.push(setTimeout(() => this.fail(closeWith.reason, `emulated fault: ${closeWith.reason}`, closeWith.code), closeWith.afterMs));
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.dispose());
    ws.on('error', () => this.dispose());
    this.armIdle();
  }

  private keyOk(key: unknown): boolean {
    return typeof key === 'string' && key.length > 0 && (this.emu.apiKey === undefined || key === this.emu.apiKey);
  }

  private newCtx(id: string | undefined, generationConfig: unknown): Ctx {
    const sched = (generationConfig as { chunk_length_schedule?: unknown } | undefined)?.chunk_length_schedule;
    const schedule = Array.isArray(sched) && sched.every((n) => typeof n === 'number') && sched.length ? (sched as number[]) : DEFAULT_SCHEDULE;
    return { id, buffer: '', generationIndex: 0, schedule, chain: Promise.resolve(), closed: false };
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (!this.multi || this.contexts.size === 0) this.timeOut();
    }, this.timeoutMs);
  }

  private timeOut(): void {
    const secs = (this.timeoutMs / 1000).toFixed(1);
    this.fail(
      'input_timeout_exceeded',
      `Have not received a new text input within the timeout of ${secs} seconds. Streaming input terminated. Please make sure to either feed the input in the timely manner, or to send the end of input text (empty string "") when done.`,
    );
  }

  /** ElevenLabs errors: a JSON frame {message, error, code} and then a close with that code. */
  fail(error: string, message: string, code = 1008): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.closing = true;
    this.ws.send(JSON.stringify({ message, error, code }));
    this.ws.close(code, error.slice(0, 120));
    this.dispose();
  }

  private send(obj: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(obj));
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    // multi-stream-input: each context times out on its own (armContextIdle); the socket one guards a socket without any.
    this.armIdle();
    let msg: Record<string, any>;
    try {
      if (isBinary) throw new Error('binary');
      msg = JSON.parse(data.toString());
      if (!msg || typeof msg !== 'object' || Array.isArray(msg)) throw new Error('not an object');
    } catch {
      return this.fail('invalid_input_message', 'Could not parse input message, make sure it is a json and follows the schema outlined in protocol.');
    }
    if (!this.authed) {
      // The key may come in the first message: the spec property is "xi-api-key", its examples use "xi_api_key".
      const key = msg['xi_api_key'] ?? msg['xi-api-key'] ?? msg['authorization'];
      if (!this.keyOk(typeof key === 'string' ? key.replace(/^Bearer\s+/i, '') : key)) {
        return this.fail('invalid_api_key', 'Invalid API key: send it in the xi-api-key header or as xi_api_key in the first message.');
      }
      this.authed = true;
    }
    if (this.multi) this.onMulti(msg);
    else this.onSingle(msg);
    // Once the client has asked to close, the remaining audio is still sent; no inactivity timeout applies.
    if (this.closing) clearTimeout(this.idleTimer);
  }

  private onSingle(msg: Record<string, any>): void {
    const ctx = this.single;
    if (!this.initialized) {
      if (typeof msg.text !== 'string') return this.fail('invalid_input_message', 'The first message must initialize the stream: {"text": " ", ...}.');
      this.initialized = true;
      Object.assign(ctx, this.newCtx(undefined, msg.generation_config));
      if (msg.text.trim()) this.addText(ctx, msg.text);
      return;
    }
    if (msg.text === '') {
      // CloseConnection: "sending a fully empty string, "", will close the WebSocket" after the remaining buffer is spoken.
      this.closing = true;
      this.generate(ctx, true);
      void ctx.chain.then(() => {
        if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
      });
      return;
    }
    if (typeof msg.text === 'string') this.addText(ctx, msg.text, msg.try_trigger_generation === true);
    if (msg.flush === true) this.generate(ctx, true);
  }

  private onMulti(msg: Record<string, any>): void {
    if (msg.close_socket === true) {
      // "closes all contexts and closes the entire WebSocket connection" after pending flushes.
      this.closing = true;
      const chains = [...this.contexts.values()].map((c) => {
        // "Any context that was previously set to flush will wait to flush before closing"; then each is closed.
        this.generate(c, false);
        this.closeContext(c);
        return c.chain;
      });
      void Promise.all(chains).then(() => {
        if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
      });
      return;
    }
    const id = typeof msg.context_id === 'string' && msg.context_id ? msg.context_id : 'default';
    let ctx = this.contexts.get(id);
    if (ctx) this.armContextIdle(ctx);
    if (!ctx) {
      if (msg.close_context === true || (msg.flush === true && msg.text === undefined)) return; // nothing to close or flush
      if (msg.text === '') {
        this.poisoned.add(id);
        return;
      }
      if (this.poisoned.has(id)) {
        return this.fail('invalid_input_message', `Context ${id} received a keep-alive before it was initialized; the context init is rejected.`);
      }
      if (this.contexts.size >= MAX_CONTEXTS) {
        return this.fail('max_active_conversations', `Too many open contexts: a connection allows at most ${MAX_CONTEXTS}. Close one with close_context first.`);
      }
      ctx = this.newCtx(id, msg.generation_config);
      this.contexts.set(id, ctx);
      this.armContextIdle(ctx);
    }
    // "If it has already been set to flush it will continue flushing"; unflushed text is dropped.
    if (msg.close_context === true) return this.closeContext(ctx);
    // try_trigger_generation is a field of stream-input's SendText only, of no multi-context message: ignored here.
    if (typeof msg.text === 'string' && msg.text !== '') this.addText(ctx, msg.text);
    // {"text": "", "context_id": X} is KeepContextAlive: it only reset this context's inactivity timer above.
    if (msg.flush === true) this.generate(ctx, this.emu.knobs.isFinalOn === 'flush');
  }

  /** Closes a multi-stream-input context: its pending generations finish, then isFinal ("sent when a context is closed"). */
  private closeContext(ctx: Ctx): void {
    ctx.buffer = '';
    ctx.closed = true;
    clearTimeout(ctx.idle);
    if (this.contexts.get(ctx.id!) === ctx) this.contexts.delete(ctx.id!);
    if (this.emu.knobs.isFinalOn !== 'never') ctx.chain = ctx.chain.then(() => this.send({ isFinal: true, contextId: ctx.id }));
  }

  /**
   * "Timeout for inactivity before a context is closed" (`inactivity_timeout`), per context: a context without a
   * message naming it for that long is closed on its own (its unflushed text dropped, isFinal sent). When that leaves
   * the socket without an open context, the socket ends with input_timeout_exceeded like an idle stream-input.
   */
  private armContextIdle(ctx: Ctx): void {
    clearTimeout(ctx.idle);
    ctx.idle = setTimeout(() => {
      if (ctx.closed || this.closing) return;
      this.emu.timedOutContexts.push(ctx.id!);
      this.closeContext(ctx);
      if (this.contexts.size === 0) void ctx.chain.then(() => this.timeOut());
    }, this.timeoutMs);
  }

  /** Buffers text; generates once the chunk_length_schedule threshold is reached, or at once with try_trigger_generation / auto_mode. */
  private addText(ctx: Ctx, text: string, trigger = false): void {
    // A lone " " (init, or the documented keep-alive) adds nothing to speak.
    if (!ctx.buffer && !text.trim()) return;
    ctx.buffer += text;
    const threshold = ctx.schedule[Math.min(ctx.generationIndex, ctx.schedule.length - 1)]!;
    if (trigger || this.autoMode || ctx.buffer.length >= threshold) this.generate(ctx, false);
  }

  /** Speaks the buffer (if any) after firstByteMs, word chunk by word chunk; `final` then sends isFinal (stream-input's end, or isFinalOn: 'flush'). */
  private generate(ctx: Ctx, final: boolean): void {
    const text = ctx.buffer.trim() ? ctx.buffer : '';
    ctx.buffer = '';
    if (text) ctx.generationIndex++;
    const readyAt = Date.now() + sampleLatency(this.emu.knobs.firstByteMs ?? 150, this.emu.rng);
    ctx.chain = ctx.chain.then(async () => {
      if (text) {
        this.emu.generations.push({ voiceId: this.voiceId, ...(this.multi ? { contextId: ctx.id } : {}), text, at: Date.now() });
        await sleep(readyAt - Date.now());
        const chunks = chunksOf(text);
        for (let i = 0; i < chunks.length; i++) {
          if (this.ws.readyState !== this.ws.OPEN) return;
          const chunk = chunks[i]!;
          // Only the spec's audio-message fields (AudioOutputMulti: audio, normalizedAlignment, alignment, contextId).
          // Without sync_alignment timing data is not promised on every chunk: here only a generation's first has it.
          const alignment = this.syncAlignment || i === 0 ? alignmentOf(chunk) : undefined;
          this.send({
            audio: Buffer.from(encodeToneText(chunk)).toString('base64'),
            ...(alignment ? { normalizedAlignment: alignment, alignment } : {}),
            ...(this.multi ? { contextId: ctx.id } : {}),
          });
          if (i < chunks.length - 1) await sleep(chunk.length * sampleLatency(this.emu.knobs.msPerChar ?? 5, this.emu.rng));
        }
      }
      if (final) this.send(this.multi ? { isFinal: true, contextId: ctx.id } : { isFinal: true });
    });
  }

  private dispose(): void {
    clearTimeout(this.idleTimer);
    for (const t of this.faultTimers) clearTimeout(t);
    for (const c of this.contexts.values()) clearTimeout(c.idle);
  }
}

const WS_PATH = /^\/v1\/text-to-speech\/([^/]+)\/(stream-input|multi-stream-input)$/;
const HTTP_PATH = /^\/v1\/text-to-speech\/([^/]+)(\/stream)?$/;

function refuse(socket: Duplex, status: number, detail: object, extra: Record<string, string> = {}): void {
  const body = JSON.stringify({ detail });
  const head = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close', ...extra };
  socket.end(`HTTP/1.1 ${status} Error\r\n${Object.entries(head).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`);
}

/**
 * Starts the ElevenLabs emulator. WebSocket clients use `ws://127.0.0.1:PORT/v1/text-to-speech/{voice}/stream-input?...`;
 * audio is `ulaw_8000` made by encodeToneText, so decodeToneText(audio) gives back the spoken text.
 */
export async function startElevenLabsEmulator(opts: ElevenLabsEmulatorOptions = {}): Promise<ElevenLabsEmulator> {
  const emu: Emu = { knobs: { ...opts.knobs }, rng: () => 0, apiKey: opts.apiKey, generations: [], timedOutContexts: [] };
  let rng = createRng(emu.knobs.seed ?? 1);
  emu.rng = () => rng();
  const sockets = new Set<WebSocket>();

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = HTTP_PATH.exec(url.pathname);
    if (!m || req.method !== 'POST') return sendJson(res, 404, { detail: { status: 'not_found', message: `No route ${req.method} ${url.pathname}` } });
    const delay = sampleLatency(emu.knobs.acceptDelayMs, emu.rng);
    if (delay > 0) await sleep(delay);
    const key = req.headers['xi-api-key'];
    if (typeof key !== 'string' || !key || (emu.apiKey !== undefined && key !== emu.apiKey)) {
      return sendJson(res, 401, { detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
    }
    const fault = takeHttpFault(emu.knobs);
    if (fault) {
      return sendJson(res, fault.status, { detail: { status: fault.status === 429 ? 'too_many_concurrent_requests' : 'internal_error', message: `emulated fault: HTTP ${fault.status}` } },
        fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {});
    }
    const format = url.searchParams.get('output_format') ?? 'mp3_44100_128';
    if (format !== 'ulaw_8000') {
      return sendJson(res, 422, { detail: { status: 'unsupported_output_format', message: `The local ElevenLabs emulator only produces output_format=ulaw_8000 (got ${format}).` } });
    }
    let body: { text?: unknown };
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return sendJson(res, 400, { detail: { status: 'invalid_request', message: 'Body must be JSON: {"text": "...", "model_id": "..."}' } });
    }
    if (typeof body.text !== 'string' || !body.text.trim()) {
      return sendJson(res, 422, { detail: [{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }] });
    }
    const text = body.text;
    emu.generations.push({ voiceId: decodeURIComponent(m[1]!), text, at: Date.now() });
    let aborted = false;
    res.on('close', () => (aborted = true));
    await sleep(sampleLatency(emu.knobs.firstByteMs ?? 150, emu.rng));
    if (aborted) return;
    res.writeHead(200, { 'content-type': 'audio/basic', 'transfer-encoding': 'chunked', 'request-id': `req_${Date.now()}` });
    const chunks = m[2] ? chunksOf(text) : [text];
    for (const chunk of chunks) {
      if (aborted) return;
      res.write(Buffer.from(encodeToneText(chunk)));
      await sleep(chunk.length * sampleLatency(emu.knobs.msPerChar ?? 5, emu.rng));
    }
    res.end();
  }

  const server = createServer((req, res) => {
    handleHttp(req, res).catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, { detail: { status: 'internal_error', message: err.message } });
      else res.destroy();
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = WS_PATH.exec(url.pathname);
    const delay = sampleLatency(emu.knobs.acceptDelayMs, emu.rng);
    if (delay > 0) await sleep(delay);
    if (!m) return refuse(socket, 404, { status: 'not_found', message: `No WebSocket endpoint at ${url.pathname}` });
    const fault = takeHttpFault(emu.knobs);
    if (fault) {
      return refuse(socket, fault.status, { status: 'emulated_fault', message: `emulated fault: HTTP ${fault.status}` },
        fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {});
    }
    const headerKey = typeof req.headers['xi-api-key'] === 'string' ? req.headers['xi-api-key'] : url.searchParams.get('authorization')?.replace(/^Bearer\s+/i, '') ?? undefined;
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      const multi = m[2] === 'multi-stream-input';
      const session = new TtsSession(ws, emu, decodeURIComponent(m[1]!), multi, url.searchParams, headerKey);
      const format = url.searchParams.get('output_format') ?? 'mp3_44100_128';
      if (format !== 'ulaw_8000') {
        session.fail('unsupported_output_format', `The local ElevenLabs emulator only produces output_format=ulaw_8000 (requested ${format}).`);
      } else if (multi && url.searchParams.get('model_id') === 'eleven_v3') {
        session.fail('unsupported_model', 'Multi-context streaming is not available for the eleven_v3 model.');
      }
    });
  });

  const port = await listenLoopback(server, opts.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    generations: emu.generations,
    timedOutContexts: emu.timedOutContexts,
    setKnobs(k) {
      emu.knobs = { ...emu.knobs, ...k };
      if (k.seed !== undefined) rng = createRng(k.seed);
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      await closeServer(server);
    },
  };
}
