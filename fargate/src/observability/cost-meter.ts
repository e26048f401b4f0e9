// The per-call cost meter: prices (PRICES_JSON → PriceTable) × measured usage → a running and a final USD breakdown; pure.
import { z } from 'zod';
import { DEFAULT_PRICES, type PriceTable } from '../../../lib/config';
import type { ReplyUsage } from './observer';

export { DEFAULT_PRICES, type PriceTable };

const nonNeg = z.number().finite().nonnegative();
const priceSchema = z.object({
  pricesAsOf: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'pricesAsOf must be yyyy-mm-dd'),
  twilio: z.object({ inboundPerMin: nonNeg, mediaStreamsPerMin: nonNeg }),
  deepgram: z.object({ nova3PerMin: nonNeg, fluxPerMin: nonNeg }),
  llm: z.record(z.string().min(1), z.object({ inputPerMTok: nonNeg, outputPerMTok: nonNeg })),
  elevenlabs: z.object({ per1kChars: nonNeg }),
  fargate: z.object({ vcpuHour: nonNeg, gbHour: nonNeg }),
  lambda: z.object({ perRequest: nonNeg, perGbSecond: nonNeg }),
});

/** Thrown at boot when PRICES_JSON is not a valid {@link PriceTable}; names each bad field, never echoes the JSON. */
export class PriceTableError extends Error {}

/**
 * The stage's price table: PRICES_JSON (set by the CDK stack from `StageConfig.prices`) or, when absent,
 * {@link DEFAULT_PRICES} (numbers.md §2.1, dated `pricesAsOf`). Call once at boot so a bad table stops the task.
 */
export function loadPriceTable(json: string | undefined): PriceTable {
  if (json === undefined || json.trim() === '') return DEFAULT_PRICES;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new PriceTableError('PRICES_JSON is not valid JSON');
  }
  const parsed = priceSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PriceTableError(`PRICES_JSON is not a price table:\n  ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  ')}`);
  }
  return parsed.data;
}

/** Fargate task size and load, for the per-call compute share. */
export interface TaskShare {
  /** vCPUs of the task (1024 CPU units = 1). @default 1 (every stage in lib/config.ts) */
  vcpu: number;
  /** Task memory in GB. @default 2 */
  memoryGb: number;
  /** Calls a task carries (MAX_CALLS): the task's cost is split over this many concurrent calls. @default 50 */
  callsPerTask: number;
}

/** Tool Lambda size, for the GB-second estimate of each invocation. */
export interface ToolSizing {
  /** Memory of each tool function in GB (lib/constructs/tools-api.ts: 1024 MB). @default 1 */
  memoryGb: number;
}

/** Everything a call consumed that costs money. */
export interface CallUsage {
  /** Wall time from stream start to end (or to now, for the running meter), ms. */
  durationMs: number;
  /** Seconds of caller audio streamed to Deepgram. */
  sttSeconds: number;
  stt: 'nova' | 'flux';
  /** Tokens per model id (as the provider reported it). */
  llm: Record<string, { inputTokens: number; outputTokens: number }>;
  /** LLM tokens of replies dropped unheard (speculation cancelled or superseded): billed, but bought nothing. */
  wastedLlm: Record<string, { inputTokens: number; outputTokens: number }>;
  ttsChars: number;
  /** Tool Lambda invocations and the measured round-trip ms of each (an upper bound of the billed duration). */
  tools: { count: number; totalMs: number };
}

/** One call's cost in USD, by component (the CostPerCall breakdown, stored on the call record). */
export interface CostBreakdown {
  /** Twilio inbound voice + Media Streams, both per started minute. */
  telephony: number;
  stt: number;
  llm: number;
  tts: number;
  /** The call's share of its Fargate task. */
  compute: number;
  /** Lambda requests + GB-seconds of the tool invocations. */
  tools: number;
  total: number;
  /** Part of `llm` spent on replies the caller never heard. */
  llmWasted: number;
  /** Whole minutes Twilio bills (voice and Media Streams alike). */
  billedMinutes: number;
  /** Models without a price in the table (their tokens are counted at $0: add them to the stage's prices). */
  unpricedModels: string[];
  /** Date of the price table used. */
  pricesAsOf: string;
}

/** Twilio bills every call, Media Streams included, in whole minutes rounded up (support article 223132307). */
export function billedMinutes(durationMs: number): number {
  return Math.max(0, Math.ceil(durationMs / 60_000));
}

const DEFAULT_TASK: TaskShare = { vcpu: 1, memoryGb: 2, callsPerTask: 50 };
const DEFAULT_TOOLS: ToolSizing = { memoryGb: 1 };

function tokensCost(tokens: CallUsage['llm'], prices: PriceTable, unpriced: Set<string>): number {
  let usd = 0;
  for (const [model, t] of Object.entries(tokens)) {
    const p = prices.llm[model];
    if (!p) {
      if (t.inputTokens || t.outputTokens) unpriced.add(model);
      continue;
    }
    usd += (t.inputTokens * p.inputPerMTok + t.outputTokens * p.outputPerMTok) / 1e6;
  }
  return usd;
}

