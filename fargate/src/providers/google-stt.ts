// Google Cloud Speech-to-Text v1 streaming through @google-cloud/speech (gRPC StreamingRecognize): responses → SttEvent.
import { credentials as grpcCredentials } from '@grpc/grpc-js';
import { SpeechClient, type protos } from '@google-cloud/speech';
import type { Logger } from '../observability/logger';
import { AsyncQueue } from './async-queue';
import { rechunker } from './rechunk';
import type { Mulaw, SpeechToText, SttEvent, SttWord } from './types';

/*
 * How Google's signals feed the turn detector (fargate/src/turn-detector.ts). Sources: the v1 proto shipped in the
 * package (build/protos/google/cloud/speech/v1/cloud_speech.proto: StreamingRecognizeResponse, SpeechEventType,
 * StreamingRecognitionResult).
 *
 * - Google has no turn model and no configurable endpointing in v1 continuous mode (single_utterance=false): the
 *   recogniser settles a portion of audio with `is_final` when it decides the speech paused. So it maps like Deepgram
 *   Nova with endpointing: a final result is `transcript` with isFinal AND speechFinal true (the detector's "the
 *   turn may be over" input). Google publishes no figure for that pause; the detector's maxSilence fallback and the
 *   profile are what the team tunes.
 * - `SPEECH_ACTIVITY_BEGIN` (enable_voice_activity_events) → `speech-started` at speech_event_time (barge-in onset).
 * - `SPEECH_ACTIVITY_END` → `utterance-end` at speech_event_time: the detector's fallback when no final closed the
 *   turn (it is a no-op after a final already did).
 * - Interim results (interim_results=true, is_final false) → `transcript` isFinal false: the text is every result's
 *   top alternative joined (stable part first, then the unstable tail), as the proto comment's example shows.
 * - Word times (enable_word_time_offsets) come on final results only; confidence is the top alternative's.
 * - A stream may last at most ~5 minutes of audio (Google quotas: "Streaming audio content limit: 5 minutes"); a
 *   longer call fails with OUT_OF_RANGE and the failover moves it on (stream restarts are not implemented here).
 */

export interface GoogleSttOptions {
  /** Service-account credentials (GOOGLE_STT_CREDENTIALS JSON: client_email, private_key). @default ADC */
  credentials?: { client_email: string; private_key: string };
  /** GOOGLE_STT_API_KEY, instead of credentials. */
  apiKey?: string;
  /** GOOGLE_STT_PROJECT_ID (quota project). */
  projectId?: string;
  /**
   * `host:port` of a plaintext endpoint (GOOGLE_STT_ENDPOINT; the local emulator). Unset: speech.googleapis.com over
   * TLS with the credentials.
   */
  endpoint?: string;
  /** `RecognitionConfig.model`, e.g. `phone_call` or `telephony`. @default Google's default for the language */
  model?: string;
  /** @default 'en-US' */
  languageCode?: string;
  /** SpeechContext phrases (keyterm boosting). @default none */
  phrases?: string[];
  log: Logger;
}

