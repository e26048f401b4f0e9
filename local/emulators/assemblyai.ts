// AssemblyAI Universal-Streaming v3 emulator: wss /v3/ws speaking Begin/SpeechStarted/Turn/Termination, transcribing by script per speech burst.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server as HttpsServer } from 'node:https';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { closeServer, createRng, listenLoopback, OrderedSender, sampleLatency, takeHttpFault, type EmulatorHandle, type FaultKnobs, type Latency } from './knobs';
import { BurstTracker, type BurstWord } from './speech-bursts';

/*
 * Protocol (primary sources): the message sequence at assemblyai.com/docs/streaming/message-sequence (Begin →
 * SpeechStarted → Turn(end_of_turn false)×N → Turn(end_of_turn true) → Terminate → in-flight Turns → Termination →
 * close 1000), the Turn fields in the `assemblyai` SDK (src/types/streaming/index.ts), the close codes in the SDK's
 * src/utils/errors/streaming.ts, and the turn defaults at assemblyai.com/docs/streaming/universal-streaming/turn-detection
 * (min_turn_silence 400 ms, max_turn_silence 1280 ms). Only wss: the SDK refuses any other scheme
 * ("Invalid protocol, must be wss", service.ts connectionUrl), so the emulator serves TLS with a throw-away
 * self-signed certificate; clients trust it with NODE_EXTRA_CA_CERTS=<emulator.caPath> (or, in tests only,
 * NODE_TLS_REJECT_UNAUTHORIZED=0).
 *
 * Emulator limits: it has no language model, so every end of turn is the "confident" one after min_turn_silence
 * (end_of_turn_confidence is a fixed 0.9 on it, 0.05 on partials); only pcm_mulaw is transcribed.
 */

export interface AssemblyAiKnobs extends FaultKnobs {
  /** @default 1 */
  seed?: number;
  /** Delay before each partial Turn. @default 0 */
  partialMs?: Latency;
  /**
   * Delay from the end-of-turn decision (min_turn_silence of silence received) to the end_of_turn Turn. @default 0
   * (AssemblyAI publishes no separate processing figure; the documented wait is the silence itself)
   */
  finalMs?: Latency;
}

export interface AssemblyAiEmulatorOptions {
  /** @default 0 (ephemeral) */
  port?: number;
  /** Transcript lines, one per speech burst (one cursor per connection). */
  script?: string[];
  knobs?: AssemblyAiKnobs;
  /** When set, only this key (Authorization header) or `token` query is accepted. */
  apiKey?: string;
}

export interface AssemblyAiEmulator extends EmulatorHandle {
  /** wss://127.0.0.1:PORT/v3/ws: the SDK's `websocketBaseUrl`. */
  wsUrl: string;
  /** PEM file of the self-signed certificate (for NODE_EXTRA_CA_CERTS). */
  caPath: string;
  setScript(lines: string[]): void;
  setKnobs(knobs: Partial<AssemblyAiKnobs>): void;
  activeConnections(): number;
  /** Cuts every open session without a close frame (clients see 1006): a mid-stream provider failure. */
  dropConnections(): void;
}

/** Close codes from the SDK's StreamingErrorType table. */
const CLOSE = { authFailed: 4001, badSampleRate: 4000, inputValidation: 3006, chunkDuration: 3007 } as const;
/** "Send ~50 ms chunks" (message sequence); the service refuses chunks outside 50–1000 ms with 3007. */
const MIN_CHUNK_MS = 50;
const MAX_CHUNK_MS = 1000;
/** "sessions that aren't closed auto-close after 3 hours" (universal-streaming page): Begin.expires_at. */
const SESSION_SEC = 3 * 3600;

let cert: { key: string; cert: string; path: string } | undefined;

/**
 * A self-signed certificate for 127.0.0.1/localhost made with the openssl CLI, kept in a fixed temp folder and
 * reused for a day, so a process started later can trust it with NODE_EXTRA_CA_CERTS=emulatorCaPath().
 */
