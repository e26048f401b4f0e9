// Deepgram streaming STT emulator: /v1/listen (nova) and /v2/listen (Flux) over WebSocket, transcribing by script per detected speech burst.
import { randomUUID, createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { isSpeech } from '../audio/mulaw';
import {
  closeServer,
  createRng,
  listenLoopback,
  OrderedSender,
  sampleLatency,
  takeHttpFault,
  type EmulatorHandle,
  type FaultKnobs,
  type Latency,
} from './knobs';

/** CONTRACTS.md: a burst is speech up to a gap of ≥ 250 ms of silence. */
export const BURST_GAP_MS = 250;
/** Analysis frame: 20 ms, the Twilio media frame size. */
const FRAME_SEC = 0.02;
/** Rough speaking rate used to reveal interim words progressively (espeak and the tone TTS both run ~15 chars/s). */
const SEC_PER_CHAR = 0.065;

/** Latency and fault knobs of the Deepgram emulator (all changeable at runtime with `setKnobs`). */
export interface DeepgramKnobs extends FaultKnobs {
  /** Seed for sampled latencies and confidences. @default 1 */
  seed?: number;
  /**
   * Delay from a burst start (in received audio) to SpeechStarted (v1) and StartOfTurn (Flux). Deepgram publishes no
   * figure for it; 100 ms is the seed budget's (numbers.md), never 0: a detector must hear some speech first. @default 100
   */
  speechStartedMs?: Latency;
  /** Delay before each interim Results. @default 0 */
  interimMs?: Latency;
  /** Delay from the end-of-speech decision (endpointing silence received) to the final Results. @default 200 (the seed article's budget) */
  finalMs?: Latency;
  /** Delay before UtteranceEnd. @default 0 */
  utteranceEndMs?: Latency;
  /** Wall time without audio or KeepAlive before closing 1011 NET-0001 (Deepgram: 10 s). @default 10000 */
  noAudioTimeoutMs?: number;
  /**
   * Audio seconds between interim Results while speech lasts. Deepgram's own example prints interims at 0–1.1 s,
   * 0–2.1 s, 0–3.1 s … ("Using Interim Results", developers.deepgram.com/docs/using-interim-results): about one per
   * second of audio. Settable per scenario (`emulators.deepgram.interimEverySec`) or per test, e.g. 0.25. @default 1
   */
  interimEverySec?: number;
  /** Flux: audio seconds between Update events (Deepgram: "approximately every 0.25 seconds"). @default 0.25 */
  fluxUpdateEverySec?: number;
  /** Flux: silence (ms of received audio) after speech before EagerEndOfTurn, from `eager_eot_threshold`. @default t => 100 + 500 t */
  fluxEagerSilenceMs?: (eagerEotThreshold: number) => number;
  /** Flux: silence before EndOfTurn, from `eot_threshold` (default 0.7 → 550 ms). @default t => 200 + 500 t */
  fluxEotSilenceMs?: (eotThreshold: number) => number;
  /** Flux: delay before each TurnInfo event. @default 0 */
  fluxEventMs?: Latency;
}

/** Options of startDeepgramEmulator. */
export interface DeepgramEmulatorOptions {
  /** @default 0 (ephemeral) */
  port?: number;
  /** Transcript lines, one per detected speech burst, in order (each connection has its own cursor). */
  script?: string[];
  /**
   * `emulator`: one cursor for every connection, for a stack that carries one call which moves between streams (a
   * migration to another task opens a new recogniser that must go on with the next line). @default 'connection'
   */
  scriptCursor?: 'connection' | 'emulator';
  knobs?: DeepgramKnobs;
}

/** The running Deepgram emulator. */
export interface DeepgramEmulator extends EmulatorHandle {
  /** Replaces the script; connections read it lazily, so warm connections opened earlier see the new lines. */
  setScript(lines: string[]): void;
  /** Merges knob changes (undefined values reset to defaults). */
  setKnobs(knobs: Partial<DeepgramKnobs>): void;
  /** Open listen connections right now. */
  activeConnections(): number;
  /** Per connection, oldest first (the latest 100): its path and the sizes (bytes) of the binary audio messages it sent. */
  readonly audioChunks: { path: '/v1/listen' | '/v2/listen'; bytes: number[] }[];
}

const DEFAULTS = {
  speechStartedMs: 100 as Latency,
  interimMs: 0 as Latency,
  finalMs: 200 as Latency,
  utteranceEndMs: 0 as Latency,
  noAudioTimeoutMs: 10_000,
  interimEverySec: 1,
  fluxUpdateEverySec: 0.25,
  fluxEagerSilenceMs: (t: number) => Math.round(100 + 500 * t),
  fluxEotSilenceMs: (t: number) => Math.round(200 + 500 * t),
  fluxEventMs: 0 as Latency,
};

interface Word {
  word: string;
  start: number;
  end: number;
  confidence: number;
  punctuated_word?: string;
}

/** A detected speech burst and the script line it consumed. */
interface Burst {
  start: number;
  end: number;
  line: string;
  ended: boolean;
  interims: number;
  lastInterimAt: number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Splits a script line into words spread over [start, end] in proportion to their length (+1 for the gap). */
function spreadWords(line: string, start: number, end: number, conf: () => number, punctuate: boolean): Word[] {
  const tokens = line.split(/\s+/).filter((t) => /[\p{L}\p{N}]/u.test(t));
  const weights = tokens.map((t) => t.length + 1);
  const total = weights.reduce((a, b) => a + b, 0) || 1;
  let acc = 0;
  return tokens.map((tok, i) => {
    const s = start + ((end - start) * acc) / total;
    acc += weights[i]!;
    const e = start + ((end - start) * acc) / total;
    const word = tok.toLowerCase().replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
    return { word, start: round3(s), end: round3(e), confidence: conf(), ...(punctuate ? { punctuated_word: tok } : {}) };
  });
}

/** The transcript Deepgram would print for these words. */
function transcriptOf(words: Word[], punctuate: boolean): string {
  return words.map((w) => (punctuate ? w.punctuated_word ?? w.word : w.word)).join(' ');
}

/** A Deepgram-style HTTP refusal of an upgrade: status, `dg-error` + `dg-request-id` headers, JSON body. */
function refuseUpgrade(socket: Duplex, status: number, errCode: string, errMsg: string, extra: Record<string, string> = {}): void {
  const requestId = randomUUID();
  const body = JSON.stringify({ err_code: errCode, err_msg: errMsg, request_id: requestId });
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' }[status] ?? 'Error';
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'dg-request-id': requestId,
    'dg-error': errMsg,
    connection: 'close',
    ...extra,
  };
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`);
}

function boolParam(q: URLSearchParams, name: string): boolean {
  return q.get(name)?.toLowerCase() === 'true';
}

/** Query validation shared by v1 and v2: the emulator only decodes μ-law; returns an error message or the sample rate. */
function audioFormat(q: URLSearchParams): { sampleRate: number } | { error: string } {
  const encoding = q.get('encoding');
  if (encoding !== 'mulaw') {
    return { error: `the local Deepgram emulator only decodes encoding=mulaw (got ${encoding ?? 'none'}); send encoding=mulaw&sample_rate=8000` };
  }
  const sampleRate = Number(q.get('sample_rate') ?? '8000');
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000) return { error: `invalid sample_rate ${q.get('sample_rate')}` };
  return { sampleRate };
}

/**
 * One listen connection: splits received μ-law into 20 ms frames timed by bytes received (audio time, not wall time),
 * finds bursts with the energy detector, and sends through an ordered, latency-delayed queue (wall time).
 */
abstract class ListenSession {
  protected readonly requestId = randomUUID();
  protected readonly sender = new OrderedSender();
  protected frames = 0;
  protected silenceMs = 0;
  protected lastSpeechEnd = 0;
  protected burst: Burst | undefined;
  protected cursor = 0;
  protected closed = false;
  /** After a Finalize/ForceEndTurn mid-burst, the rest of that burst (until a 250 ms gap) is already transcribed. */
  protected absorbing = false;
  private partial: Buffer = Buffer.alloc(0);
  private readonly frameBytes: number;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly faultTimers: NodeJS.Timeout[] = [];
  private readonly hash = createHash('sha256');
  private bytes = 0;

  constructor(
    protected readonly ws: WebSocket,
    protected readonly emu: { knobs: Required<Omit<DeepgramKnobs, keyof FaultKnobs | 'seed'>> & FaultKnobs; rng: () => number; line(i: number): string | undefined },
    sampleRate: number,
    private readonly onChunk: (bytes: number) => void = () => {},
  ) {
    this.frameBytes = Math.round(sampleRate * FRAME_SEC);
    const { dropAfterMs, closeWith } = emu.knobs;
    if (dropAfterMs !== undefined) this.faultTimers.push(setTimeout(() => ws.terminate(), dropAfterMs));
    if (closeWith) this.faultTimers.push(setTimeout(() => this.closeNow(closeWith.code, closeWith.reason), closeWith.afterMs));
    this.armIdle();
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.dispose());
    ws.on('error', () => this.dispose());
  }

  /** Audio time (s) at the end of the frames analysed so far. */
  protected get now(): number {
    return round3(this.frames * FRAME_SEC);
  }

  protected send(delayMs: number, msg: () => object): void {
    this.sender.schedule(delayMs, () => {
      if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg()));
    });
  }

  protected latency(l: Latency): number {
    return sampleLatency(l, this.emu.rng);
  }

  protected confidence = (): number => round3(0.97 + 0.029 * this.emu.rng());

  /** Deepgram closes 1011 NET-0001 when no audio (or v1 KeepAlive) arrives for 10 s. */
  protected armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.closeNow(1011, 'NET-0001'),
      this.emu.knobs.noAudioTimeoutMs,
    );
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (!isBinary) {
      let msg: { type?: string } | undefined;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return; // Deepgram ignores text it cannot parse; it never transcribes text frames.
      }
      this.onControl(msg?.type ?? '', msg as Record<string, unknown>);
      return;
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (buf.length === 0) {
      // Deepgram: "Sending an empty byte ... will cause unexpected closures" (legacy close-stream signal).
      this.closeStream();
      return;
    }
    this.armIdle();
    this.onChunk(buf.length);
    this.hash.update(buf);
    this.bytes += buf.length;
    let all = this.partial.length ? Buffer.concat([this.partial, buf]) : buf;
    let off = 0;
    while (all.length - off >= this.frameBytes) {
      const frame = all.subarray(off, off + this.frameBytes);
      off += this.frameBytes;
      const t0 = this.now;
      this.frames++;
      this.onFrame(t0, this.now, isSpeech(frame));
    }
    this.partial = Buffer.from(all.subarray(off));
    all = Buffer.alloc(0);
  }

  /** Burst bookkeeping common to v1 and v2; subclasses react through the hooks. */
  private onFrame(t0: number, t1: number, speech: boolean): void {
    if (speech) {
      this.silenceMs = 0;
      this.lastSpeechEnd = t1;
      if (this.absorbing) return;
      if (!this.burst) {
        const line = this.emu.line(this.cursor++) ?? '';
        this.burst = { start: t0, end: t1, line, ended: false, interims: 0, lastInterimAt: t0 };
        this.onBurstStart(this.burst);
      }
      this.burst.end = t1;
      this.onSpeechFrame(this.burst, t1);
      return;
    }
    this.silenceMs += FRAME_SEC * 1000;
    if (this.silenceMs >= BURST_GAP_MS - 1e-6) this.absorbing = false;
    if (this.burst && this.silenceMs >= BURST_GAP_MS - 1e-6) {
      const b = this.burst;
      b.ended = true;
      this.burst = undefined;
      this.onBurstEnd(b);
    }
    this.onSilenceFrame(t1);
  }

  /** Ends the open burst before the 250 ms gap (a short endpointing window); speech resuming within the gap is absorbed. */
  protected closeBurst(): void {
    const b = this.burst;
    if (!b) return;
    b.ended = true;
    this.burst = undefined;
    this.absorbing = true;
    this.onBurstEnd(b);
  }

  protected abstract onBurstStart(b: Burst): void;
  protected abstract onSpeechFrame(b: Burst, t: number): void;
  protected abstract onBurstEnd(b: Burst): void;
  protected abstract onSilenceFrame(t: number): void;
  protected abstract onControl(type: string, msg: Record<string, unknown>): void;
  /** Sends what is pending, then closes 1000. */
  protected abstract closeStream(): void;

  protected metadataMessage(): object {
    return {
      type: 'Metadata',
      transaction_key: 'deprecated',
      request_id: this.requestId,
      sha256: this.hash.copy().digest('hex'),
      created: new Date().toISOString(),
      duration: round3(this.bytes / (this.frameBytes / FRAME_SEC)),
      channels: 1,
    };
  }

  /** Closes after everything queued has been sent. */
  protected async closeAfterQueue(code: number, reason?: string): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    await this.sender.idle();
    this.closeNow(code, reason);
  }

  protected closeNow(code?: number, reason?: string): void {
    this.closed = true;
    this.dispose();
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      if (code === undefined) this.ws.close();
      else this.ws.close(code, reason);
    }
  }

  protected dispose(): void {
    clearTimeout(this.idleTimer);
    for (const t of this.faultTimers) clearTimeout(t);
    if (this.ws.readyState !== this.ws.OPEN) this.sender.cancel();
  }
}

interface V1Params {
  interim: boolean;
  endpointing: number | false;
  utteranceEndMs: number | undefined;
  vad: boolean;
  punctuate: boolean;
  model: string;
}

/** /v1/listen: Results (interim/final/speech_final/from_finalize), SpeechStarted, UtteranceEnd, Metadata. */
class V1Session extends ListenSession {
  /** Bursts heard but not yet in a final Results. */
  private pending: Burst[] = [];
  private finalizedUntil = 0;
  private lastWordEnd: number | undefined;
  private utteranceEndDue = false;

  constructor(ws: WebSocket, emu: ListenSession['emu'], sampleRate: number, private readonly p: V1Params, onChunk?: (bytes: number) => void) {
    super(ws, emu, sampleRate, onChunk);
  }

  private wordsOf(b: Burst, upTo?: number): Word[] {
    const words = spreadWords(b.line, b.start, b.end, this.confidence, this.p.punctuate);
    return upTo === undefined ? words : words.slice(0, upTo);
  }

  private results(words: Word[], start: number, end: number, flags: { is_final: boolean; speech_final: boolean; from_finalize: boolean }): object {
    return {
      type: 'Results',
      channel_index: [0, 1],
      duration: round3(Math.max(0, end - start)),
      start: round3(start),
      is_final: flags.is_final,
      speech_final: flags.speech_final,
      from_finalize: flags.from_finalize,
      channel: {
        alternatives: [
          {
            transcript: transcriptOf(words, this.p.punctuate),
            confidence: words.length ? Math.min(...words.map((w) => w.confidence)) : 0,
            words,
          },
        ],
      },
      metadata: {
        request_id: this.requestId,
        model_info: { name: `general-${this.p.model}`, version: '2025-01-01.0', arch: this.p.model },
        model_uuid: '40bd3654-e622-47c4-a111-63a61b23bfa2',
      },
    };
  }

  protected onBurstStart(b: Burst): void {
    this.pending.push(b);
    this.utteranceEndDue = false;
    if (this.p.vad) {
      const timestamp = b.start;
      this.send(this.latency(this.emu.knobs.speechStartedMs), () => ({ type: 'SpeechStarted', channel: [0, 1], timestamp }));
    }
  }

  protected onSpeechFrame(b: Burst, t: number): void {
    if (!this.p.interim) return;
    if (t - b.lastInterimAt >= this.emu.knobs.interimEverySec - 1e-6) {
      b.lastInterimAt = t;
      const all = this.wordsOf(b).length;
      const shown = Math.max(1, Math.min(all - 1, Math.floor(((t - b.start) / Math.max(0.4, b.line.length * SEC_PER_CHAR)) * all)));
      this.sendInterim(t, shown);
    }
  }

  /** Interim: every pending burst's words, the current one cut to `shownOfCurrent` words. */
  private sendInterim(t: number, shownOfCurrent?: number): void {
    const words: Word[] = [];
    for (const pb of this.pending) words.push(...this.wordsOf(pb, pb.ended ? undefined : shownOfCurrent));
    const current = this.pending[this.pending.length - 1];
    if (current) current.interims++;
    const msg = this.results(words, this.finalizedUntil, t, { is_final: false, speech_final: false, from_finalize: false });
    this.send(this.latency(this.emu.knobs.interimMs), () => msg);
  }

  protected onBurstEnd(b: Burst): void {
    // At least one interim per burst, even for speech shorter than the interim period.
    if (this.p.interim && b.interims === 0) this.sendInterim(this.now);
    // With endpointing off Deepgram still finalizes; here each burst is finalized as it ends.
    if (this.p.endpointing === false) this.finalize({ speechFinal: false, fromFinalize: false });
  }

  protected onSilenceFrame(t: number): void {
    const ep = this.p.endpointing;
    // speech_final after `endpointing` ms of silence, as configured (no floor): a burst still open when the window
    // passes is closed there, so a short window is not stretched to the 250 ms burst gap.
    if (ep !== false && this.pending.length && this.silenceMs >= ep - 1e-6) {
      if (this.burst) this.closeBurst();
      this.finalize({ speechFinal: true, fromFinalize: false });
    }
    // UtteranceEnd counts from the last *finalized* word, after utterance_end_ms of non-speech.
    const ue = this.p.utteranceEndMs;
    if (
      ue !== undefined &&
      this.p.interim &&
      this.utteranceEndDue &&
      !this.pending.length &&
      !this.burst &&
      this.lastWordEnd !== undefined &&
      (t - this.lastWordEnd) * 1000 >= ue - 1e-6
    ) {
      this.utteranceEndDue = false;
      const last_word_end = this.lastWordEnd;
      this.send(this.latency(this.emu.knobs.utteranceEndMs), () => ({ type: 'UtteranceEnd', channel: [0, 1], last_word_end }));
    }
  }

  /** One final Results over every pending burst (the in-progress one too when Finalize/CloseStream forces it). */
  private finalize(o: { speechFinal: boolean; fromFinalize: boolean; force?: boolean }): void {
    if (o.force && this.burst) {
      // Finalize mid-burst: transcribe what we have and swallow the rest of this burst.
      this.burst.ended = true;
      this.burst = undefined;
      this.absorbing = true;
    }
    const bursts = this.pending.filter((b) => b.ended);
    if (!bursts.length && !o.force) return;
    this.pending = this.pending.filter((b) => !b.ended);
    const words = bursts.flatMap((b) => this.wordsOf(b));
    const start = this.finalizedUntil;
    const end = Math.max(this.now, start);
    this.finalizedUntil = end;
    if (words.length) {
      this.lastWordEnd = words[words.length - 1]!.end;
      this.utteranceEndDue = true;
    }
    const msg = this.results(words, start, end, { is_final: true, speech_final: o.speechFinal, from_finalize: o.fromFinalize });
    this.send(this.latency(this.emu.knobs.finalMs), () => msg);
  }

  protected onControl(type: string): void {
    if (type === 'KeepAlive') {
      this.armIdle(); // "You will not receive a response"; it only resets the 10 s no-audio timer.
    } else if (type === 'Finalize') {
      this.finalize({ speechFinal: false, fromFinalize: true, force: true });
    } else if (type === 'CloseStream') {
      this.closeStream();
    }
  }

  protected closeStream(): void {
    if (this.closed) return;
    if (this.burst || this.pending.length) this.finalize({ speechFinal: false, fromFinalize: false, force: true });
    this.send(0, () => this.metadataMessage());
    void this.closeAfterQueue(1000);
  }
}

interface FluxParams {
  eager: number | undefined;
  eot: number;
  eotTimeoutMs: number;
}

/** /v2/listen (Flux): Connected, then TurnInfo events driven by bursts and silence in the received audio. */
class FluxSession extends ListenSession {
  private seq = 0;
  private turnIndex = 0;
  private state: 'idle' | 'speaking' | 'eager' = 'idle';
  private turnBursts: Burst[] = [];
  private turnStart = 0;
  private lastUpdateAt = 0;

  constructor(ws: WebSocket, emu: ListenSession['emu'], sampleRate: number, private p: FluxParams, onChunk?: (bytes: number) => void) {
    super(ws, emu, sampleRate, onChunk);
    this.sendFlux(0, { type: 'Connected', request_id: this.requestId });
  }

  private sendFlux(delayMs: number, body: Record<string, unknown>): void {
    this.send(delayMs, () => ({ ...body, sequence_id: this.seq++ }));
  }

  private turnWords(shownOfCurrent?: number): Word[] {
    return this.turnBursts.flatMap((b) => {
      const words = spreadWords(b.line, b.start, b.end, this.confidence, true).map(({ punctuated_word, word, ...rest }) => ({ ...rest, word: punctuated_word ?? word }));
      return b.ended || shownOfCurrent === undefined ? words : words.slice(0, shownOfCurrent);
    });
  }

  /** Only ListenV2TurnInfo's fields (type, request_id, sequence_id, event, turn_index, audio_window_*, transcript, words, end_of_turn_confidence). */
  private turnInfo(event: string, t: number, words: Word[], eotConfidence: number, delayMs = this.latency(this.emu.knobs.fluxEventMs)): void {
    const body = {
      type: 'TurnInfo',
      request_id: this.requestId,
      event,
      turn_index: this.turnIndex,
      audio_window_start: round3(this.turnStart),
      audio_window_end: round3(t),
      transcript: words.map((w) => w.word).join(' '),
      words: words.map(({ word, confidence, start, end }) => ({ word, confidence, start, end })),
      end_of_turn_confidence: round3(eotConfidence),
    };
    this.sendFlux(delayMs, body);
    this.lastUpdateAt = t;
  }

  private shown(b: Burst, t: number): number {
    const n = spreadWords(b.line, 0, 1, () => 1, false).length;
    return Math.max(1, Math.min(n, Math.ceil(((t - b.start) / Math.max(0.4, b.line.length * SEC_PER_CHAR)) * n)));
  }

  private get eagerMs(): number | undefined {
    if (this.p.eager === undefined) return undefined;
    return Math.max(BURST_GAP_MS, this.emu.knobs.fluxEagerSilenceMs(this.p.eager));
  }

  private get eotMs(): number {
    const eot = Math.max(BURST_GAP_MS, this.emu.knobs.fluxEotSilenceMs(this.p.eot));
    return Math.min(this.p.eotTimeoutMs, Math.max(eot, (this.eagerMs ?? 0) + 20));
  }

  protected onBurstStart(b: Burst): void {
    if (this.state === 'idle') {
      this.turnBursts = [b];
      this.turnStart = b.start;
      this.state = 'speaking';
      this.turnInfo('StartOfTurn', b.end, this.turnWords(1), 0.01, this.latency(this.emu.knobs.speechStartedMs));
      return;
    }
    this.turnBursts.push(b);
    if (this.state === 'eager') {
      // "A TurnResumed message can only follow a preceding EagerEndOfTurn."
      this.state = 'speaking';
      this.turnInfo('TurnResumed', b.end, this.turnWords(1), 0.01);
    }
  }

  protected onSpeechFrame(b: Burst, t: number): void {
    if (t - this.lastUpdateAt >= this.emu.knobs.fluxUpdateEverySec - 1e-6) this.turnInfo('Update', t, this.turnWords(this.shown(b, t)), 0.02);
  }

  protected onBurstEnd(): void {}

  protected onSilenceFrame(t: number): void {
    if (this.state === 'idle' || this.burst) return;
    const eager = this.eagerMs;
    const eot = this.eotMs;
    if (this.silenceMs >= eot - 1e-6) {
      this.endTurn(t);
    } else if (this.state === 'speaking' && eager !== undefined && this.silenceMs >= eager - 1e-6 && this.turnWords().length) {
      // "An EagerEndOfTurn message always contains a nonempty transcript."
      this.state = 'eager';
      this.turnInfo('EagerEndOfTurn', t, this.turnWords(), this.p.eager ?? 0.5);
    } else if (t - this.lastUpdateAt >= this.emu.knobs.fluxUpdateEverySec - 1e-6) {
      this.turnInfo('Update', t, this.turnWords(), Math.min(0.99, (this.silenceMs / eot) * this.p.eot));
    }
  }

  /** EndOfTurn repeats the preceding EagerEndOfTurn transcript (no speech came in between); then turn_index increments. */
  private endTurn(t: number): void {
    this.turnInfo('EndOfTurn', t, this.turnWords(), Math.max(this.p.eot, 0.9));
    this.turnIndex++;
    this.turnBursts = [];
    this.state = 'idle';
  }

  protected onControl(type: string, msg: Record<string, unknown>): void {
    if (type === 'KeepAlive') {
      // No KeepAlive on v2: deepgram-python-sdk#649 reports the socket dying with 1005 (a close without a status code).
      this.closeNow();
    } else if (type === 'CloseStream') {
      this.closeStream();
    } else if (type === 'ForceEndTurn') {
      if (this.state !== 'idle') {
        if (this.burst) {
          this.burst.ended = true;
          this.burst = undefined;
          this.absorbing = true;
        }
        this.endTurn(this.now);
      }
    } else if (type === 'Configure') {
      const th = (msg.thresholds ?? {}) as { eager_eot_threshold?: number; eot_threshold?: number; eot_timeout_ms?: number };
      if (typeof th.eager_eot_threshold === 'number') this.p.eager = th.eager_eot_threshold;
      if (typeof th.eot_threshold === 'number') this.p.eot = th.eot_threshold;
      if (typeof th.eot_timeout_ms === 'number') this.p.eotTimeoutMs = th.eot_timeout_ms;
      this.sendFlux(0, {
        type: 'ConfigureSuccess',
        request_id: this.requestId,
        thresholds: { eager_eot_threshold: this.p.eager, eot_threshold: this.p.eot, eot_timeout_ms: this.p.eotTimeoutMs },
        keyterms: Array.isArray(msg.keyterms) ? msg.keyterms : [],
      });
    }
  }

  protected closeStream(): void {
    if (this.closed) return;
    if (this.state !== 'idle') {
      if (this.burst) {
        this.burst.ended = true;
        this.burst = undefined;
      }
      this.endTurn(this.now);
    }
    void this.closeAfterQueue(1000);
  }
}

/** Parses v1 query params; returns an error for values Deepgram refuses at the upgrade. */
function v1Params(q: URLSearchParams): V1Params | { error: string } {
  const epRaw = q.get('endpointing');
  let endpointing: number | false = 10; // Deepgram default: 10 ms
  if (epRaw !== null) {
    if (epRaw === 'false') endpointing = false;
    else if (epRaw === 'true') endpointing = 10;
    else if (/^\d+$/.test(epRaw)) endpointing = Number(epRaw);
    else return { error: `invalid endpointing value: ${epRaw}` };
  }
  const ueRaw = q.get('utterance_end_ms');
  let utteranceEndMs: number | undefined;
  if (ueRaw !== null) {
    if (!/^\d+$/.test(ueRaw)) return { error: `invalid utterance_end_ms value: ${ueRaw}` };
    utteranceEndMs = Number(ueRaw);
    // Deepgram refuses utterance_end_ms below 1000 at the handshake.
    if (utteranceEndMs < 1000) return { error: `utterance_end_ms must be at least 1000 (got ${utteranceEndMs})` };
  }
  return {
    interim: boolParam(q, 'interim_results'),
    endpointing,
    utteranceEndMs,
    vad: boolParam(q, 'vad_events'),
    punctuate: boolParam(q, 'punctuate') || boolParam(q, 'smart_format'),
    model: q.get('model') ?? 'nova-3',
  };
}

function fluxParams(q: URLSearchParams): FluxParams | { error: string } {
  const num = (name: string, dflt: number | undefined, lo: number, hi: number): number | undefined | { error: string } => {
    const raw = q.get(name);
    if (raw === null) return dflt;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < lo || v > hi) return { error: `invalid ${name}: ${raw} (expected ${lo}..${hi})` };
    return v;
  };
  const eager = num('eager_eot_threshold', undefined, 0.3, 0.9);
  const eot = num('eot_threshold', 0.7, 0.5, 0.9);
  const eotTimeoutMs = num('eot_timeout_ms', 5000, 500, 10000);
  for (const v of [eager, eot, eotTimeoutMs]) if (v && typeof v === 'object') return v;
  return { eager: eager as number | undefined, eot: eot as number, eotTimeoutMs: eotTimeoutMs as number };
}

/** True when the request carries Deepgram credentials: `Authorization: Token|Bearer …` or the browser subprotocol form. */
function hasCredentials(req: IncomingMessage): boolean {
  const auth = req.headers.authorization ?? '';
  if (/^(token|bearer)\s+\S+/i.test(auth)) return true;
  const proto = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim().toLowerCase());
  return (proto[0] === 'token' || proto[0] === 'bearer') && proto.length > 1;
}

/**
 * Starts the Deepgram emulator on 127.0.0.1. `ws://127.0.0.1:PORT` (or the http URL) works as the SDK's `baseUrl`.
 * Each detected speech burst in the received audio consumes the next script line (CONTRACTS.md burst rules).
 */
export async function startDeepgramEmulator(opts: DeepgramEmulatorOptions = {}): Promise<DeepgramEmulator> {
  let script = [...(opts.script ?? [])];
  let shared = 0;
  let userKnobs: DeepgramKnobs = { ...opts.knobs };
  let rng = createRng(userKnobs.seed ?? 1);
  const state = {
    get knobs() {
      return { ...DEFAULTS, ...Object.fromEntries(Object.entries(userKnobs).filter(([, v]) => v !== undefined)) } as ListenSession['emu']['knobs'];
    },
    rng: () => rng(),
    line: (i: number) => (opts.scriptCursor === 'emulator' ? script[shared++] : script[i]),
  };
  const sessions = new Set<WebSocket>();
  const audioChunks: DeepgramEmulator['audioChunks'] = [];
  const recorder = (path: '/v1/listen' | '/v2/listen') => {
    const conn = { path, bytes: [] as number[] };
    audioChunks.push(conn);
    if (audioChunks.length > 100) audioChunks.shift();
    return (bytes: number) => void (conn.bytes.length < 100_000 && conn.bytes.push(bytes));
  };
  const server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ err_code: 'NOT_FOUND', err_msg: 'the emulator serves only /v1/listen and /v2/listen WebSockets' }));
  });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => [...protocols][0] ?? false });

  server.on('upgrade', async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    const knobs = state.knobs;
    const delay = sampleLatency(knobs.acceptDelayMs, rng);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (url.pathname !== '/v1/listen' && url.pathname !== '/v2/listen') {
      return refuseUpgrade(socket, 404, 'NOT_FOUND', `no WebSocket endpoint at ${url.pathname}`);
    }
    const fault = takeHttpFault(userKnobs);
    if (fault) {
      return refuseUpgrade(socket, fault.status, fault.status === 429 ? 'TOO_MANY_REQUESTS' : 'INTERNAL_SERVER_ERROR', `emulated fault: HTTP ${fault.status}`,
        fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {});
    }
    if (!hasCredentials(req)) return refuseUpgrade(socket, 401, 'INVALID_AUTH', 'Invalid credentials.');
    const format = audioFormat(url.searchParams);
    if ('error' in format) return refuseUpgrade(socket, 400, 'INVALID_QUERY_PARAMETER', format.error);
    const params = url.pathname === '/v1/listen' ? v1Params(url.searchParams) : fluxParams(url.searchParams);
    if ('error' in params) return refuseUpgrade(socket, 400, 'INVALID_QUERY_PARAMETER', params.error);
    wss.handleUpgrade(req, socket, head, (ws) => {
      sessions.add(ws);
      ws.on('close', () => sessions.delete(ws));
      if (url.pathname === '/v1/listen') new V1Session(ws, state, format.sampleRate, params as V1Params, recorder('/v1/listen'));
      else new FluxSession(ws, state, format.sampleRate, params as FluxParams, recorder('/v2/listen'));
    });
  });

  const port = await listenLoopback(server, opts.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    setScript(lines) {
      script = [...lines];
      shared = 0;
    },
    setKnobs(k) {
      userKnobs = { ...userKnobs, ...k };
      if (k.seed !== undefined) rng = createRng(k.seed);
    },
    activeConnections: () => sessions.size,
    audioChunks,
    async close() {
      for (const ws of sessions) ws.terminate();
      wss.close();
      await closeServer(server);
    },
  };
}
