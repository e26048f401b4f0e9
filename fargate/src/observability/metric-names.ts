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

/** Service-level measures of the media service (EMF, dimension Stage; ProviderErrors adds Provider, ProviderFailover adds Provider and Seam). */
export const SERVICE_METRICS = {
  ActiveCalls: 'Count',
  ProviderErrors: 'Count',
  /** A call moved to the next provider of a seam (dimensions Provider = the one that failed, Seam). */
  ProviderFailover: 'Count',
  TranscriptWriteErrors: 'Count',
  /** Transcript items the bounded writer queue had to spill or drop (alarmed at ≥ 1). */
  TranscriptQueueOverflow: 'Count',
} as const;

/**
 * Tool measures (dimensions Stage, Tool). Two timings with two names, so no statistic blends them:
 * ToolRoundTrip is what the media service waits for (its tool client, request to answer); ToolHandlerTime is the
 * Lambda handler's own time. The cache counters come from the Lambdas.
 */
export const TOOL_METRICS = {
  ToolRoundTrip: 'Milliseconds',
  ToolHandlerTime: 'Milliseconds',
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
