// AssemblyAI Universal-Streaming v3 STT through the `assemblyai` SDK's StreamingTranscriber: Turn/SpeechStarted messages → SttEvent.
import { AssemblyAI, type StreamingTranscriber, type TurnEvent } from 'assemblyai';
import type { Logger } from '../observability/logger';
import { AsyncQueue } from './async-queue';
import { rechunker } from './rechunk';
import type { Mulaw, SpeechToText, SttEvent, SttWord } from './types';

/*
 * How AssemblyAI's turn signals feed the turn detector (fargate/src/turn-detector.ts):
 *
 * - AssemblyAI decides the end of turn itself (assemblyai.com/docs/streaming/universal-streaming/turn-detection):
 *   semantic when end_of_turn_confidence > end_of_turn_confidence_threshold (default 0.4) after min_turn_silence
 *   (default 400 ms), acoustic after max_turn_silence (default 1280 ms). So it maps like Deepgram Flux: the
 *   detector's `end-of-turn` input, not Nova's speech_final/utterance-end pair. The profile's endpointingMs is the
 *   natural min_turn_silence, and utteranceEndMs (+ margin) the natural max_turn_silence.
 * - `SpeechStarted` (v3 message sequence, assemblyai.com/docs/streaming/message-sequence) → `speech-started`
 *   (barge-in onset); `timestamp` is ms of session audio, like word times.
 * - `Turn` with end_of_turn false → `transcript` (isFinal false, speechFinal false); its text is every word heard so
 *   far, finalized (word_is_final) or not, because `transcript` only holds the finalized ones and barge-in wants the
 *   newest words.
 * - A non-empty `utterance` on a Turn that is not end_of_turn ("populated when the system detects a pause ... enables
 *   eager LLM inference", message-sequence page) → `eager-end-of-turn` (speculative reply); further words in the same
 *   turn_order → `turn-resumed`.
 * - `Turn` with end_of_turn true → `end-of-turn`. With format_turns a second end_of_turn Turn follows with
 *   turn_is_formatted true; the docs advise voice agents not to wait for it ("adds additional latency"), so it is
 *   dropped (format_turns is off by default here).
 * - end_of_turn_confidence is about timing, not the words: the seam's confidence is the mean word confidence.
 */

export interface AssemblyAiSttOptions {
  apiKey: string;
  /** Override of wss://streaming.assemblyai.com/v3/ws (ASSEMBLYAI_URL; the local emulator). The SDK accepts wss only. */
  url?: string;
  /** `speech_model`, required by v3 (there is no default). @default 'universal-streaming-english' */
  speechModel?: 'universal-streaming-english' | 'universal-streaming-multilingual';
  /** `end_of_turn_confidence_threshold`. @default AssemblyAI's (0.4) */
  endOfTurnConfidenceThreshold?: number;
  /** `min_turn_silence` ms. @default AssemblyAI's (400) */
  minTurnSilenceMs?: number;
  /** `max_turn_silence` ms. @default AssemblyAI's (1280) */
  maxTurnSilenceMs?: number;
  /** `keyterms_prompt` boosts. @default none */
  keyterms?: string[];
  log: Logger;
  /** Handshake (socket open + Begin) timeout. @default 5000 */
  connectTimeoutMs?: number;
}

