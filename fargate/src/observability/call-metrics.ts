// One call's CloudWatch metrics (EMF): per-turn latencies and interruptions, tool latency per tool, and the per-call figures with the cost breakdown.
import type { CallObserver, CallSummary, TurnMeasures } from './observer';
import type { CostBreakdown } from './cost-meter';
import { writeEmf, type EmfSink } from './emf';
import type { MetricName } from './metric-names';
import type { TierSplit } from './router';

/** Options of {@link createCallMetrics}. */
export interface CallMetricsOptions {
  stage: string;
  callSid: string;
  agent: string;
  /** Where EMF lines go. @default none: pass {@link stdoutSink} in the media service */
  emit: EmfSink;
  /** The call's final cost, read once at `end` (CostPerCall + breakdown). No CostPerCall when absent. */
  cost?: (summary: CallSummary) => CostBreakdown;
  /** Replies per model tier, read once at `end`. */
  tiers?: () => TierSplit;
  /**
   * Buffered turn values are written at most this long after they were measured (as arrays), so a long call's
   * latencies reach the 5-minute p95 alarm in time; the rest goes out with the per-call document. @default 10000
   */
  flushIntervalMs?: number;
  /** @default Date.now */
  now?: () => number;
}

/** The metrics observer of one call: a {@link CallObserver} plus `flush()` (used at end and by its own timer). */
export interface CallMetrics extends CallObserver {
  flush(): void;
}

const TURN_FIELDS = {
  VoiceToVoice: 'voiceToVoiceMs',
  SttFinalDelay: 'sttFinalDelayMs',
  LlmTimeToFirstToken: 'llmTimeToFirstTokenMs',
  TtsTimeToFirstByte: 'ttsTimeToFirstByteMs',
} as const satisfies Partial<Record<MetricName, keyof TurnMeasures>>;

/**
 * EMF metrics of one call (namespace VoiceAgent, dimension Stage; ToolRoundTrip adds Tool). callSid and agent are
 * properties, never dimensions (a dimension per call would create a metric per call). Per turn: VoiceToVoice,
 * SttFinalDelay, LlmTimeToFirstToken, TtsTimeToFirstByte (when measured) and Interruptions (1 if the reply was cut,
 * else 0); a discarded speculative reply reported no latency (nothing was heard). Per call: CallDuration,
 * CostPerCall (breakdown as the `cost` property), Escalated and CallsFailed (0 or 1, so Average is a rate).
 */
export function createCallMetrics(opts: CallMetricsOptions): CallMetrics {
  const now = opts.now ?? Date.now;
  const flushMs = opts.flushIntervalMs ?? 10_000;
  const base = { callSid: opts.callSid, agent: opts.agent };
  let turnValues: Partial<Record<MetricName, number[]>> = {};
  let turnNos: number[] = [];
  let toolValues = new Map<string, number[]>();
  let timer: NodeJS.Timeout | undefined;
  let ended = false;

  const push = (into: Partial<Record<MetricName, number[]>>, name: MetricName, v: number | undefined) => {
    if (v === undefined || !Number.isFinite(v)) return;
    (into[name] ??= []).push(v);
  };
  const arm = () => {
    if (timer || ended) return;
    timer = setTimeout(() => {
      timer = undefined;
      flush();
    }, flushMs);
    // A pending flush never keeps the process alive; end() writes whatever is left.
    timer.unref();
  };
  const flushTools = (t: number) => {
    for (const [tool, values] of toolValues) {
      writeEmf(opts.emit, { stage: opts.stage, dimensions: { Tool: tool }, metrics: { ToolRoundTrip: values }, properties: base, timestamp: t });
    }
    toolValues = new Map();
  };
  function flush(extra?: { metrics: Partial<Record<MetricName, number[]>>; properties: Record<string, unknown> }): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const t = now();
    flushTools(t);
    const metrics = { ...turnValues, ...extra?.metrics };
    if (Object.keys(metrics).length) {
      writeEmf(opts.emit, { stage: opts.stage, metrics, properties: { ...base, ...(turnNos.length ? { turns: turnNos } : {}), ...extra?.properties }, timestamp: t });
    }
    turnValues = {};
    turnNos = [];
  }

  return {
    turn(m) {
      if (ended || m.discarded) return;
      for (const name of Object.keys(TURN_FIELDS) as (keyof typeof TURN_FIELDS)[]) {
        const v = m[TURN_FIELDS[name]];
        // A negative duration is a clock-mapping artefact (STT word times vs wall time), not a measurement.
        if (v !== undefined && v >= 0) push(turnValues, name, v);
      }
      push(turnValues, 'Interruptions', m.interrupted ? 1 : 0);
      turnNos.push(m.turn);
      arm();
    },
    toolCall(name, ms) {
      if (ended || !Number.isFinite(ms) || ms < 0) return;
      const list = toolValues.get(name) ?? [];
      list.push(ms);
      toolValues.set(name, list);
      arm();
    },
    usage() {
      // Token and character spend reach CloudWatch through CostPerCall (the cost meter owns usage).
    },
    end(s) {
      if (ended) return;
      ended = true;
      flush(perCall(s, opts.cost?.(s), opts.tiers?.()));
    },
    flush: () => flush(),
  };
}

/** The per-call figures of a finished call: CallDuration, Escalated, CallsFailed, CostPerCall (with its breakdown), and the summary as properties. */
function perCall(s: CallSummary, cost: CostBreakdown | undefined, tiers: TierSplit | undefined): { metrics: Partial<Record<MetricName, number[]>>; properties: Record<string, unknown> } {
  const metrics: Partial<Record<MetricName, number[]>> = {
    CallDuration: [Math.max(0, s.endedAt - s.startedAt) / 1000],
    Escalated: [s.escalated ? 1 : 0],
    CallsFailed: [s.failed ? 1 : 0],
  };
  if (cost) metrics.CostPerCall = [cost.total];
  const properties: Record<string, unknown> = {
    replies: s.turns, bargeIns: s.interruptions, escalated: s.escalated, failed: s.failed,
    sttSeconds: s.sttSeconds, greetingMs: s.greetingMs,
  };
  if (cost) properties.cost = cost;
  if (tiers) properties.tiers = tiers;
  return { metrics, properties };
}
