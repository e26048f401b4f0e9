// Google Cloud Speech-to-Text v1 emulator: a @grpc/grpc-js server for Speech.StreamingRecognize built from @google-cloud/speech's own proto.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRng, OrderedSender, sampleLatency, type EmulatorHandle, type Latency } from './knobs';
import { BURST_GAP_MS } from './deepgram';
import { BurstTracker, type BurstWord } from './speech-bursts';

/*
 * Protocol: google/cloud/speech/v1/cloud_speech.proto as shipped in @google-cloud/speech (loaded from the package,
 * not copied): the first StreamingRecognizeRequest carries `streaming_config`, later ones `audio_content`; responses
 * carry `results` (zero or one is_final result, then interim ones) or a `speech_event_type`
 * (SPEECH_ACTIVITY_BEGIN/END with enable_voice_activity_events). Word offsets only with enable_word_time_offsets.
 * A stream is limited to ~5 minutes of audio ("Streaming audio content limit", cloud.google.com/speech-to-text/quotas);
 * past it the emulator ends the call with OUT_OF_RANGE.
 *
 * Emulator limits: no auth is checked (the SDK sends none over the plaintext channel used locally); only MULAW at
 * 8000 Hz is transcribed; Google publishes no endpointing figure, so a final comes after `endpointSilenceMs` of
 * silence (default: the project's 250 ms burst gap, CONTRACTS.md) — emulated final delays say nothing about Google.
 */

export interface GoogleSttKnobs {
  /** @default 1 */
  seed?: number;
  /** Silence after speech before the final result. @default BURST_GAP_MS (250, the project's convention; Google publishes none) */
  endpointSilenceMs?: number;
  /** Delay before each interim result. @default 0 */
  interimMs?: Latency;
  /** Delay from the endpoint decision to the final result. @default 0 */
  finalMs?: Latency;
}

export interface GoogleSttEmulatorOptions {
  /** @default 0 (ephemeral) */
  port?: number;
  script?: string[];
  knobs?: GoogleSttKnobs;
}

export interface GoogleSttEmulator extends EmulatorHandle {
  /** `host:port` for GoogleSttOptions.endpoint. */
  endpoint: string;
  setScript(lines: string[]): void;
  setKnobs(knobs: Partial<GoogleSttKnobs>): void;
  activeConnections(): number;
  /** Fails every open StreamingRecognize call with UNAVAILABLE: a mid-stream provider failure. */
  dropConnections(): void;
}

const MAX_STREAM_SEC = 305;