/** The cost of `usage` at `prices` (pure). */
export function costOf(usage: CallUsage, prices: PriceTable, opts: { task?: Partial<TaskShare>; tools?: Partial<ToolSizing> } = {}): CostBreakdown {
  const task = { ...DEFAULT_TASK, ...opts.task };
  const toolSize = { ...DEFAULT_TOOLS, ...opts.tools };
  const minutes = billedMinutes(usage.durationMs);
  const telephony = minutes * (prices.twilio.inboundPerMin + prices.twilio.mediaStreamsPerMin);
  // Deepgram streaming is billed per second of audio.
  const sttPerMin = usage.stt === 'flux' ? prices.deepgram.fluxPerMin : prices.deepgram.nova3PerMin;
  const stt = (Math.ceil(Math.max(0, usage.sttSeconds)) * sttPerMin) / 60;
  const unpriced = new Set<string>();
  const llm = tokensCost(usage.llm, prices, unpriced);
  const llmWasted = tokensCost(usage.wastedLlm, prices, unpriced);
  const tts = (usage.ttsChars * prices.elevenlabs.per1kChars) / 1000;
  const hours = Math.max(0, usage.durationMs) / 3_600_000;
  const compute = (hours * (task.vcpu * prices.fargate.vcpuHour + task.memoryGb * prices.fargate.gbHour)) / Math.max(1, task.callsPerTask);
  // Lambda bills per request plus GB-seconds at 1 ms granularity; the media service's round trip bounds the duration.
  const tools = usage.tools.count * prices.lambda.perRequest + (Math.ceil(usage.tools.totalMs) / 1000) * toolSize.memoryGb * prices.lambda.perGbSecond;
  return {
    telephony, stt, llm, tts, compute, tools,
    total: telephony + stt + llm + tts + compute + tools,
    llmWasted, billedMinutes: minutes, unpricedModels: [...unpriced].sort(), pricesAsOf: prices.pricesAsOf,
  };
}

/** Options of {@link CostMeter}. */
export interface CostMeterOptions {
  prices: PriceTable;
  /** Epoch ms the stream started. */
  startedAt: number;
  /** Deepgram model family of the call's agent profile. */
  stt: 'nova' | 'flux';
  task?: Partial<TaskShare>;
  tools?: Partial<ToolSizing>;
}

/**
 * A call's running meter. The pipeline feeds it each reply's usage and each tool call as they happen; `running(now)`
 * prices what is committed so far (the current Twilio minute is already billed; audio streams continuously, so STT
 * seconds ≈ elapsed time), which is what the budget guardrail compares with COST_CAP_USD; `final()` prices the
 * measured totals at hang-up.
 */
export class CostMeter {
  private readonly llm: CallUsage['llm'] = {};
  private readonly wasted: CallUsage['wastedLlm'] = {};
  private ttsChars = 0;
  private readonly tools = { count: 0, totalMs: 0 };

  constructor(private readonly opts: CostMeterOptions) {}

  /** One reply's LLM tokens and TTS characters (wasted replies are billed too, and also counted as waste). */
  addReply(u: ReplyUsage): void {
    const add = (into: CallUsage['llm']) => {
      const t = (into[u.model] ??= { inputTokens: 0, outputTokens: 0 });
      t.inputTokens += Math.max(0, u.inputTokens);
      t.outputTokens += Math.max(0, u.outputTokens);
    };
    add(this.llm);
    if (u.wasted) add(this.wasted);
    this.ttsChars += Math.max(0, u.ttsChars);
  }

  /** Usage an earlier stream of the same call already ran up (migration, <Pay>): billed once, on the final record. */
  carry(u: Pick<CallUsage, 'llm' | 'wastedLlm' | 'ttsChars' | 'tools'>): void {
    const add = (into: CallUsage['llm'], from: CallUsage['llm'] | undefined) => {
      for (const [model, t] of Object.entries(from ?? {})) {
        const to = (into[model] ??= { inputTokens: 0, outputTokens: 0 });
        to.inputTokens += Math.max(0, t.inputTokens || 0);
        to.outputTokens += Math.max(0, t.outputTokens || 0);
      }
    };
    add(this.llm, u.llm);
    add(this.wasted, u.wastedLlm);
    this.ttsChars += Math.max(0, u.ttsChars || 0);
    this.tools.count += Math.max(0, u.tools?.count || 0);
    this.tools.totalMs += Math.max(0, u.tools?.totalMs || 0);
  }

  /** One tool Lambda invocation and its measured round trip. */
  addTool(ms: number): void {
    this.tools.count++;
    this.tools.totalMs += Number.isFinite(ms) ? Math.max(0, ms) : 0;
  }

  /** The usage so far, as of `at` (epoch ms) with `sttSeconds` of audio (default: the elapsed time). */
  usage(at: number, sttSeconds?: number): CallUsage {
    const durationMs = Math.max(0, at - this.opts.startedAt);
    const copy = (r: CallUsage['llm']) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { ...v }]));
    return {
      durationMs, sttSeconds: sttSeconds ?? durationMs / 1000, stt: this.opts.stt,
      llm: copy(this.llm), wastedLlm: copy(this.wasted), ttsChars: this.ttsChars, tools: { ...this.tools },
    };
  }

  /** What the call has cost up to `now`. */
  running(now: number): CostBreakdown {
    return costOf(this.usage(now), this.opts.prices, this.opts);
  }

  /** The call's final cost from its measured end and STT seconds. */
  final(end: { endedAt: number; sttSeconds: number }): CostBreakdown {
    return costOf(this.usage(end.endedAt, end.sttSeconds), this.opts.prices, this.opts);
  }
}
