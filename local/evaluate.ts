// `npm run evaluate -- [--runs N] [--scenario NAME] [--json]`: scenario audio through every STT, a reply through every LLM and TTS, one latency/WER table.
import './node-support';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createAssemblyAiStt } from '../fargate/src/providers/assemblyai-stt';
import { AsyncQueue } from '../fargate/src/providers/async-queue';
import { chainEnvSchema } from '../fargate/src/providers/chain-config';
import { createDeepgramStt } from '../fargate/src/providers/deepgram-stt';
import { createDeepgramTts } from '../fargate/src/providers/deepgram-tts';
import { createElevenLabsTts } from '../fargate/src/providers/elevenlabs-tts';
import { createGoogleStt } from '../fargate/src/providers/google-stt';
import { createGroqLlm } from '../fargate/src/providers/groq-llm';
import { createOpenAiCompatibleLlm } from '../fargate/src/providers/openai-compatible-llm';
import type { LanguageModel, SpeechToText, TextToSpeech } from '../fargate/src/providers/types';
import { ENDPOINTING_PROFILES } from '../fargate/src/turn-detector';
import { silence } from './audio/mulaw';
import { emulatorCaPath, startAssemblyAiEmulator } from './emulators/assemblyai';
import { startDeepgramEmulator } from './emulators/deepgram';
import { startDeepgramTtsEmulator } from './emulators/deepgram-tts';
import { startElevenLabsEmulator } from './emulators/elevenlabs';
import { startGoogleSttEmulator } from './emulators/google-stt';
import { startLlmEmulator } from './emulators/llm';
import { loadScenario, loadSayAudio, sayStepsOf } from './scenarios/scenario';

const log = pino({ level: 'silent' });
let RUNS = 3;

/** One measured provider: `real` when its key is in the environment, else the local emulator. */
interface Subject<T> {
  seam: 'stt' | 'llm' | 'tts';
  provider: string;
  real: boolean;
  impl: T;
  /** Updates the emulator's script before an utterance (emulated STT only). */
  setScript?: (lines: string[]) => void;
}

/** One row of the table. */
interface Row {
  seam: string;
  provider: string;
  mode: 'real' | 'emulated';
  metric: string;
  p50: number | undefined;
  p95: number | undefined;
  n: number;
  note?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Nearest-rank percentile. */
export function percentile(xs: number[], p: number): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const norm = (t: string) => t.toLowerCase().replace(/[^\p{L}\p{N}' ]+/gu, ' ').split(/\s+/).filter(Boolean);

/** Word error rate: word-level edit distance over the reference length (lower-cased, punctuation dropped). */
export function wer(reference: string, hypothesis: string): number {
  const r = norm(reference);
  const h = norm(hypothesis);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (r[i - 1] === h[j - 1] ? 0 : 1));
    prev = cur;
  }
  return r.length ? prev[h.length]! / r.length : h.length ? 1 : 0;
}

/** Streams one utterance in real time (20 ms frames) plus trailing silence; times the first partial and the turn's end. */
async function sttRun(stt: SpeechToText, bytes: Uint8Array): Promise<{ ttfp?: number; finalDelay?: number; text: string }> {
  const q = new AsyncQueue<Uint8Array>();
  const ac = new AbortController();
  const t0 = performance.now();
  let ttfp: number | undefined;
  let endedAt: number | undefined;
  let speechEnd = Infinity;
  const finals: string[] = [];
  const consumer = (async () => {
    for await (const ev of stt.transcribe(q, ac.signal)) {
      const now = performance.now();
      if (ev.kind === 'transcript' && ev.text.trim() && ttfp === undefined) ttfp = now - t0;
      if ((ev.kind === 'transcript' && ev.isFinal) || ev.kind === 'end-of-turn') ev.text.trim() && finals.push(ev.text.trim());
      const ends = ev.kind === 'end-of-turn' || ev.kind === 'utterance-end' || (ev.kind === 'transcript' && ev.speechFinal);
      if (ends && endedAt === undefined && (ev.kind !== 'transcript' || ev.text.trim())) endedAt = now;
    }
  })().catch(() => undefined);
  const audio = Buffer.concat([Buffer.from(bytes), Buffer.from(silence(3000))]);
  for (let i = 0, k = 0; i < audio.length; i += 160, k++) {
    if (i >= bytes.length && speechEnd === Infinity) speechEnd = performance.now();
    if (endedAt !== undefined && i > bytes.length) break;
    q.push(new Uint8Array(audio.subarray(i, i + 160)));
    await sleep(t0 + (k + 1) * 20 - performance.now());
  }
  q.end();
  await Promise.race([consumer, sleep(3000)]);
  ac.abort();
  return { ttfp, finalDelay: endedAt !== undefined ? endedAt - speechEnd : undefined, text: finals.join(' ') };
}

/** STT rows: time to first partial, final delay after speech end, WER, each over every utterance × run. */
async function measureStt(s: Subject<SpeechToText>, utterances: { id: string; text: string }[]): Promise<Row[]> {
  const ttfp: number[] = [];
  const delay: number[] = [];
  const errs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    for (const u of utterances) {
      s.setScript?.([u.text]);
      const r = await sttRun(s.impl, loadSayAudio(u.id));
      if (r.ttfp !== undefined) ttfp.push(r.ttfp);
      if (r.finalDelay !== undefined) delay.push(r.finalDelay);
      errs.push(wer(u.text, r.text) * 100);
    }
  }
  const base = { seam: 'stt', provider: s.provider, mode: s.real ? 'real' : 'emulated' } as const;
  return [
    { ...base, metric: 'time to first partial (ms)', p50: percentile(ttfp, 50), p95: percentile(ttfp, 95), n: ttfp.length },
    { ...base, metric: 'final delay after speech end (ms)', p50: percentile(delay, 50), p95: percentile(delay, 95), n: delay.length },
    { ...base, metric: 'WER (%)', p50: percentile(errs, 50), p95: percentile(errs, 95), n: errs.length, ...(s.real ? {} : { note: 'emulated WER is not a measurement (the emulator returns the script)' }) },
  ];
}