function selfSigned(): { key: string; cert: string; path: string } {
  if (cert) return cert;
  const dir = join(tmpdir(), 'voice-agent-aws-emulator-tls');
  const [key, crt] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  const fresh = existsSync(key) && existsSync(crt) && Date.now() - statSync(crt).mtimeMs < 86_400_000;
  if (!fresh) {
    mkdirSync(dir, { recursive: true });
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '2', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    } catch (err) {
      throw new Error(`the AssemblyAI emulator needs the openssl CLI to make its TLS certificate: ${(err as Error).message}`);
    }
  }
  cert = { key: readFileSync(key, 'utf8'), cert: readFileSync(crt, 'utf8'), path: crt };
  return cert;
}

/** The emulator certificate's PEM path (made if needed): the value for NODE_EXTRA_CA_CERTS. */
export function emulatorCaPath(): string {
  return selfSigned().path;
}

interface SessionParams {
  sampleRate: number;
  minTurnSilence: number;
  formatTurns: boolean;
}

/** Validates the v3 query; returns the close code and reason to refuse with. */
function sessionParams(q: URLSearchParams): SessionParams | { code: number; reason: string } {
  const rate = Number(q.get('sample_rate') ?? '16000');
  if (!Number.isInteger(rate) || rate <= 0) return { code: CLOSE.badSampleRate, reason: 'Sample rate must be a positive integer' };
  if (!q.get('speech_model')) return { code: CLOSE.inputValidation, reason: 'Input validation error: speech_model is required' };
  if (q.get('encoding') !== 'pcm_mulaw' || rate !== 8000) {
    return { code: CLOSE.inputValidation, reason: 'Input validation error: this emulator transcribes only encoding=pcm_mulaw at sample_rate=8000' };
  }
  const min = Number(q.get('min_turn_silence') ?? '400');
  return { sampleRate: rate, minTurnSilence: Number.isFinite(min) && min > 0 ? min : 400, formatTurns: q.get('format_turns') === 'true' };
}

const bare = (w: string) => w.toLowerCase().replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');

/** One session: bursts become Turn messages with the SDK's field names (times in ms). */
class Session {
  private readonly sender = new OrderedSender();
  private readonly bursts: BurstTracker;
  private turn = 0;
  private closed = false;
  private readonly opened = Date.now();

  constructor(
    private readonly ws: WebSocket,
    private readonly emu: { knobs: AssemblyAiKnobs; rng: () => number; line: (i: number) => string | undefined },
    private readonly params: SessionParams,
  ) {
    this.bursts = new BurstTracker(emu.line, params.minTurnSilence);
    this.send(0, { type: 'Begin', id: randomUUID(), expires_at: Math.floor(Date.now() / 1000) + SESSION_SEC });
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    const k = emu.knobs;
    if (k.dropAfterMs !== undefined) setTimeout(() => ws.terminate(), k.dropAfterMs).unref();
    if (k.closeWith) setTimeout(() => this.close(k.closeWith!.code, k.closeWith!.reason), k.closeWith.afterMs).unref();
  }

  private send(delayMs: number, msg: object): void {
    this.sender.schedule(delayMs, () => this.ws.readyState === this.ws.OPEN && this.ws.send(JSON.stringify(msg)));
  }

  private turnMessage(words: BurstWord[], end: boolean, formatted = false): object {
    const wire = words.map((w, i) => ({
      start: Math.round(w.start * 1000),
      end: Math.round(w.end * 1000),
      text: formatted ? w.text : bare(w.text),
      confidence: 0.9 + 0.1 * this.emu.rng(),
      word_is_final: end || i < words.length - 1,
    }));
    const transcript = wire.filter((w) => w.word_is_final).map((w) => w.text).join(' ');
    return { type: 'Turn', turn_order: this.turn, turn_is_formatted: formatted, end_of_turn: end, transcript,
      end_of_turn_confidence: end ? 0.9 : 0.05, words: wire, utterance: end ? transcript : '' };
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (!isBinary) return this.onControl(data.toString());
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    const ms = (buf.length / this.params.sampleRate) * 1000;
    if (ms < MIN_CHUNK_MS || ms > MAX_CHUNK_MS) return this.close(CLOSE.chunkDuration, 'Audio chunk duration violation');
    this.emit(this.bursts.feed(buf));
  }