/** The Speech service from the package's compiled protos (build/protos/protos.json, found via its package.json). */
function loadSpeechService(): grpc.ServiceDefinition {
  const require = createRequire(import.meta.url);
  const json = require(join(dirname(require.resolve('@google-cloud/speech/package.json')), 'build', 'protos', 'protos.json')) as Record<string, unknown>;
  const def = protoLoader.fromJSON(json, { keepCase: false, enums: String, longs: Number, defaults: false, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { google: { cloud: { speech: { v1: { Speech: { service: grpc.ServiceDefinition } } } } } };
  return pkg.google.cloud.speech.v1.Speech.service;
}

const duration = (sec: number) => ({ seconds: Math.floor(sec), nanos: Math.round((sec - Math.floor(sec)) * 1e9) });
const bare = (w: string) => w.toLowerCase().replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');

interface StreamConfig {
  config?: { encoding?: string; sampleRateHertz?: number; enableWordTimeOffsets?: boolean; enableAutomaticPunctuation?: boolean };
  interimResults?: boolean;
  enableVoiceActivityEvents?: boolean;
}

type Call = grpc.ServerDuplexStream<{ streamingConfig?: StreamConfig; audioContent?: Buffer }, object>;

/** One StreamingRecognize call. */
function serve(call: Call, emu: { knobs: GoogleSttKnobs; rng: () => number; line: (i: number) => string | undefined }, onDone: () => void): (code: grpc.status, details: string) => void {
  const sender = new OrderedSender();
  let cfg: StreamConfig | undefined;
  let bursts: BurstTracker | undefined;
  let ended = false;
  const send = (delay: number, msg: object) => sender.schedule(delay, () => !ended && call.write(msg));
  const fail = (code: grpc.status, details: string) => {
    if (ended) return;
    ended = true;
    sender.cancel();
    call.emit('error', { code, details });
    onDone();
  };
  const text = (words: BurstWord[]) => words.map((w) => (cfg?.config?.enableAutomaticPunctuation ? w.text : bare(w.text))).join(' ');
  const emit = (events: ReturnType<BurstTracker['feed']>) => {
    const k = emu.knobs;
    for (const ev of events) {
      if (ev.kind === 'start' && cfg?.enableVoiceActivityEvents) send(0, { speechEventType: 'SPEECH_ACTIVITY_BEGIN', speechEventTime: duration(ev.at) });
      if (ev.kind === 'words' && cfg?.interimResults) {
        send(sampleLatency(k.interimMs, emu.rng), { results: [{ alternatives: [{ transcript: text(ev.words) }], isFinal: false, stability: 0.01, resultEndTime: duration(ev.words.at(-1)!.end) }] });
      }
      if (ev.kind === 'end') {
        const confidence = 0.9 + 0.1 * emu.rng();
        const words = cfg?.config?.enableWordTimeOffsets ? ev.words.map((w) => ({ word: bare(w.text), startTime: duration(w.start), endTime: duration(w.end), confidence })) : [];
        if (ev.words.length) send(sampleLatency(k.finalMs, emu.rng), { results: [{ alternatives: [{ transcript: text(ev.words), confidence, words }], isFinal: true, resultEndTime: duration(ev.endedAt) }] });
        if (cfg?.enableVoiceActivityEvents) send(0, { speechEventType: 'SPEECH_ACTIVITY_END', speechEventTime: duration(ev.endedAt) });
      }
    }
  };
  call.on('data', (req) => {
    if (ended) return;
    if (!cfg) {
      if (!req.streamingConfig) return fail(grpc.status.INVALID_ARGUMENT, 'the first request must carry streaming_config');
      cfg = req.streamingConfig;
      if (cfg?.config?.encoding !== 'MULAW' || cfg.config.sampleRateHertz !== 8000) return fail(grpc.status.INVALID_ARGUMENT, 'this emulator transcribes only MULAW at 8000 Hz');
      bursts = new BurstTracker(emu.line, emu.knobs.endpointSilenceMs ?? BURST_GAP_MS);
      return;
    }
    if (req.streamingConfig) return fail(grpc.status.INVALID_ARGUMENT, 'streaming_config may only be sent in the first request');
    emit(bursts!.feed(req.audioContent ?? Buffer.alloc(0)));
    if (bursts!.audioSec > MAX_STREAM_SEC) fail(grpc.status.OUT_OF_RANGE, `Exceeded maximum allowed stream duration of ${MAX_STREAM_SEC} seconds.`);
  });
  call.on('end', () => {
    if (ended) return;
    if (bursts) emit(bursts.flush());
    void sender.idle().then(() => {
      if (ended) return;
      ended = true;
      call.end();
      onDone();
    });
  });
  call.on('error', () => ((ended = true), sender.cancel(), onDone()));
  call.on('cancelled', () => ((ended = true), sender.cancel(), onDone()));
  return fail;
}

/** Starts the Google STT emulator on 127.0.0.1 (plaintext HTTP/2). */
export async function startGoogleSttEmulator(opts: GoogleSttEmulatorOptions = {}): Promise<GoogleSttEmulator> {
  let script = [...(opts.script ?? [])];
  let knobs: GoogleSttKnobs = { ...opts.knobs };
  let rng = createRng(knobs.seed ?? 1);
  const calls = new Map<Call, (code: grpc.status, details: string) => void>();
  const server = new grpc.Server();
  const emu = { get knobs() { return knobs; }, rng: () => rng(), line: (i: number) => script[i] };
  const unimplemented = (_call: unknown, cb: (e: { code: grpc.status; details: string }) => void) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'the emulator serves only StreamingRecognize' });
  server.addService(loadSpeechService(), {
    StreamingRecognize: (call: Call) => {
      calls.set(call, serve(call, emu, () => calls.delete(call)));
    },
    Recognize: unimplemented,
    LongRunningRecognize: unimplemented,
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    endpoint: `127.0.0.1:${port}`,
    port,
    setScript: (lines) => void (script = [...lines]),
    setKnobs(k) {
      knobs = { ...knobs, ...k };
      if (k.seed !== undefined) rng = createRng(k.seed);
    },
    activeConnections: () => calls.size,
    dropConnections() {
      for (const fail of [...calls.values()]) fail(grpc.status.UNAVAILABLE, 'emulated drop');
    },
    async close() {
      // forceShutdown: tryShutdown would wait for clients that never half-close (a dropped call's channel).
      server.forceShutdown();
    },
  };
}