const PROMPT = [
  { role: 'system' as const, content: 'You are a friendly receptionist for a hair salon. Answer in one or two short sentences.' },
  { role: 'user' as const, content: "Hi, I'd like to book a haircut for tomorrow. What times do you have?" },
];

/** LLM rows: time to first spoken token and output tokens/s after it. */
async function measureLlm(s: Subject<LanguageModel>, model: string): Promise<Row[]> {
  const ttft: number[] = [];
  const tps: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    let first: number | undefined;
    try {
      for await (const ev of s.impl.stream({ model, messages: PROMPT, maxTokens: 200 }, new AbortController().signal)) {
        if (ev.kind === 'text' && ev.delta.trim() && first === undefined) first = performance.now();
        if (ev.kind === 'done' && first !== undefined) {
          const secs = (performance.now() - first) / 1000;
          if (secs > 0 && ev.usage.outputTokens > 1) tps.push((ev.usage.outputTokens - 1) / secs);
        }
      }
    } catch {
      // a failed run counts in n as missing
    }
    if (first !== undefined) ttft.push(first - t0);
  }
  const base = { seam: 'llm', provider: `${s.provider} (${model})`, mode: s.real ? 'real' : 'emulated' } as const;
  return [
    { ...base, metric: 'time to first spoken token (ms)', p50: percentile(ttft, 50), p95: percentile(ttft, 95), n: ttft.length },
    { ...base, metric: 'tokens/s', p50: percentile(tps, 50), p95: percentile(tps, 95), n: tps.length },
  ];
}

/** TTS rows: time from the first text piece to the first audio byte. */
async function measureTts(s: Subject<() => Promise<TextToSpeech & { close(): void }>>): Promise<Row[]> {
  const ttfb: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const conn = await s.impl();
    const t0 = performance.now();
    const text = (async function* () {
      yield 'Tomorrow I have 9 AM, 10 AM and 1 PM open for a haircut. ';
      yield 'Which time works for you?';
    })();
    for await (const chunk of conn.synthesize(text, new AbortController().signal)) {
      if (chunk.audio.length) {
        ttfb.push(performance.now() - t0);
        break;
      }
    }
    conn.close();
  }
  return [{ seam: 'tts', provider: s.provider, mode: s.real ? 'real' : 'emulated', metric: 'time to first byte (ms)', p50: percentile(ttfb, 50), p95: percentile(ttfb, 95), n: ttfb.length }];
}

