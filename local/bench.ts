// `npm run bench -- --calls N [--agent NAME] [--network pstn|zero] [--warmup] [--json] [--url https://…/twiml]`: N concurrent simulated calls, latency percentiles, CPU and memory per call.
import './node-support';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { envSchema } from '../fargate/src/config';
import { routeTurn } from '../fargate/src/observability/router';
import { ENDPOINTING_PROFILES } from '../fargate/src/turn-detector';
import { novaSpeculates, type AgentProfile } from '../fargate/src/agents';
import { LOCAL_NUMBERS, localAgents, localNumberOf } from './agents';
import { placeCall, type CallReport } from './caller/caller';
import { networkFor } from './caller/network';
import { groqTokensPerSecond } from './emulators/llm';
import { loadScenario, type Scenario } from './scenarios/scenario';
import { SEED_BUDGET, startLocalStack, type LocalStack } from './stack';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '1' },
    /** Agent profile answering the calls (a booking variant: the bench speaks the booking script). */
    agent: { type: 'string', default: 'booking' },
    json: { type: 'boolean', default: false },
    url: { type: 'string' },
    /** Spread of the call starts, ms (Twilio does not connect every call in the same instant). */
    stagger: { type: 'string' },
    /** The caller's phone network: `pstn` (PSTN_NETWORK, 150 ms ± 20 ms one way) or `zero`. */
    network: { type: 'string', default: 'pstn' },
    /**
     * Places one unmeasured wave of the same N calls first, so the figures are a warm task's: a fresh process spends
     * its first minute JIT-compiling (V8's optimizing compiler was ~10% of the CPU of a cold 50-call run, `perf`).
     * The warm-up wave's own CPU is still reported, as `coldCpuMsPerCallSecond`.
     */
    warmup: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run bench -- --calls N [--agent booking|booking-plain|booking-flux|booking-adaptive|…] [--network pstn|zero] [--stagger MS] [--warmup] [--json] [--url https://…/twiml]');
  process.exit(0);
}

const NETWORK = networkFor(values.network!);
/** The `--agent` profile and the number that reaches it (the caller dials it like a real one); exits on a bad name. */
function benchAgent(name: string): { agent: AgentProfile; to: string } {
  const to = localNumberOf(name);
  if (to && name.startsWith('booking')) return { agent: localAgents().resolve(name), to };
  const names = Object.values(LOCAL_NUMBERS).filter((n) => n.startsWith('booking'));
  console.error(`--agent must be a booking profile with a phone number: ${names.join(', ')}`);
  process.exit(2);
}
const { agent: AGENT, to: TO } = benchAgent(values.agent!);
/** The bench agent ends turns after this much silence: the endpointing window. */
const ENDPOINTING_MS = ENDPOINTING_PROFILES[AGENT.endpointing].endpointingMs;
/** Nova speculation: Deepgram's (and the emulator's, which honours any window) early endpoint. */
const SPECULATES = novaSpeculates(AGENT);
const EAGER_MS = ENDPOINTING_PROFILES[AGENT.endpointing].eagerEndpointingMs;

/**
 * The plain turn (booking-2) answers right after check_availability's result, so the service's router sends it to the
 * large tier as a tool follow-up (router.ts `routeTurn`), with the service's default models.
 */
const PLAIN_TURN_MODEL = routeTurn({
  messages: [], toolsOffered: AGENT.tools.length, lastTurnUsedTools: true, contextTokens: 0, overBudget: false,
  config: { models: { small: envSchema.shape.LLM_MODEL_SMALL.parse(undefined), large: envSchema.shape.LLM_MODEL_LARGE.parse(undefined) }, profileTier: AGENT.llm },
}).model;
/**
 * Emulated delays of the seed budget (SEED_BUDGET), subtracted to get the pipeline's own overhead. The LLM's first
 * spoken token comes after its first token and the reasoning before the answer: the LLM emulator's default 150
 * reasoning tokens at the plain turn's model's speed (gpt-oss-120b: 500 tokens/s).
 */
const EMULATED = { sttFinalMs: 200, llmTtftMs: 150, llmReasoningMs: (150 * 1000) / groqTokensPerSecond(PLAIN_TURN_MODEL), ttsFirstByteMs: 150 };

