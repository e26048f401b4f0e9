// The media task's observability in one object: per-call instruments (cost meter, router + budget guardrail, EMF, Prometheus, waterfall log) and service metrics.
import { Registry } from 'prom-client';
import type { AgentProfile } from '../agents/types';
import type { Config } from '../config';
import type { CallObserver, CallSummary } from './observer';
import type { ChatMessage } from '../providers/types';
import { createCallMetrics } from './call-metrics';
import { CostMeter, loadPriceTable, type CallUsage, type CostBreakdown, type PriceTable, type TaskShare } from './cost-meter';
import { stdoutSink, type EmfSink } from './emf';
import type { Logger } from './logger';
import { combineObservers, waterfallLogObserver } from './observers';
import { createPrometheusObserver, prometheusEndpoint } from './prometheus';
import { TurnPlanner, type RouterConfig, type TurnPlan } from './router';
import { createServiceMetrics, type ServiceMetrics } from './service-metrics';

/** What the call pipeline uses from observability, per call. */
export interface CallInstruments {
  /** Pass every turn/tool/usage/end event here (it feeds the meter, the planner, EMF, Prometheus and the log). */
  observer: CallObserver;
  /** Before each reply: model tier, and the wrap-up instruction once the call's cost passed COST_CAP_USD. */
  planTurn(input: { messages: ChatMessage[]; toolsOffered: number }): TurnPlan;
  /** The call's cost breakdown at its end (for `CallRecorder.finish({ cost })`); same figures as CostPerCall. */
  cost(end: { endedAt: number; sttSeconds: number }): CostBreakdown;
  /** A provider failed this call (ProviderErrors, dimension Provider). */
  providerError(provider: string): void;
  /** The usage so far, handed to the call's next stream (migration, <Pay>). */
  usage(at: number): CallUsage;
  /** Usage an earlier stream of this call ran up: the final cost covers the whole call. */
  carry(usage: CallUsage): void;
  /** What the call has cost so far, USD (the operations console's running cost). */
  running?(at: number): number;
}

/** Options of {@link createObservability}. */
export interface ObservabilityOptions {
  config: Pick<Config, 'STAGE' | 'PRICES_JSON' | 'COST_CAP_USD' | 'LLM_MODEL_SMALL' | 'LLM_MODEL_LARGE' | 'MAX_CALLS'>;
  /** EMF sink. @default {@link stdoutSink} */
  emit?: EmfSink;
  /** Prometheus registry for GET /metrics. @default a new Registry */
  registry?: Registry;
  /** Router thresholds beyond the two models. */
  router?: Omit<RouterConfig, 'models' | 'profileTier'>;
  /** Fargate task size for the compute share. @default 1 vCPU, 2 GB, MAX_CALLS calls */
  task?: Partial<TaskShare>;
  /** Per-turn waterfall and call-summary log lines. @default off (the pipeline's own log observer may do it) */
  log?: boolean;
  /** @default Date.now */
  now?: () => number;
}

/** Everything main.ts / the local stack wire: per-call instruments, GET /metrics, service metrics. */
export interface Observability {
  prices: PriceTable;
  registry: Registry;
  /** For `MediaServerDeps.metrics`. */
  metrics: { contentType: string; render(): Promise<string> };
  service: ServiceMetrics;
  /** One call's instruments; `log` is the call's child logger. */
  instrumentsFor(call: { start: { callSid: string; startedAt: number }; log: Logger }, profile: Pick<AgentProfile, 'name' | 'stt' | 'llm'>): CallInstruments;
}

/**
 * Builds the task's observability. Reads PRICES_JSON once (a bad table throws {@link PriceTableError} at boot).
 */
export function createObservability(opts: ObservabilityOptions): Observability {
  const { config } = opts;
  const emit = opts.emit ?? stdoutSink;
  const now = opts.now ?? Date.now;
  const prices = loadPriceTable(config.PRICES_JSON);
  const registry = opts.registry ?? new Registry();
  registry.setDefaultLabels({ stage: config.STAGE });
  const service = createServiceMetrics({ stage: config.STAGE, emit, registry, now });
  const task = { callsPerTask: config.MAX_CALLS, ...opts.task };
  return {
    prices,
    registry,
    metrics: prometheusEndpoint(registry),
    service,
    instrumentsFor(call, profile) {
      const meter = new CostMeter({ prices, startedAt: call.start.startedAt, stt: profile.stt.startsWith('flux') ? 'flux' : 'nova', task });
      const planner = new TurnPlanner(meter, {
        capUsd: config.COST_CAP_USD,
        router: { ...opts.router, models: { small: config.LLM_MODEL_SMALL, large: config.LLM_MODEL_LARGE }, profileTier: profile.llm },
        now,
      });
      const cost = (s: CallSummary) => meter.final({ endedAt: s.endedAt, sttSeconds: s.sttSeconds });
      const tiers = () => planner.split();
      // The meter and planner come first so every other observer's `end` sees the complete usage.
      const bookkeeping: CallObserver = {
        turn: (m) => {
          if (!m.discarded) planner.noteTurn(m.tools.length > 0);
        },
        toolCall: (_name, ms) => meter.addTool(ms),
        usage: (u) => meter.addReply(u),
        end: () => {},
      };
      const observer = combineObservers(
        bookkeeping,
        createCallMetrics({ stage: config.STAGE, callSid: call.start.callSid, agent: profile.name, emit, cost, tiers, now }),
        createPrometheusObserver(registry, { cost }),
        opts.log ? waterfallLogObserver(call.log, { cost, tiers }) : undefined,
      );
      return {
        observer,
        planTurn: (input) => planner.plan(input),
        cost: (end) => meter.final(end),
        providerError: (p) => service.providerError(p),
        usage: (at) => meter.usage(at),
        carry: (u) => meter.carry(u),
        running: (at) => meter.running(at).total,
      };
    },
  };
}