/** The stream failed: the handshake was refused or the socket closed without our Terminate. */
export class AssemblyAiError extends Error {
  override name = 'AssemblyAiError';
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/**
 * Audio is sent in 100 ms messages (800 bytes of 8 kHz μ-law): v3 closes with 3007 "Audio chunk duration violation"
 * outside 50–1000 ms (the SDK's StreamingErrorType table), and Twilio frames are only 20 ms.
 */
export const CHUNK_BYTES = 800;

/** Per-stream state the Turn mapping needs (which turn ended, which had an eager end). */
export interface TurnState {
  ended: number;
  eager: number;
  eagerWords: number;
}

export const initialTurnState = (): TurnState => ({ ended: -1, eager: -1, eagerWords: 0 });

function seamWords(list: TurnEvent['words'] | undefined): SttWord[] {
  return (list ?? []).map((w) => ({ word: w.text, start: w.start / 1000, end: w.end / 1000, confidence: w.confidence }));
}

const meanConfidence = (ws: SttWord[]) => (ws.length ? ws.reduce((s, w) => s + w.confidence, 0) / ws.length : 0);

/** One v3 `Turn` message → the seam events it stands for (see the mapping comment above); updates `state`. */
export function mapTurn(msg: TurnEvent & { utterance?: string }, state: TurnState): SttEvent[] {
  const order = msg.turn_order;
  if (order <= state.ended) return []; // the formatted repeat of a turn already ended
  const words = seamWords(msg.words);
  const confidence = meanConfidence(words);
  if (msg.end_of_turn) {
    state.ended = order;
    return [{ kind: 'end-of-turn', text: msg.transcript, words, confidence }];
  }
  const out: SttEvent[] = [];
  if (state.eager === order && words.length > state.eagerWords) {
    state.eager = -1;
    out.push({ kind: 'turn-resumed' });
  }
  out.push({ kind: 'transcript', text: words.map((w) => w.word).join(' '), words, confidence, isFinal: false, speechFinal: false });
  if (msg.utterance && state.eager !== order) {
    state.eager = order;
    state.eagerWords = words.length;
    out.push({ kind: 'eager-end-of-turn', text: msg.utterance, words, confidence });
  }
  return out;
}

/** Streams one call's audio through a connected transcriber; ends on Terminate, fails on an unexpected close. */
function run(t: StreamingTranscriber, audio: AsyncIterable<Mulaw>, signal: AbortSignal, q: AsyncQueue<SttEvent>, log: Logger): void {
  let terminating = false;
  const state = initialTurnState();
  t.on('turn', (m) => {
    for (const ev of mapTurn(m, state)) q.push(ev);
  });
  // The SDK dispatches `speechStarted` but has no typed overload for it (service.ts `on`).
  (t as unknown as { on(e: 'speechStarted', l: (m: { timestamp: number }) => void): void }).on('speechStarted', (m) =>
    q.push({ kind: 'speech-started', at: m.timestamp / 1000 }),
  );
  t.on('error', (e) => log.warn({ provider: 'assemblyai', err: e.message }, 'assemblyai stream error'));
  t.on('close', (code, reason) => (terminating ? q.end() : q.fail(new AssemblyAiError(`AssemblyAI closed the stream: ${code}${reason ? ` ${reason}` : ''}`, code))));
  const finish = async () => {
    if (terminating) return;
    terminating = true;
    await t.close(true).catch(() => undefined); // Terminate, wait for Termination (the last Turn comes first)
    q.end();
  };
  signal.addEventListener('abort', () => void finish(), { once: true });
  void (async () => {
    // The tail is sent only when it is ≥ 50 ms (400 bytes); a shorter one would be refused with 3007.
    const chunks = rechunker(CHUNK_BYTES);
    try {
      for await (const f of audio) {
        if (signal.aborted || terminating || q.settled) return;
        for (const c of chunks.add(f)) t.sendAudio(c.buffer as ArrayBuffer);
      }
      const tail = chunks.take();
      if (tail.length >= 400 && !q.settled) t.sendAudio(tail.buffer as ArrayBuffer);
    } catch (err) {
      q.fail(err);
      terminating = true;
      return void t.close(false).catch(() => undefined);
    }
    await finish();
  })();
}

/**
 * Creates the AssemblyAI STT. Each `transcribe` dials one v3 session (μ-law 8 kHz), streams the call's audio in
 * 100 ms messages and yields seam events until the audio ends (Terminate, then the last Turn) or the signal aborts.
 *
 * @example
 * const stt = createAssemblyAiStt({ apiKey: cfg.ASSEMBLYAI_API_KEY!, url: cfg.ASSEMBLYAI_URL, minTurnSilenceMs: 500, log });
 * for await (const ev of stt.transcribe(inboundAudio, call.signal)) detector.update(ev, Date.now(), audible);
 */
export function createAssemblyAiStt(opts: AssemblyAiSttOptions): SpeechToText {
  const client = new AssemblyAI({ apiKey: opts.apiKey });
  return {
    transcribe(audio, signal) {
      return (async function* () {
        signal.throwIfAborted();
        const t = client.streaming.transcriber({
          ...(opts.url ? { websocketBaseUrl: opts.url } : {}),
          sampleRate: 8000,
          encoding: 'pcm_mulaw',
          speechModel: opts.speechModel ?? 'universal-streaming-english',
          formatTurns: false,
          // A live call must see a failed dial at once (the failover moves on); the SDK would retry twice.
          maxConnectionRetries: 0,
          connectTimeout: opts.connectTimeoutMs ?? 5000,
          ...(opts.endOfTurnConfidenceThreshold !== undefined ? { endOfTurnConfidenceThreshold: opts.endOfTurnConfidenceThreshold } : {}),
          ...(opts.minTurnSilenceMs !== undefined ? { minTurnSilence: opts.minTurnSilenceMs } : {}),
          ...(opts.maxTurnSilenceMs !== undefined ? { maxTurnSilence: opts.maxTurnSilenceMs } : {}),
          ...(opts.keyterms?.length ? { keytermsPrompt: opts.keyterms } : {}),
        });
        try {
          await t.connect();
        } catch (err) {
          const code = (err as { code?: number }).code;
          throw new AssemblyAiError(`AssemblyAI connect failed: ${(err as Error).message}`, code);
        }
        const q = new AsyncQueue<SttEvent>();
        run(t, audio, signal, q, opts.log);
        try {
          yield* q;
        } finally {
          if (!q.settled) void t.close(false).catch(() => undefined);
        }
      })();
    },
  };
}
