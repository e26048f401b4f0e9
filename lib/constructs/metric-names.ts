// CloudWatch Metric objects for the stack's own metrics, named only through fargate/src/observability/metric-names.ts.
import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { ALL_METRICS, METRIC_NAMESPACE, type MetricName } from '../../fargate/src/observability/metric-names';

/** Every metric name, as a property (`M.VoiceToVoice`), so a typo is a compile error and no name is retyped. */
export const M = Object.freeze(Object.fromEntries(Object.keys(ALL_METRICS).map((k) => [k, k]))) as { readonly [K in MetricName]: K };

export interface MetricOptions {
  readonly statistic: string;
  readonly period: Duration;
  /** Adds the Tool dimension (tool metrics only). */
  readonly tool?: string;
  readonly label?: string;
}

/** A metric of namespace VoiceAgent with dimension Stage (plus Tool), in the unit the emitters use. */
export function metric(name: MetricName, stage: string, opts: MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName: name,
    dimensionsMap: opts.tool === undefined ? { Stage: stage } : { Stage: stage, Tool: opts.tool },
    statistic: opts.statistic,
    period: opts.period,
    unit: ALL_METRICS[name] as cloudwatch.Unit,
    label: opts.label,
  });
}