/** Two caller turns of the booking call: one with a tool call (availability), one plain answer. */
function benchScenario(): Scenario {
  const booking = loadScenario('booking');
  return {
    ...booking,
    name: 'bench',
    agent: AGENT.name,
    to: TO,
    steps: [{ waitForAgent: true }, booking.steps[1]!, { waitForAgent: true }, booking.steps[3]!, { waitForAgent: true }, { hangup: true }],
  };
}

function pct(values: number[], p: number): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

function stats(values: number[]): { n: number; p50?: number; p95?: number; p99?: number } {
  const r = (v: number | undefined) => (v === undefined ? undefined : Math.round(v * 10) / 10);
  return { n: values.length, p50: r(pct(values, 50)), p95: r(pct(values, 95)), p99: r(pct(values, 99)) };
}

/** CPU seconds (user + system) of a process, from /proc (Linux): the media-service child is measured alone. */
function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** CPU milliseconds per second of call, to one decimal. */
function cpuMsPerCallSecond(cpuSeconds: number, callSeconds: number): number {
  return Math.round((cpuSeconds * 1000 * 10) / Math.max(1, callSeconds)) / 10;
}

/**
 * The Node.js that runs the media service here (stack.ts: MEDIA_NODE, else this process's) and the major version the
 * image runs (fargate/Dockerfile's `FROM node:N`): V8 versions differ in CPU, so a figure says which one it is.
 */
function mediaRuntime(): { node: string; imageNodeMajor?: number } {
  const node = execFileSync(process.env.MEDIA_NODE || process.execPath, ['--version'], { encoding: 'utf8' }).trim();
  const from = /^FROM node:(\d+)/m.exec(readFileSync(new URL('../fargate/Dockerfile', import.meta.url), 'utf8'));
  return { node, ...(from ? { imageNodeMajor: Number(from[1]) } : {}) };
}

