// Deepgram Aura streaming TTS emulator: ws /v1/speak taking Speak/Flush/Clear/Close, sending μ-law tone audio, Metadata, Flushed, Cleared, Warning.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodeToneText } from '../audio/tone-text';
import { closeServer, createRng, listenLoopback, sampleLatency, sleep, takeHttpFault, type EmulatorHandle, type FaultKnobs, type Latency } from './knobs';

/*
 * Protocol: Deepgram's AsyncAPI channel /v1/speak (client Speak/Flush/Clear/Close; server binary audio, Metadata
 * {request_id, model_name, model_version, model_uuid}, Flushed/Cleared {sequence_id}, Warning {description, code}) and
 * developers.deepgram.com/docs/tts-ws-flush (Flush makes Deepgram speak its buffer "without waiting for additional
 * text"; at most 20 Flush per 60 s, after which a Warning comes and the flush is not processed).
 *
 * Emulator choices: text is spoken only on Flush (the documented trigger); the audio is encodeToneText (65 ms of tone
 * per character, decodable, like the ElevenLabs emulator) in one binary frame per word; only mulaw at 8000 Hz is
 * produced; the Warning `code` string is the emulator's own (Deepgram documents only that a Warning is sent).
 */

export interface DeepgramTtsKnobs extends FaultKnobs {
  /** @default 1 */
  seed?: number;
  /**
   * Flush → first audio frame. @default { p50: 90, p95: 200 }: "stable sub-200ms latency and, in steady-state
   * conditions, around 90ms" (deepgram.com/learn/engineering-real-time-low-latency-voice-ai-at-scale, Aura-2 TTFB).
   */
  firstByteMs?: Latency;
  /** Synthesis time per character between later frames. @default 5 (the ElevenLabs emulator's figure) */
  msPerChar?: Latency;
}

export interface DeepgramTtsEmulatorOptions {
  /** @default 0 (ephemeral) */
  port?: number;
  knobs?: DeepgramTtsKnobs;
  /** When set, only this key is accepted; otherwise any non-empty key. */
  apiKey?: string;
}

export interface DeepgramTtsEmulator extends EmulatorHandle {
  /** Every text spoken (on Flush), in order. */
  readonly generations: { text: string; at: number }[];
  setKnobs(knobs: Partial<DeepgramTtsKnobs>): void;
  activeConnections(): number;
  /** Cuts every open socket without a close frame (clients see 1006). */
  dropConnections(): void;
}

const FLUSH_LIMIT = 20;
const FLUSH_WINDOW_MS = 60_000;

function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ err_code: status === 401 ? 'INVALID_AUTH' : 'BAD_REQUEST', err_msg: message, request_id: randomUUID() });
  socket.end(`HTTP/1.1 ${status} Error\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\ndg-error: ${message}\r\nconnection: close\r\n\r\n${body}`);
}

/** One /v1/speak socket. */
class SpeakSession {
  private buffer = '';
  private seq = 0;
  /** Bumped by Clear: generations of an older epoch stop sending. */
  private epoch = 0;
  private chain: Promise<void> = Promise.resolve();
  private flushes: number[] = [];

  constructor(
    private readonly ws: WebSocket,
    private readonly emu: { knobs: DeepgramTtsKnobs; rng: () => number; generations: { text: string; at: number }[] },
    model: string,
  ) {
    this.sendJson({ type: 'Metadata', request_id: randomUUID(), model_name: model, model_version: 'emulator', model_uuid: randomUUID() });
    ws.on('message', (data, isBinary) => !isBinary && this.onText(data.toString()));
    const k = emu.knobs;
    if (k.dropAfterMs !== undefined) setTimeout(() => ws.terminate(), k.dropAfterMs).unref();
    if (k.closeWith) setTimeout(() => ws.close(k.closeWith!.code, k.closeWith!.reason), k.closeWith.afterMs).unref();
  }

