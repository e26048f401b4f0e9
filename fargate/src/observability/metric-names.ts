// The one list of CloudWatch metric names and units the stack emits; the dashboard and alarms read the same list.

/** CloudWatch namespace for every metric of the stack. */
export const METRIC_NAMESPACE = 'VoiceAgent';

/** Per-turn measures, emitted by the media service (EMF, dimension Stage). Milliseconds except Interruptions. */
export const TURN_METRICS = {
  VoiceToVoice: 'Milliseconds',
  SttFinalDelay: 'Milliseconds',
  LlmTimeToFirstToken: 'Milliseconds',
  TtsTimeToFirstByte: 'Milliseconds',
  Interruptions: 'Count',
} as const;

/** Per-call measures, emitted once when a call ends (EMF, dimension Stage). */
export const CALL_METRICS = {
  CallDuration: 'Seconds',
  CostPerCall: 'None',
  Escalated: 'Count',
  CallsFailed: 'Count',
} as const;

/** Service-level measures of the media service (EMF, dimension Stage; ProviderErrors adds Provider). */
export const SERVICE_METRICS = {
  ActiveCalls: 'Count',
  ProviderErrors: 'Count',
  TranscriptWriteErrors: 'Count',
} as const;

/** Tool measures, emitted by the media service's tool client and by the Lambda tools (dimensions Stage, Tool). */
export const TOOL_METRICS = {
  ToolLatency: 'Milliseconds',
  CacheHit: 'Count',
  CacheMiss: 'Count',
  CacheErrors: 'Count',
} as const;

export type MetricName =
  | keyof typeof TURN_METRICS
  | keyof typeof CALL_METRICS
  | keyof typeof SERVICE_METRICS
  | keyof typeof TOOL_METRICS;

/** Every metric with its CloudWatch unit. */
export const ALL_METRICS: Record<MetricName, string> = { ...TURN_METRICS, ...CALL_METRICS, ...SERVICE_METRICS, ...TOOL_METRICS };