  private emit(events: ReturnType<BurstTracker['feed']>): void {
    const k = this.emu.knobs;
    for (const ev of events) {
      if (ev.kind === 'start') this.send(0, { type: 'SpeechStarted', timestamp: Math.round(ev.at * 1000) });
      else if (ev.kind === 'words') this.send(sampleLatency(k.partialMs, this.emu.rng), this.turnMessage(ev.words, false));
      else {
        const delay = sampleLatency(k.finalMs, this.emu.rng);
        if (ev.words.length) {
          this.send(delay, this.turnMessage(ev.words, true));
          if (this.params.formatTurns) this.send(delay, this.turnMessage(ev.words, true, true));
        }
        this.turn++;
      }
    }
  }

  private onControl(text: string): void {
    let msg: { type?: string; min_turn_silence?: number } = {};
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return this.close(4101, 'Endpoint received a message with an invalid schema');
    }
    if (msg.type === 'ForceEndpoint') this.emit(this.bursts.flush());
    else if (msg.type === 'Terminate') void this.terminate();
    else if (msg.type === 'UpdateConfiguration' && typeof msg.min_turn_silence === 'number') this.params.minTurnSilence = msg.min_turn_silence;
    // KeepAlive only resets the inactivity timer, which this emulator does not run.
  }

  private async terminate(): Promise<void> {
    this.emit(this.bursts.flush());
    this.send(0, { type: 'Termination', audio_duration_seconds: Math.round(this.bursts.audioSec), session_duration_seconds: Math.round((Date.now() - this.opened) / 1000) });
    await this.sender.idle();
    this.close(1000, '');
  }

  private close(code: number, reason: string): void {
    this.closed = true;
    this.sender.cancel();
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(code, reason);
  }
}

/** Starts the AssemblyAI emulator on 127.0.0.1 (TLS). */
export async function startAssemblyAiEmulator(opts: AssemblyAiEmulatorOptions = {}): Promise<AssemblyAiEmulator> {
  let script = [...(opts.script ?? [])];
  let knobs: AssemblyAiKnobs = { ...opts.knobs };
  let rng = createRng(knobs.seed ?? 1);
  const tls = selfSigned();
  const server: HttpsServer = createServer({ key: tls.key, cert: tls.cert }, (_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'the emulator serves only the /v3/ws WebSocket' }));
  });
  const wss = new WebSocketServer({ noServer: true });
  const sessions = new Set<WebSocket>();
  server.on('upgrade', async (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const delay = sampleLatency(knobs.acceptDelayMs, rng);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const url = new URL(req.url ?? '/', 'https://localhost');
    const fault = takeHttpFault(knobs);
    if (url.pathname !== '/v3/ws' || fault) {
      const status = fault?.status ?? 404;
      return void socket.end(`HTTP/1.1 ${status} Emulated\r\nconnection: close\r\ncontent-length: 0${fault?.retryAfter !== undefined ? `\r\nretry-after: ${fault.retryAfter}` : ''}\r\n\r\n`);
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sessions.add(ws);
      ws.on('close', () => sessions.delete(ws));
      const auth = req.headers.authorization ?? url.searchParams.get('token');
      if (!auth || (opts.apiKey !== undefined && auth !== opts.apiKey)) return ws.close(CLOSE.authFailed, 'Not Authorized');
      const params = sessionParams(url.searchParams);
      if ('code' in params) return ws.close(params.code, params.reason);
      new Session(ws, { get knobs() { return knobs; }, rng: () => rng(), line: (i) => script[i] }, params);
    });
  });
  const port = await listenLoopback(server as unknown as Server, opts.port ?? 0);
  return {
    url: `https://127.0.0.1:${port}`,
    wsUrl: `wss://127.0.0.1:${port}/v3/ws`,
    caPath: tls.path,
    port,
    setScript: (lines) => void (script = [...lines]),
    setKnobs(k) {
      knobs = { ...knobs, ...k };
      if (k.seed !== undefined) rng = createRng(k.seed);
    },
    activeConnections: () => sessions.size,
    dropConnections: () => sessions.forEach((ws) => ws.terminate()),
    async close() {
      for (const ws of sessions) ws.terminate();
      wss.close();
      await closeServer(server as unknown as Server);
    },
  };
}
