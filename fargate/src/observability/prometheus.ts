// Prometheus view of the same metrics (prom-client): latency/cost histograms, counters, the active-calls gauge, and GET /metrics.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallObserver, CallSummary } from './observer';
import type { CostBreakdown } from './cost-meter';
import { ALL_METRICS, type MetricName } from './metric-names';

/** Voice latency buckets, seconds: 50 ms … 3 s, dense around the 0.5–1.5 s region the goals and alarms live in. */
export const LATENCY_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.2, 1.4, 1.7, 2, 2.5, 3];
/** Cost per call buckets, USD (a 90 s call is ~$0.06–0.11, numbers.md §2.2; the default cap is $0.50). */
export const COST_BUCKETS = [0.01, 0.02, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1];
/** Call length buckets, seconds. */
export const DURATION_BUCKETS = [15, 30, 60, 90, 120, 180, 300, 600, 1200];

const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/**
 * The Prometheus name of a catalog metric (never typed by hand): `voiceagent_` + snake_case + the base unit
 * (Prometheus naming: seconds, not milliseconds; counters end in `_total`; CostPerCall is in USD).
 */
export function promName(name: MetricName): string {
  const unit = ALL_METRICS[name];
  const suffix = name === 'CostPerCall' ? '_usd' : unit === 'Milliseconds' || unit === 'Seconds' ? '_seconds' : name === 'ActiveCalls' ? '' : '_total';
  return `voiceagent_${snake(name)}${suffix}`;
}

function histogram(registry: Registry, name: MetricName, buckets: number[], labelNames: string[] = []): Histogram {
  const n = promName(name);
  return (registry.getSingleMetric(n) as Histogram | undefined) ?? new Histogram({ name: n, help: `${name} in ${n.endsWith('_usd') ? 'USD' : 'seconds'} (CloudWatch: ${ALL_METRICS[name]}; ARCHITECTURE §6)`, buckets, labelNames, registers: [registry] });
}

function counter(registry: Registry, name: MetricName, labelNames: string[] = []): Counter {
  const n = promName(name);
  return (registry.getSingleMetric(n) as Counter | undefined) ?? new Counter({ name: n, help: `${name} (see ARCHITECTURE §6)`, labelNames, registers: [registry] });
}

const TURN_HISTOGRAMS = {
  VoiceToVoice: 'voiceToVoiceMs',
  SttFinalDelay: 'sttFinalDelayMs',
  LlmTimeToFirstToken: 'llmTimeToFirstTokenMs',
  TtsTimeToFirstByte: 'ttsTimeToFirstByteMs',
} as const;

/**
 * A {@link CallObserver} that records into `registry` (the metrics are registered once per registry and shared by
 * every call; Prometheus aggregates, so there is no callSid label). CostPerCall is observed when `cost` is given.
 */
export function createPrometheusObserver(registry: Registry, opts: { cost?: (summary: CallSummary) => CostBreakdown } = {}): CallObserver {
  const turnHist = (Object.keys(TURN_HISTOGRAMS) as (keyof typeof TURN_HISTOGRAMS)[]).map((n) => [histogram(registry, n, LATENCY_BUCKETS), TURN_HISTOGRAMS[n]] as const);
  const interruptions = counter(registry, 'Interruptions');
  const tools = histogram(registry, 'ToolRoundTrip', LATENCY_BUCKETS, ['tool']);
  const duration = histogram(registry, 'CallDuration', DURATION_BUCKETS);
  const cost = histogram(registry, 'CostPerCall', COST_BUCKETS);
  const escalated = counter(registry, 'Escalated');
  const failed = counter(registry, 'CallsFailed');
  return {
    turn(m) {
      if (m.discarded) return;
      for (const [h, field] of turnHist) {
        const v = m[field];
        if (v !== undefined && Number.isFinite(v) && v >= 0) h.observe(v / 1000);
      }
      if (m.interrupted) interruptions.inc();
    },
    toolCall(name, ms) {
      if (Number.isFinite(ms) && ms >= 0) tools.observe({ tool: name }, ms / 1000);
    },
    usage() {},
    end(s) {
      duration.observe(Math.max(0, s.endedAt - s.startedAt) / 1000);
      const c = opts.cost?.(s);
      if (c) cost.observe(c.total);
      if (s.escalated) escalated.inc();
      if (s.failed) failed.inc();
    },
  };
}

/** Service-level Prometheus metrics: ActiveCalls read at scrape time, ProviderErrors by provider, TranscriptWriteErrors. */
export function createPrometheusServiceMetrics(registry: Registry, activeCalls: () => number) {
  const n = promName('ActiveCalls');
  if (!registry.getSingleMetric(n)) {
    new Gauge({
      name: n, help: 'ActiveCalls (calls in progress on this task)', registers: [registry],
      collect() {
        this.set(activeCalls());
      },
    });
  }
  const providerErrors = counter(registry, 'ProviderErrors', ['provider']);
  const providerFailovers = counter(registry, 'ProviderFailover', ['provider', 'seam']);
  const transcriptErrors = counter(registry, 'TranscriptWriteErrors');
  return {
    providerError: (provider: string) => providerErrors.inc({ provider }),
    providerFailover: (provider: string, seam: string) => providerFailovers.inc({ provider, seam }),
    transcriptWriteErrors: (count: number) => transcriptErrors.inc(count),
  };
}

/** `GET /metrics` for the media server (`MediaServerDeps.metrics`). */
export function prometheusEndpoint(registry: Registry): { contentType: string; render(): Promise<string> } {
  return { contentType: registry.contentType, render: () => registry.metrics() };
}

export { Registry };
