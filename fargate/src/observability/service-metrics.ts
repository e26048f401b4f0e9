// The media task's service-level metrics (EMF, plus Prometheus when given a registry): ActiveCalls, ProviderErrors, ProviderFailover, TranscriptWriteErrors, TranscriptQueueOverflow.
import type { Registry } from 'prom-client';
import { writeEmf, type EmfSink } from './emf';
import { createPrometheusServiceMetrics } from './prometheus';

/** Options of {@link createServiceMetrics}. */
export interface ServiceMetricsOptions {
  stage: string;
  emit: EmfSink;
  /** Also count into this Prometheus registry (GET /metrics). */
  registry?: Registry;
  /** Calls in progress on this task (the media server's `activeCalls()`); settable later with `setActiveCalls`. */
  activeCalls?: () => number;
  /** @default Date.now */
  now?: () => number;
}

export interface ServiceMetrics {
  /** Where ActiveCalls is read from (the server is created after the call runtime in main.ts). */
  setActiveCalls(get: () => number): void;
  /** Writes one ActiveCalls datapoint now. */
  reportActiveCalls(): void;
  /**
   * Reports ActiveCalls once per `intervalMs`, at mid-interval of the wall clock (…:30 for a minute), even at zero:
   * exactly one report per task per minute keeps the three statistics of the 1-minute metric meaningful together —
   * Average = calls per task (autoscaling), Sum = calls on all tasks (dashboard), SampleCount = reporting tasks
   * (the ActiveCallsMissing alarm). A 10 s cadence would make Sum six times the truth. Returns `stop`.
   * @default intervalMs 60000
   */
  startActiveCallsReporter(intervalMs?: number): () => void;
  /** A provider (stt | llm | tts | tools | …) failed a call or a connection. */
  providerError(provider: string): void;
  /** A call moved off `provider` (the one that failed) to the next of its `seam` (stt | llm | tts); alarmed. */
  providerFailover(provider: string, seam: string): void;
  /** Transcript items the writer gave up on (the store's `onTranscriptWriteError` hook). */
  transcriptWriteErrors(count: number): void;
  /** Transcript items the bounded writer queue had to spill or drop (alarmed at ≥ 1 per minute). */
  transcriptQueueOverflow(count: number): void;
}

/** Provider is a dimension: keep its values few and clean (lowercase word, ≤ 32 chars). */
function providerDimension(p: string): string {
  const v = p.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 32).replace(/^-+|-+$/g, '');
  return v || 'unknown';
}

/** Service-level metrics of one media task. */
export function createServiceMetrics(opts: ServiceMetricsOptions): ServiceMetrics {
  const now = opts.now ?? Date.now;
  let activeCalls = opts.activeCalls ?? (() => 0);
  const prom = opts.registry ? createPrometheusServiceMetrics(opts.registry, () => activeCalls()) : undefined;
  const report = () => writeEmf(opts.emit, { stage: opts.stage, metrics: { ActiveCalls: [activeCalls()] }, timestamp: now() });
  return {
    setActiveCalls(get) {
      activeCalls = get;
    },
    reportActiveCalls: report,
    startActiveCallsReporter(intervalMs = 60_000) {
      let interval: NodeJS.Timeout | undefined;
      const t = now();
      const first = Math.floor(t / intervalMs) * intervalMs + intervalMs / 2;
      const timeout = setTimeout(() => {
        report();
        interval = setInterval(report, intervalMs);
        interval.unref();
      }, (first > t ? first : first + intervalMs) - t);
      timeout.unref();
      return () => {
        clearTimeout(timeout);
        if (interval) clearInterval(interval);
      };
    },
    providerError(provider) {
      const p = providerDimension(provider);
      prom?.providerError(p);
      writeEmf(opts.emit, { stage: opts.stage, dimensions: { Provider: p }, metrics: { ProviderErrors: [1] }, timestamp: now() });
    },
    providerFailover(provider, seam) {
      const p = providerDimension(provider);
      const s = providerDimension(seam);
      prom?.providerFailover(p, s);
      writeEmf(opts.emit, { stage: opts.stage, dimensions: { Provider: p, Seam: s }, metrics: { ProviderFailover: [1] }, timestamp: now() });
    },
    transcriptWriteErrors(count) {
      if (!(count > 0)) return;
      prom?.transcriptWriteErrors(count);
      writeEmf(opts.emit, { stage: opts.stage, metrics: { TranscriptWriteErrors: [count] }, timestamp: now() });
    },
    transcriptQueueOverflow(count) {
      if (!(count > 0)) return;
      writeEmf(opts.emit, { stage: opts.stage, metrics: { TranscriptQueueOverflow: [count] }, timestamp: now() });
    },
  };
}
