// CloudWatch Embedded Metric Format documents (pure) and the stdout sink the media service writes them to.
//
// Why hand-written EMF and not @aws-lambda-powertools/metrics here (it stays in the Lambdas, lambdas/shared/observability.ts):
// Powertools 2.x writes only through its own private `Console` bound to process.stdout; its `logger` option redirects
// warnings, not metrics, so a per-call injectable sink (tests, `npm start`) would mean overwriting a private field.
// Its only public escape, `serializeMetrics()`, does not help: `addMetric` auto-publishes to that fixed stdout when a
// metric reaches 100 values, so we would re-count values ourselves anyway. And `POWERTOOLS_DEV=true` silently
// disables metrics. Those are fine for a Lambda invocation, awkward for a process that lives for days with
// hundreds of calls. The format itself is small and documented
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
// `_aws.{Timestamp, CloudWatchMetrics[{Namespace, Dimensions, Metrics[{Name, Unit}]}]}`, at most 100 metrics per
// directive and 100 values per metric array. On Fargate the awslogs driver ships stdout lines to CloudWatch Logs,
// which extracts EMF without the optional `x-amzn-logs-format: json/emf` header ("it's not required", same docs).
import { ALL_METRICS, METRIC_NAMESPACE, type MetricName } from './metric-names';

/** Where EMF lines go (one JSON document per call, no trailing newline). */
export type EmfSink = (line: string) => void;

/** The media service's sink: one line on stdout, which the ECS awslogs driver sends to CloudWatch Logs. */
export const stdoutSink: EmfSink = (line) => {
  process.stdout.write(`${line}\n`);
};

/** EMF allows at most 100 values in one metric's array. */
export const MAX_VALUES = 100;

export interface EmfInput {
  /** Stage dimension value. */
  stage: string;
  /** Extra dimensions beyond Stage (Tool or Provider only, ARCHITECTURE §6). */
  dimensions?: Record<string, string>;
  /** Values per metric; names and units come from the catalog only. Empty arrays are left out. */
  metrics: Partial<Record<MetricName, number[]>>;
  /** Non-metric members (callSid, cost breakdown, …): searchable in Logs Insights, never dimensions. */
  properties?: Record<string, unknown>;
  /** Epoch ms. */
  timestamp: number;
}

/**
 * EMF documents for `input`: one directive with dimension set [Stage, ...extra], each metric's values as a
 * scalar (one value) or an array; split into several documents when a metric has more than {@link MAX_VALUES}.
 * Non-finite values are dropped. Returns [] when no metric has a value.
 */
export function emfDocuments(input: EmfInput): Record<string, unknown>[] {
  const extra = input.dimensions ?? {};
  const entries = (Object.entries(input.metrics) as [MetricName, number[] | undefined][])
    .map(([name, values]) => [name, (values ?? []).filter((v) => Number.isFinite(v))] as const)
    .filter(([, values]) => values.length > 0);
  const docs: Record<string, unknown>[] = [];
  for (let offset = 0; entries.some(([, v]) => v.length > offset); offset += MAX_VALUES) {
    const slice = entries.map(([n, v]) => [n, v.slice(offset, offset + MAX_VALUES)] as const).filter(([, v]) => v.length > 0);
    const doc: Record<string, unknown> = {
      _aws: {
        Timestamp: Math.round(input.timestamp),
        CloudWatchMetrics: [
          {
            Namespace: METRIC_NAMESPACE,
            Dimensions: [['Stage', ...Object.keys(extra)]],
            Metrics: slice.map(([name]) => ({ Name: name, Unit: ALL_METRICS[name] })),
          },
        ],
      },
      // Properties first: a property can never shadow a dimension or a metric value.
      ...input.properties,
      Stage: input.stage,
      ...extra,
    };
    for (const [name, v] of slice) doc[name] = v.length === 1 ? v[0] : v;
    docs.push(doc);
  }
  return docs;
}

/** Serialises {@link emfDocuments} to `sink`, one line each. */
export function writeEmf(sink: EmfSink, input: EmfInput): void {
  for (const doc of emfDocuments(input)) sink(JSON.stringify(doc));
}
