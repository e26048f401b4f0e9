// `npm run eval:turns -- [--policy NAME…] [--json] [--dir FOLDER] [--cadence S…] [--stt MODEL…]`: the turn corpus through the real STT client, scored per turn-taking policy.
import './node-support';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createDeepgramStt, type DeepgramStt } from '../fargate/src/providers/deepgram-stt';
import type { Mulaw } from '../fargate/src/providers/types';
import { ENDPOINTING_PROFILES, type EndpointingProfileName } from '../fargate/src/turn-detector';
import { startDeepgramEmulator } from './emulators/deepgram';
import { CORPUS_DIR, loadCorpus, type LoadedTurn } from './turns/corpus';
import { POLICIES, replayTurn, score, type PolicyScore, type Recorded } from './turns/replay';

const { values } = parseArgs({
  options: {
    policy: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
    dir: { type: 'string' },
    /** Nova interim cadence of the emulator, seconds (its `interimEverySec` knob); Deepgram documents ~1 s. */
    cadence: { type: 'string', multiple: true },
    stt: { type: 'string', multiple: true },
    /** Turns streamed at once (each in real time). */
    concurrency: { type: 'string', default: '8' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(`usage: npm run eval:turns -- [--policy aggressive|balanced|conservative|adaptive]… [--stt nova-3|flux-general-en]…
       [--cadence SECONDS]… [--dir FOLDER] [--concurrency N] [--json]
Replays the labelled turn corpus (local/turns/, or FOLDER/turns.json) through the media service's Deepgram client,
against the emulator (or real Deepgram with DEEPGRAM_API_KEY), and scores each turn-taking policy.`);
  process.exit(0);
}

/** Line silence after each turn: longer than the longest window (adaptive 1600 ms) plus UtteranceEnd and latency. */
const TAIL_MS = 3500;
const FRAME = 160;

function fail(msg: string): never {
  console.error(msg);
  process.exit(2);
}

const policies = (values.policy ?? [...POLICIES]) as EndpointingProfileName[];
for (const p of policies) if (!POLICIES.includes(p)) fail(`--policy must be one of ${POLICIES.join(', ')} (got ${p})`);
const cadences = (values.cadence ?? ['0.25', '1']).map(Number);
if (cadences.some((c) => !(c > 0 && c <= 5))) fail('--cadence takes seconds between interim results, e.g. --cadence 0.25 --cadence 1');
const models = values.stt ?? ['nova-3', 'flux-general-en'];
for (const m of models) if (m !== 'nova-3' && !m.startsWith('flux')) fail(`--stt must be nova-3 or a flux model (got ${m})`);
const concurrency = Math.max(1, Number(values.concurrency) || 8);
const log = pino({ level: 'silent' });

/** The recogniser settings a policy opens Deepgram with: exactly what call.ts's sttOf sends for a speculating agent. */
function sttKey(model: string, policy: EndpointingProfileName): string {
  const ep = ENDPOINTING_PROFILES[policy];
  return model.startsWith('flux') ? `${model}:${ep.eotThreshold}:${ep.eagerEotThreshold}` : `${model}:${ep.eagerEndpointingMs}:${ep.utteranceEndMs}`;
}

function sttFor(model: string, policy: EndpointingProfileName, url: string | undefined, apiKey: string): DeepgramStt {
  const ep = ENDPOINTING_PROFILES[policy];
  return createDeepgramStt({
    apiKey,
    url,
    model,
    profile: { endpointingMs: ep.eagerEndpointingMs, utteranceEndMs: ep.utteranceEndMs },
    flux: { eotThreshold: ep.eotThreshold, eagerEotThreshold: ep.eagerEotThreshold },
    log,
  });
}

/** The turn's audio and then TAIL_MS of silence as 20 ms frames, paced against the wall clock like a live call. */
async function* paced(audio: Uint8Array, start: number): AsyncIterable<Mulaw> {
  const all = new Uint8Array(audio.length + TAIL_MS * 8).fill(0xff);
  all.set(audio);
  for (let i = 0, k = 0; i < all.length; i += FRAME, k++) {
    const due = start + k * 20;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    yield all.subarray(i, i + FRAME);
  }
}

/** Streams one turn through one recogniser and records each event with its arrival time (ms since the first byte). */
async function record(turn: LoadedTurn, stt: DeepgramStt): Promise<Recorded[]> {
  const conn = await stt.connect();
  const controller = new AbortController();
  const start = performance.now();
  const events: Recorded[] = [];
  for await (const ev of conn.transcribe(paced(turn.audioBytes, start), controller.signal)) {
    events.push({ at: Math.round(performance.now() - start), ev });
  }
  return events;
}

interface Run {
  stt: string;
  cadence: string;
  emulated: boolean;
}

/** Records every turn through every distinct recogniser setting the policies need; keyed by run and setting. */
async function recordAll(turns: LoadedTurn[], real: boolean): Promise<Map<string, Recorded[][]>> {
  const out = new Map<string, Recorded[][]>();
  const runs: (Run & { model: string; cadenceSec?: number })[] = real
    ? models.map((m) => ({ model: m, stt: m, cadence: 'real', emulated: false }))
    : models.flatMap((m) =>
        m.startsWith('flux')
          ? [{ model: m, stt: m, cadence: '0.25 (Update)', emulated: true }]
          : cadences.map((c) => ({ model: m, stt: m, cadence: `${c}`, cadenceSec: c, emulated: true })),
      );
  for (const run of runs) {
    const keys = [...new Set(policies.map((p) => sttKey(run.model, p)))];
    for (const key of keys) out.set(`${run.stt}|${run.cadence}|${key}`, new Array(turns.length));
    for (let i = 0; i < turns.length; i += concurrency) {
      await Promise.all(turns.slice(i, i + concurrency).map(async (turn, j) => {
        const emu = real ? undefined : await startDeepgramEmulator({ script: turn.lines, knobs: run.cadenceSec ? { interimEverySec: run.cadenceSec } : {} });
        try {
          await Promise.all(keys.map(async (key) => {
            const policy = policies.find((p) => sttKey(run.model, p) === key)!;
            const stt = sttFor(run.model, policy, emu ? `ws://127.0.0.1:${emu.port}` : undefined, emu ? 'local-eval-key' : process.env.DEEPGRAM_API_KEY!);
            out.get(`${run.stt}|${run.cadence}|${key}`)![i + j] = await record(turn, stt);
          }));
        } finally {
          await emu?.close();
        }
      }));
    }
  }
  return out;
}

type Line = Run & { policy: EndpointingProfileName } & PolicyScore;

function scoreAll(turns: LoadedTurn[], recorded: Map<string, Recorded[][]>, emulated: boolean): Line[] {
  const lines: Line[] = [];
  for (const [runKey, perTurn] of recorded) {
    const [stt, cadence, ...rest] = runKey.split('|');
    const key = rest.join('|');
    for (const policy of policies.filter((p) => sttKey(stt!, p) === key)) {
      const outcomes = turns.map((t, i) => replayTurn(t, perTurn[i] ?? [], policy, t.audioBytes.length / 8 + TAIL_MS));
      lines.push({ stt: stt!, cadence: cadence!, emulated, policy, ...score(outcomes) });
    }
  }
  return lines;
}

const fmt = (v: number | undefined, unit = '') => (v === undefined ? '-' : `${v}${unit}`);
const pctOf = (r: number) => `${Math.round(r * 1000) / 10}%`;

function print(lines: Line[], turns: LoadedTurn[]): void {
  const counts = turns.reduce<Record<string, number>>((m, t) => ((m[t.category] = (m[t.category] ?? 0) + 1), m), {});
  console.log(`turn corpus: ${turns.length} turns (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  console.log('delay = first user-finished after the labelled end (the detector\'s decision; LLM/TTS come on top)');
  const head = ['policy', 'stt', 'cadence s', 'emulated', 'p50 ms', 'p95 ms', 'cut-in', 'false barge-in', 'lost to bc', 'bc/noise pause p50', 'clear p50', 'spec/turn', 'wasted tok/turn'];
  const rows = lines.map((l) => [
    l.policy, l.stt, l.cadence, l.emulated ? 'emulated' : 'real', fmt(l.delayP50Ms), fmt(l.delayP95Ms), pctOf(l.cutInRate), pctOf(l.falseBargeInRate),
    `${l.lostToBackchannel}`, fmt(l.falsePauseP50Ms, ' ms'), fmt(l.interruptClearP50Ms, ' ms'), `${l.speculationsPerTurn}`, `${l.wastedTokensPerTurn}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const row = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log([row(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(row)].join('\n'));
  for (const l of lines) {
    const notes = [
      l.cutIns.length ? `cut in: ${l.cutIns.join(', ')}` : '',
      l.missed.length ? `never ended: ${l.missed.join(', ')}` : '',
      l.interruptsMissed.length ? `interrupts missed: ${l.interruptsMissed.join(', ')}` : '',
      l.noiseReplies.length ? `replied to noise: ${l.noiseReplies.join(', ')}` : '',
    ].filter(Boolean);
    if (notes.length) console.log(`${l.policy} ${l.stt} ${l.cadence}: ${notes.join('; ')}`);
  }
}

async function main(): Promise<void> {
  const turns = loadCorpus(values.dir ?? CORPUS_DIR);
  const lines = scoreAll(turns, await recordAll(turns, false), true);
  if (process.env.DEEPGRAM_API_KEY) lines.push(...scoreAll(turns, await recordAll(turns, true), false));
  if (values.json) console.log(JSON.stringify({ turns: turns.length, lines }, null, 2));
  else print(lines, turns);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