function procPeakRssMb(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

interface PipelineTurn {
  voiceToVoiceMs?: number;
  sttFinalDelayMs?: number;
  llmTimeToFirstTokenMs?: number;
  ttsTimeToFirstByteMs?: number;
  tools?: { name: string; ms: number; ok: boolean }[];
  speculative?: boolean;
}

async function main(): Promise<void> {
  const n = Math.max(1, Number(values.calls));
  const scenario = benchScenario();
  const pipeline: PipelineTurn[] = [];
  let stack: LocalStack | undefined;
  let twimlUrl = values.url;
  let authToken = process.env.TWILIO_AUTH_TOKEN;
  if (!twimlUrl) {
    // The media service runs as its own process so its CPU and memory are measured without the callers and emulators.
    stack = await startLocalStack({
      scenario,
      knobs: SEED_BUDGET,
      media: 'child',
      logLevel: 'info',
      env: { WARM_POOL_SIZE: String(Math.min(8, n)) },
      onChildLog: (line) => {
        if (!line.includes('"turn latency"')) return;
        try {
          pipeline.push(JSON.parse(line) as PipelineTurn);
        } catch {
          // not JSON: ignore
        }
      },
    });
    twimlUrl = stack.twimlUrl;
    authToken = stack.twilio.authToken;
  }
  const pid = stack?.child?.pid;
  const stagger = Number(values.stagger ?? Math.min(10_000, n * 50));
  /** N staggered calls at once, from callers `first`… (new callers: no memory of an earlier wave); each call's report or error. */
  const wave = (first: number): Promise<(CallReport | Error)[]> =>
    Promise.all(
      Array.from({ length: n }, async (_, i) => {
        await new Promise((r) => setTimeout(r, (i * stagger) / n));
        try {
          return await placeCall({
            scenario: { ...scenario, from: `+1555880${String(1000 + ((first + i) % 9000)).slice(-4)}` },
            twimlUrl: twimlUrl!,
            authToken,
            network: NETWORK,
            ...(stack ? { accountSid: stack.twilio.accountSid, events: stack.emulators.twilio.events } : {}),
          });
        } catch (err) {
          return err as Error;
        }
      }),
    );
  let coldCpuMsPerCallSecond: number | undefined;
  if (values.warmup) {
    const c0 = pid ? procCpuSeconds(pid) : undefined;
    const warm = await wave(n);
    await new Promise((r) => setTimeout(r, 1500)); // its last turn lines and writes
    const c1 = pid ? procCpuSeconds(pid) : undefined;
    const s = warm.reduce((sum, r) => sum + (r instanceof Error ? 0 : r.durationMs / 1000), 0);
    if (c0 !== undefined && c1 !== undefined) coldCpuMsPerCallSecond = cpuMsPerCallSecond(c1 - c0, s);
    pipeline.length = 0;
  }
  const cpu0 = pid ? procCpuSeconds(pid) : undefined;
  // The callers and emulators share this process: when its event loop lags, the figures measure the harness, not the service.
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const t0 = Date.now();
  const reports = await wave(0);
  const wallS = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1500)); // last turn lines
  const cpu1 = pid ? procCpuSeconds(pid) : undefined;
  const peakMb = pid ? procPeakRssMb(pid) : undefined;
  await stack?.close();

  const ok = reports.filter((r): r is CallReport => !(r instanceof Error));
  const callSeconds = ok.reduce((s, r) => s + r.durationMs / 1000, 0);
  const turns = ok.flatMap((r) => r.turns.filter((t) => t.kind === 'say'));
  const v2v = turns.map((t) => t.voiceToVoiceMs).filter((v): v is number => v !== undefined);
  // Plain (no tool) turns: v2v − endpointing window − emulated STT final, LLM first token and TTS first byte.
  // Speculating, the reply starts at the early endpoint and plays once the full window is confirmed, whichever is later.
  const plain = turns.filter((t) => t.say === 'booking-2').map((t) => t.voiceToVoiceMs).filter((v): v is number => v !== undefined);
  const llm = EMULATED.llmTtftMs + EMULATED.llmReasoningMs;
  const sequential = ENDPOINTING_MS + EMULATED.sttFinalMs + llm + EMULATED.ttsFirstByteMs;
  const wire = 2 * NETWORK.oneWayMs;
  const floor = wire + (SPECULATES ? Math.max(ENDPOINTING_MS + EMULATED.sttFinalMs, EAGER_MS + EMULATED.sttFinalMs + llm + EMULATED.ttsFirstByteMs) : sequential);
  const result = {
    agent: AGENT.name,
    speculates: SPECULATES,
    network: NETWORK,
    calls: n,
    completed: ok.filter((r) => r.ok).length,
    failed: reports.length - ok.filter((r) => r.ok).length,
    wallSeconds: Math.round(wallS * 10) / 10,
    callerVoiceToVoiceMs: stats(v2v),
    pipelineOverheadMs: { ...stats(plain.map((v) => v - floor)), floorMs: floor, subtracted: { networkMs: wire, endpointingMs: ENDPOINTING_MS, ...(SPECULATES ? { eagerEndpointingMs: EAGER_MS } : {}), ...EMULATED } },
    /**
     * The media service's own share, from its per-turn measures on plain turns: VoiceToVoice − SttFinalDelay − LLM
     * time to first token − TTS time to first byte (what is left: clause cutting, loop, transport). Provider slowness
     * (including emulators slowed by a busy host) is excluded. Speculative turns are left out: their STT-final delay
     * is the confirmation, which overlaps the LLM and TTS.
     */
    mediaServiceOwnMs: stats(
      pipeline
        .filter((p) => !p.speculative && !p.tools?.length && p.voiceToVoiceMs !== undefined && p.sttFinalDelayMs !== undefined && p.llmTimeToFirstTokenMs !== undefined && p.ttsTimeToFirstByteMs !== undefined)
        .map((p) => p.voiceToVoiceMs! - p.sttFinalDelayMs! - p.llmTimeToFirstTokenMs! - p.ttsTimeToFirstByteMs!),
    ),
    pipeline: {
      voiceToVoiceMs: stats(pipeline.map((p) => p.voiceToVoiceMs).filter((v): v is number => v !== undefined)),
      sttFinalDelayMs: stats(pipeline.map((p) => p.sttFinalDelayMs).filter((v): v is number => v !== undefined)),
      llmTimeToFirstTokenMs: stats(pipeline.map((p) => p.llmTimeToFirstTokenMs).filter((v): v is number => v !== undefined)),
      ttsTimeToFirstByteMs: stats(pipeline.map((p) => p.ttsTimeToFirstByteMs).filter((v): v is number => v !== undefined)),
      toolLatencyMs: stats(pipeline.flatMap((p) => (p.tools ?? []).map((t) => t.ms))),
    },
    mediaService:
      cpu0 !== undefined && cpu1 !== undefined
        ? {
            cpuMsPerCallSecond: cpuMsPerCallSecond(cpu1 - cpu0, callSeconds),
            cpuSeconds: Math.round((cpu1 - cpu0) * 100) / 100,
            callSeconds: Math.round(callSeconds),
            peakRssMb: peakMb,
            ...mediaRuntime(),
            ...(coldCpuMsPerCallSecond !== undefined ? { coldCpuMsPerCallSecond } : {}),
          }
        : undefined,
    /** Event-loop delay of the harness (callers + emulators), ms: above ~20 ms at p99 the harness is the bottleneck. */
    harnessLagMs: { p50: Math.round(lag.percentile(50) / 1e5) / 10, p99: Math.round(lag.percentile(99) / 1e5) / 10, max: Math.round(lag.max / 1e5) / 10 },
    errors: reports.filter((r): r is Error => r instanceof Error).map((e) => e.message).slice(0, 5),
  };
  lag.disable();
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const row = (name: string, s: { n: number; p50?: number; p95?: number; p99?: number }) =>
    `${name.padEnd(34)} n=${String(s.n).padEnd(5)} p50 ${String(s.p50 ?? '-').padStart(7)}  p95 ${String(s.p95 ?? '-').padStart(7)}  p99 ${String(s.p99 ?? '-').padStart(7)}`;
  console.log(`bench: ${n} calls to ${AGENT.name}${SPECULATES ? ' (Nova speculation)' : ''}, caller network ${NETWORK.oneWayMs} ± ${NETWORK.jitterMs} ms one way (${result.completed} completed, ${result.failed} failed) in ${result.wallSeconds} s`);
  console.log(row('voice-to-voice (caller) ms', result.callerVoiceToVoiceMs));
  console.log(row('pipeline overhead ms', result.pipelineOverheadMs));
  console.log(
    SPECULATES
      ? `  (plain turns: v2v − ${wire} network − max(${ENDPOINTING_MS} endpointing + ${EMULATED.sttFinalMs} STT final, ${EAGER_MS} early endpoint + ${EMULATED.sttFinalMs} STT final + ${llm} LLM first spoken token + ${EMULATED.ttsFirstByteMs} TTS TTFB) = v2v − ${floor})`
      : `  (plain turns: v2v − ${wire} network − ${ENDPOINTING_MS} endpointing − ${EMULATED.sttFinalMs} STT final − ${llm} LLM first spoken token (${EMULATED.llmTtftMs} TTFT + ${EMULATED.llmReasoningMs} reasoning) − ${EMULATED.ttsFirstByteMs} TTS TTFB = v2v − ${floor})`,
  );
  console.log(row('media service own share ms', result.mediaServiceOwnMs));
  console.log('  (plain non-speculative turns, pipeline clock: VoiceToVoice − SttFinalDelay − LlmTimeToFirstToken − TtsTimeToFirstByte)');
  console.log(row('VoiceToVoice (pipeline) ms', result.pipeline.voiceToVoiceMs));
  console.log(row('SttFinalDelay ms', result.pipeline.sttFinalDelayMs));
  console.log(row('LlmTimeToFirstToken ms', result.pipeline.llmTimeToFirstTokenMs));
  console.log(row('TtsTimeToFirstByte ms', result.pipeline.ttsTimeToFirstByteMs));
  console.log(row('ToolRoundTrip ms', result.pipeline.toolLatencyMs));
  if (result.mediaService) {
    const m = result.mediaService;
    const warm = m.coldCpuMsPerCallSecond !== undefined ? ` after a warm-up wave (${m.coldCpuMsPerCallSecond} in the warm-up wave, on a fresh process)` : ' on a fresh process (--warmup measures a warm one)';
    console.log(`media service: ${m.cpuMsPerCallSecond} CPU ms per call-second${warm} (${m.cpuSeconds} s CPU over ${m.callSeconds} call-s), peak RSS ${m.peakRssMb} MB`);
    const major = Number(/^v(\d+)/.exec(m.node)?.[1]);
    const image = m.imageNodeMajor !== undefined && major !== m.imageNodeMajor ? `; the image runs Node ${m.imageNodeMajor} (MEDIA_NODE=path/to/node measures under it)` : '';
    console.log(`  (the built bundle under Node ${m.node}${image})`);
  }
  const h = result.harnessLagMs;
  console.log(`harness event-loop lag ms: p50 ${h.p50}  p99 ${h.p99}  max ${h.max}${h.p99 > 20 ? '  — the harness is the bottleneck: read the latency figures as upper bounds' : ''}`);
  if (result.errors.length) console.log(`errors: ${result.errors.join('; ')}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
