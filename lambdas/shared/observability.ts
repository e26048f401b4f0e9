// Powertools logger and the tool metrics (ToolHandlerTime, CacheHit/Miss/Errors; namespace VoiceAgent; dimensions Stage, Tool).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMESPACE, TOOL_METRICS } from '../../fargate/src/observability/metric-names';

/** Cache outcomes counted during one tool call. */
export interface CallMeasures {
  hits: number;
  misses: number;
  errors: number;
}

export function newMeasures(): CallMeasures {
  return { hits: 0, misses: 0, errors: 0 };
}

/** A Powertools JSON logger. Messages never carry phone numbers, arguments or secrets (fields name ids only). */
export function createLogger(serviceName: string, logLevel?: string): Logger {
  return new Logger({ serviceName, logLevel: (logLevel ?? 'INFO').toUpperCase() as 'INFO' });
}

const UNIT = { Milliseconds: MetricUnit.Milliseconds, Count: MetricUnit.Count } as const;

/**
 * Emits one EMF document per tool call. One Powertools instance is shared by concurrent calls; that is safe
 * because dimensions, metrics and the publish happen in one synchronous block (no await in between).
 * Powertools adds a `service` default dimension; it is cleared so dimensions are only Stage and Tool
 * (ARCHITECTURE §6), which keeps the dashboard's metric math simple.
 */
export class ToolMetrics {
  private readonly metrics: Metrics;

  constructor(
    stage: string,
    serviceName: string,
    private readonly enabled = true,
  ) {
    this.metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName });
    this.metrics.clearDefaultDimensions();
    this.metrics.setDefaultDimensions({ Stage: stage });
  }

  /** One call's latency and cache counts, published at once. */
  record(tool: string, latencyMs: number, m: CallMeasures): void {
    if (!this.enabled) return;
    this.metrics.addDimension('Tool', tool);
    this.metrics.addMetric('ToolHandlerTime', UNIT[TOOL_METRICS.ToolHandlerTime], latencyMs);
    this.metrics.addMetric('CacheHit', UNIT[TOOL_METRICS.CacheHit], m.hits);
    this.metrics.addMetric('CacheMiss', UNIT[TOOL_METRICS.CacheMiss], m.misses);
    this.metrics.addMetric('CacheErrors', UNIT[TOOL_METRICS.CacheErrors], m.errors);
    this.metrics.publishStoredMetrics();
  }

  /** A cache error outside any call (a background stale-while-revalidate refresh). */
  cacheError(tool: string): void {
    if (!this.enabled) return;
    this.metrics.addDimension('Tool', tool);
    this.metrics.addMetric('CacheErrors', UNIT[TOOL_METRICS.CacheErrors], 1);
    this.metrics.publishStoredMetrics();
  }
}