  private sendJson(msg: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private onText(text: string): void {
    let msg: { type?: string; text?: string };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return this.sendJson({ type: 'Warning', description: 'message is not valid JSON', code: 'INVALID_MESSAGE' });
    }
    if (msg.type === 'Speak' && typeof msg.text === 'string') this.buffer += msg.text;
    else if (msg.type === 'Flush') this.flush();
    else if (msg.type === 'Clear') this.clear();
    else if (msg.type === 'Close') void this.chain.then(() => this.ws.close(1000));
    else this.sendJson({ type: 'Warning', description: `unknown message type ${String(msg.type)}`, code: 'INVALID_MESSAGE' });
  }

  private flush(): void {
    const now = Date.now();
    this.flushes = this.flushes.filter((t) => t > now - FLUSH_WINDOW_MS);
    if (this.flushes.length >= FLUSH_LIMIT) {
      return this.sendJson({ type: 'Warning', description: 'Flush limit reached: at most 20 Flush messages per 60 seconds', code: 'FLUSH_LIMIT' });
    }
    this.flushes.push(now);
    const text = this.buffer;
    this.buffer = '';
    const seq = this.seq++;
    const epoch = this.epoch;
    const readyAt = now + sampleLatency(this.emu.knobs.firstByteMs ?? { p50: 90, p95: 200 }, this.emu.rng);
    this.chain = this.chain.then(async () => {
      if (text.trim()) this.emu.generations.push({ text, at: Date.now() });
      await sleep(readyAt - Date.now());
      const words = text.match(/\S+\s*/g) ?? [];
      for (const w of words) {
        if (epoch !== this.epoch || this.ws.readyState !== this.ws.OPEN) return;
        this.ws.send(Buffer.from(encodeToneText(w)));
        await sleep(w.length * sampleLatency(this.emu.knobs.msPerChar ?? 5, this.emu.rng));
      }
      if (epoch === this.epoch) this.sendJson({ type: 'Flushed', sequence_id: seq });
    });
  }

  private clear(): void {
    this.buffer = '';
    this.epoch++;
    const seq = this.seq++;
    this.sendJson({ type: 'Cleared', sequence_id: seq });
  }
}

/** Starts the Deepgram TTS emulator on 127.0.0.1. */
export async function startDeepgramTtsEmulator(opts: DeepgramTtsEmulatorOptions = {}): Promise<DeepgramTtsEmulator> {
  let knobs: DeepgramTtsKnobs = { ...opts.knobs };
  let rng = createRng(knobs.seed ?? 1);
  const generations: { text: string; at: number }[] = [];
  const sessions = new Set<WebSocket>();
  const server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', async (req, socket: Duplex, head) => {
    socket.on('error', () => socket.destroy());
    const delay = sampleLatency(knobs.acceptDelayMs, rng);
    if (delay > 0) await sleep(delay);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/v1/speak') return refuse(socket, 404, `no WebSocket endpoint at ${url.pathname}`);
    const fault = takeHttpFault(knobs);
    if (fault) return refuse(socket, fault.status, `emulated fault: HTTP ${fault.status}`);
    const [scheme, key] = (req.headers.authorization ?? '').split(' ');
    if (!/^(Token|Bearer)$/.test(scheme ?? '') || !key || (opts.apiKey !== undefined && key !== opts.apiKey)) return refuse(socket, 401, 'Invalid credentials.');
    const q = url.searchParams;
    if (q.get('encoding') !== 'mulaw' || q.get('sample_rate') !== '8000') return refuse(socket, 400, 'this emulator produces only encoding=mulaw&sample_rate=8000');
    wss.handleUpgrade(req, socket, head, (ws) => {
      sessions.add(ws);
      ws.on('close', () => sessions.delete(ws));
      new SpeakSession(ws, { get knobs() { return knobs; }, rng: () => rng(), generations }, q.get('model') ?? 'aura-asteria-en');
    });
  });
  const port = await listenLoopback(server, opts.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    generations,
    setKnobs(k) {
      knobs = { ...knobs, ...k };
      if (k.seed !== undefined) rng = createRng(k.seed);
    },
    activeConnections: () => sessions.size,
    dropConnections: () => sessions.forEach((ws) => ws.terminate()),
    async close() {
      for (const ws of sessions) ws.terminate();
      wss.close();
      await closeServer(server);
    },
  };
}