/** Everything the run started (emulators) and the subjects to measure, real where a key is set. */
async function subjects(env: NodeJS.ProcessEnv) {
  const cfg = chainEnvSchema.parse(Object.fromEntries(Object.entries(env).filter(([, v]) => v)));
  const closers: (() => Promise<void>)[] = [];
  const started = async <T extends { close(): Promise<void> }>(p: Promise<T>) => {
    const e = await p;
    closers.push(() => e.close());
    return e;
  };
  const stt: Subject<SpeechToText>[] = [];
  const dgReal = !!env.DEEPGRAM_API_KEY && !env.DEEPGRAM_URL;
  const dg = dgReal ? undefined : await started(startDeepgramEmulator({}));
  const profile = { endpointingMs: ENDPOINTING_PROFILES.balanced.endpointingMs, utteranceEndMs: ENDPOINTING_PROFILES.balanced.utteranceEndMs };
  stt.push({ seam: 'stt', provider: 'deepgram nova-3', real: dgReal, setScript: dg?.setScript, impl: createDeepgramStt({ apiKey: env.DEEPGRAM_API_KEY ?? 'local', url: dg ? `ws://127.0.0.1:${dg.port}` : undefined, model: 'nova-3', profile, log }) });
  const aaiReal = !!env.ASSEMBLYAI_API_KEY && !env.ASSEMBLYAI_URL;
  const aai = aaiReal ? undefined : await started(startAssemblyAiEmulator({}));
  stt.push({ seam: 'stt', provider: 'assemblyai universal-streaming', real: aaiReal, setScript: aai?.setScript, impl: createAssemblyAiStt({ apiKey: env.ASSEMBLYAI_API_KEY ?? 'local', url: aai?.wsUrl, minTurnSilenceMs: profile.endpointingMs, log }) });
  const gReal = !!(env.GOOGLE_STT_CREDENTIALS || env.GOOGLE_STT_API_KEY) && !env.GOOGLE_STT_ENDPOINT;
  const g = gReal ? undefined : await started(startGoogleSttEmulator({}));
  const creds = env.GOOGLE_STT_CREDENTIALS ? (JSON.parse(env.GOOGLE_STT_CREDENTIALS) as { client_email: string; private_key: string }) : undefined;
  stt.push({ seam: 'stt', provider: 'google speech v1', real: gReal, setScript: g?.setScript, impl: createGoogleStt({ credentials: creds, apiKey: env.GOOGLE_STT_API_KEY, endpoint: g?.endpoint, model: cfg.GOOGLE_STT_MODEL, log }) });

  const llmEmu = await started(startLlmEmulator({ rules: [{ when: {}, reply: { text: 'Tomorrow I have 9 AM, 10 AM and 1 PM open for a haircut. Which time works for you?' } }] }));
  const llm: { s: Subject<LanguageModel>; model: string }[] = [];
  const groqReal = !!env.GROQ_API_KEY && !env.GROQ_BASE_URL;
  llm.push({ model: cfg.LLM_MODEL_SMALL, s: { seam: 'llm', provider: 'groq', real: groqReal, impl: createGroqLlm({ apiKey: env.GROQ_API_KEY ?? 'local', baseURL: groqReal ? undefined : llmEmu.url, log }) } });
  for (const [name, key, url, model] of [
    ['fireworks', env.FIREWORKS_API_KEY, cfg.FIREWORKS_BASE_URL, cfg.FIREWORKS_MODEL_SMALL],
    ['together', env.TOGETHER_API_KEY, cfg.TOGETHER_BASE_URL, cfg.TOGETHER_MODEL_SMALL],
  ] as const) {
    llm.push({ model, s: { seam: 'llm', provider: name, real: !!key, impl: createOpenAiCompatibleLlm({ apiKey: key ?? 'local', baseURL: key ? url : `${llmEmu.url}/v1`, provider: name, log }) } });
  }

  const tts: Subject<() => Promise<TextToSpeech & { close(): void }>>[] = [];
  const elReal = !!env.ELEVENLABS_API_KEY && !env.ELEVENLABS_URL;
  const el = elReal ? undefined : await started(startElevenLabsEmulator({}));
  const eleven = createElevenLabsTts({ apiKey: env.ELEVENLABS_API_KEY ?? 'local', url: el?.url, voiceId: env.ELEVENLABS_VOICE_ID ?? '21m00Tcm4TlvDq8ikWAM', model: env.ELEVENLABS_MODEL ?? 'eleven_flash_v2_5', log });
  tts.push({ seam: 'tts', provider: 'elevenlabs', real: elReal, impl: () => eleven.connect() });
  const auraReal = !!env.DEEPGRAM_API_KEY && !env.DEEPGRAM_TTS_URL;
  const aura = auraReal ? undefined : await started(startDeepgramTtsEmulator({}));
  const auraTts = createDeepgramTts({ apiKey: env.DEEPGRAM_API_KEY ?? 'local', url: aura?.url, model: cfg.DEEPGRAM_TTS_MODEL, log });
  tts.push({ seam: 'tts', provider: `deepgram ${cfg.DEEPGRAM_TTS_MODEL}`, real: auraReal, impl: () => auraTts.connect() });
  return { stt, llm, tts, emulatedAssemblyAi: !aaiReal, close: () => Promise.all(closers.map((c) => c())) };
}