/** The stream failed (gRPC status in `code`). */
export class GoogleSttError extends Error {
  override name = 'GoogleSttError';
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** "A 100-millisecond frame size is recommended" (cloud.google.com/speech-to-text/docs/best-practices): 800 bytes of μ-law. */
const CHUNK_BYTES = 800;

type Response = protos.google.cloud.speech.v1.IStreamingRecognizeResponse;
type Duration = protos.google.protobuf.IDuration | null | undefined;

/** A protobuf Duration (seconds as Long/number/string, nanos) in seconds. */
export function seconds(d: Duration): number {
  if (!d) return 0;
  return Number(d.seconds ?? 0) + (d.nanos ?? 0) / 1e9;
}

function seamWords(alt: protos.google.cloud.speech.v1.ISpeechRecognitionAlternative | undefined): SttWord[] {
  return (alt?.words ?? []).map((w) => ({ word: w.word ?? '', start: seconds(w.startTime), end: seconds(w.endTime), confidence: w.confidence ?? alt?.confidence ?? 0 }));
}

const eventName = (t: Response['speechEventType']) => (typeof t === 'number' ? ['SPEECH_EVENT_UNSPECIFIED', 'END_OF_SINGLE_UTTERANCE', 'SPEECH_ACTIVITY_BEGIN', 'SPEECH_ACTIVITY_END', 'SPEECH_ACTIVITY_TIMEOUT'][t] : t);

/** One StreamingRecognizeResponse → the seam events it stands for (see the mapping comment above). */
export function mapResponse(res: Response, lastFinalEnd = 0): SttEvent[] {
  const ev = eventName(res.speechEventType);
  if (ev === 'SPEECH_ACTIVITY_BEGIN') return [{ kind: 'speech-started', at: seconds(res.speechEventTime) }];
  if (ev === 'SPEECH_ACTIVITY_END') return [{ kind: 'utterance-end', lastWordEnd: lastFinalEnd || seconds(res.speechEventTime) }];
  const results = res.results ?? [];
  if (!results.length) return [];
  const final = results.find((r) => r.isFinal);
  if (final) {
    const alt = final.alternatives?.[0];
    return [{ kind: 'transcript', text: (alt?.transcript ?? '').trim(), words: seamWords(alt), confidence: alt?.confidence ?? 0, isFinal: true, speechFinal: true }];
  }
  const text = results.map((r) => r.alternatives?.[0]?.transcript ?? '').join('').trim();
  return [{ kind: 'transcript', text, words: [], confidence: results[0]?.alternatives?.[0]?.confidence ?? 0, isFinal: false, speechFinal: false }];
}

/** The SDK's duplex stream (ImprovedStreamingClient.streamingRecognize): Buffers in, responses out. */
interface RecognizeStream {
  write(chunk: Buffer): boolean;
  end(): void;
  destroy(err?: Error): void;
  on(ev: 'data', cb: (r: Response) => void): this;
  on(ev: 'error', cb: (e: Error & { code?: number }) => void): this;
  on(ev: 'end', cb: () => void): this;
}

function clientFor(opts: GoogleSttOptions): SpeechClient {
  if (opts.endpoint) {
    const [host, port] = opts.endpoint.split(':');
    // An API key keeps google-auth from probing the GCE metadata server for credentials the emulator does not need.
    return new SpeechClient({ apiEndpoint: host, port: Number(port), sslCreds: grpcCredentials.createInsecure(), apiKey: opts.apiKey ?? 'local', projectId: opts.projectId ?? 'local' });
  }
  return new SpeechClient({ ...(opts.credentials ? { credentials: opts.credentials } : {}), ...(opts.apiKey ? { apiKey: opts.apiKey } : {}), ...(opts.projectId ? { projectId: opts.projectId } : {}) });
}

/**
 * Creates the Google STT. Each `transcribe` opens one StreamingRecognize call (MULAW 8 kHz, interim results, voice
 * activity events, word offsets), streams the audio in 100 ms requests and yields seam events until the audio ends
 * (half-close, then the last results) or the signal aborts.
 */
export function createGoogleStt(opts: GoogleSttOptions): SpeechToText {
  const client = clientFor(opts);
  const streamingConfig = {
    config: {
      encoding: 'MULAW' as const,
      sampleRateHertz: 8000,
      languageCode: opts.languageCode ?? 'en-US',
      enableWordTimeOffsets: true,
      enableAutomaticPunctuation: true,
      ...(opts.model ? { model: opts.model } : {}),
      ...(opts.phrases?.length ? { speechContexts: [{ phrases: opts.phrases }] } : {}),
    },
    interimResults: true,
    enableVoiceActivityEvents: true,
  };
  return {
    transcribe(audio, signal) {
      return (async function* () {
        signal.throwIfAborted();
        const q = new AsyncQueue<SttEvent>();
        const stream = client.streamingRecognize(streamingConfig) as unknown as RecognizeStream;
        let lastFinalEnd = 0;
        stream.on('data', (r) => {
          for (const ev of mapResponse(r, lastFinalEnd)) {
            if (ev.kind === 'transcript' && ev.isFinal && ev.words.length) lastFinalEnd = ev.words.at(-1)!.end;
            q.push(ev);
          }
        });
        stream.on('error', (e) => (signal.aborted ? q.end() : q.fail(new GoogleSttError(`Google STT stream failed: ${e.message}`, e.code))));
        stream.on('end', () => q.end());
        const onAbort = () => (stream.destroy(), q.end());
        signal.addEventListener('abort', onAbort, { once: true });
        void (async () => {
          const chunks = rechunker(CHUNK_BYTES);
          try {
            for await (const f of audio) {
              if (signal.aborted || q.settled) return;
              for (const c of chunks.add(f)) stream.write(Buffer.from(c));
            }
            const tail = chunks.take();
            if (tail.length && !q.settled) stream.write(Buffer.from(tail));
            stream.end(); // half-close: Google sends the last results, then ends the call
          } catch (err) {
            q.fail(err);
            stream.destroy();
          }
        })();
        try {
          yield* q;
        } finally {
          signal.removeEventListener('abort', onAbort);
          if (!q.settled) stream.destroy();
        }
      })();
    },
  };
}