const fmt = (x: number | undefined) => (x === undefined ? '—' : x >= 100 ? String(Math.round(x)) : x.toFixed(1));

/** The table: every emulated line says so. */
function table(rows: Row[]): string {
  const cells = rows.map((r) => [r.seam, r.provider, r.mode === 'real' ? 'real' : 'EMULATED (not a measurement of the vendor)', r.metric, fmt(r.p50), fmt(r.p95), String(r.n), r.note ?? '']);
  const head = ['seam', 'provider', 'mode', 'metric', 'p50', 'p95', 'n', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, scenario: { type: 'string', default: 'booking' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } });
  if (values.help) {
    console.log('usage: npm run evaluate -- [--runs N] [--scenario NAME] [--json]\nStreams the scenario audio through every configured STT, LLM and TTS provider (real with keys, else emulated and labelled so) and prints p50/p95.');
    process.exit(0);
  }
  RUNS = Number(values.runs);
  if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
  // The AssemblyAI SDK speaks only wss; an emulated AssemblyAI needs its self-signed certificate trusted at start-up.
  const needsCa = !(process.env.ASSEMBLYAI_API_KEY && !process.env.ASSEMBLYAI_URL);
  if (needsCa && process.env.NODE_EXTRA_CA_CERTS !== emulatorCaPath()) {
    const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, NODE_EXTRA_CA_CERTS: emulatorCaPath() } });
    process.exit(r.status ?? 1);
  }
  const scenario = loadScenario(values.scenario);
  const utterances = sayStepsOf(scenario).map((s) => ({ id: s.say, text: s.text }));
  const subj = await subjects(process.env);
  try {
    // Providers of one seam run side by side (separate services); each streams its utterances in real time, one after another.
    const stt = (await Promise.all(subj.stt.map((s) => measureStt(s, utterances)))).flat();
    const llm = (await Promise.all(subj.llm.map(({ s, model }) => measureLlm(s, model)))).flat();
    const tts = (await Promise.all(subj.tts.map((s) => measureTts(s)))).flat();
    const rows = [...stt, ...llm, ...tts];
    if (values.json) console.log(JSON.stringify({ scenario: scenario.name, runs: RUNS, rows }, null, 2));
    else {
      console.log(`npm run evaluate: scenario ${scenario.name}, ${utterances.length} utterances × ${RUNS} runs (STT), ${RUNS} runs (LLM, TTS)`);
      console.log(table(rows));
      if (rows.some((r) => r.mode === 'emulated')) console.log('\nEMULATED lines measure the local emulators and their knobs (published vendor figures where cited), not the vendors; set the provider keys to measure the real services from here.');
    }
  } finally {
    await subj.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
