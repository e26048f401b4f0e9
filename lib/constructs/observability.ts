// The dashboard and alarms: latency percentiles, cost per call, active calls, tools, errors → one SNS topic.
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, type MetricName } from '../../fargate/src/observability/metric-names';
import type { StageConfig } from '../config';
import { M, metric } from './metric-names';

export interface ObservabilityProps {
  readonly stage: StageConfig;
  /** Tool names (snake_case), for the per-tool latency widgets and alarms. */
  readonly toolNames: readonly string[];
  readonly functions: readonly lambda.IFunction[];
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** Encrypts the alarm topic (its key policy lets CloudWatch use it). */
  readonly topicKey: kms.IKey;
}

const FIVE_MIN = Duration.minutes(5);
const ONE_MIN = Duration.minutes(1);

/**
 * Latency alarms use the p95 statistic, never Average: an average hides the slow turns callers remember.
 * Dimensions are Stage only (plus Tool for tool metrics), matching what the emitters write.
 */
export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { stage } = props;
    const s = stage.name;

    this.topic = new sns.Topic(this, 'Alarms', { displayName: `Voice agent alarms (${s})`, masterKey: props.topicKey, enforceSSL: true });
    // enforceSSL makes a topic policy, and a topic policy replaces SNS's default one: without this statement it
    // holds only the non-TLS Deny and nothing may publish, so no alarm would ever notify. CloudWatch publishes as
    // the service principal; the conditions keep it to this account's alarms of this stage (confused deputy,
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html and
    // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:${alarmNamePrefix(s)}*` },
        },
      }),
    );
    if (stage.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(stage.alarmEmail));
    const notify = new actions.SnsAction(this.topic);
    const alarm = (alarmId: string, p: cloudwatch.CreateAlarmOptions & { metric: cloudwatch.Metric | cloudwatch.MathExpression }) => {
      const a = p.metric.createAlarm(this, alarmId, { alarmName: `${alarmNamePrefix(s)}${alarmId}`, ...p });
      a.addAlarmAction(notify);
      a.addOkAction(notify);
      this.alarms.push(a);
      return a;
    };

    const percentile = (name: MetricName, stat: string, period = FIVE_MIN) => metric(name, s, { statistic: stat, period, label: `${name} ${stat}` });
    const v2v = ['p50', 'p95', 'p99'].map((p) => percentile(M.VoiceToVoice, p));
    const stages = [M.SttFinalDelay, M.LlmTimeToFirstToken, M.TtsTimeToFirstByte].map((n) => percentile(n, 'p95'));
    const cost = metric(M.CostPerCall, s, { statistic: cloudwatch.Stats.AVERAGE, period: FIVE_MIN, label: 'Average cost per call (USD)' });
    const active = metric(M.ActiveCalls, s, { statistic: cloudwatch.Stats.SUM, period: ONE_MIN, label: 'Active calls (all tasks)' });
    // Two tool timings: the round trip the media service waits for (network, API Gateway, cold start, handler)
    // and the Lambda handler's own time. The alarm watches the first, what the caller hears as silence.
    const toolRoundTripP95 = props.toolNames.map((tool) => metric(M.ToolRoundTrip, s, { statistic: 'p95', period: FIVE_MIN, tool, label: `${tool} round trip p95` }));
    const toolHandlerP95 = props.toolNames.map((tool) => metric(M.ToolHandlerTime, s, { statistic: 'p95', period: FIVE_MIN, tool, label: `${tool} handler p95` }));
    // ProviderErrors carries a Provider dimension next to Stage: sum it over providers with a Metrics Insights query.
    const providerErrors = new cloudwatch.MathExpression({
      expression: `SELECT SUM(${M.ProviderErrors}) FROM SCHEMA("${METRIC_NAMESPACE}", Provider, Stage) WHERE Stage = '${s}'`,
      usingMetrics: {},
      period: FIVE_MIN,
      label: 'Provider errors (all providers)',
    });
    // ProviderFailover carries Provider (the one that failed) and Seam: one series for the alarm, one per pair on the dashboard.
    const failoverQuery = `SELECT SUM(${M.ProviderFailover}) FROM SCHEMA("${METRIC_NAMESPACE}", Provider, Seam, Stage) WHERE Stage = '${s}'`;
    const providerFailovers = new cloudwatch.MathExpression({ expression: failoverQuery, usingMetrics: {}, period: FIVE_MIN, label: 'Failovers to a backup provider' });
    const failoversByProvider = new cloudwatch.MathExpression({ expression: `${failoverQuery} GROUP BY Seam, Provider`, usingMetrics: {}, period: FIVE_MIN });
    const failures = [M.CallsFailed, M.TranscriptWriteErrors, M.TranscriptQueueOverflow].map((n) => metric(n, s, { statistic: cloudwatch.Stats.SUM, period: FIVE_MIN }));

    // --- Alarms ----------------------------------------------------------------------------------------------
    // Alarm metrics carry no label, so the alarm is a plain single-metric alarm (Statistic/ExtendedStatistic).
    alarm('VoiceToVoiceP95', {
      metric: metric(M.VoiceToVoice, s, { statistic: 'p95', period: FIVE_MIN }),
      threshold: stage.alarms.p95VoiceToVoiceMs,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `p95 voice-to-voice latency above ${stage.alarms.p95VoiceToVoiceMs} ms`,
    });
    props.toolNames.forEach((tool) =>
      alarm(`ToolRoundTripP95-${tool}`, {
        metric: metric(M.ToolRoundTrip, s, { statistic: 'p95', period: FIVE_MIN, tool }),
        threshold: stage.alarms.p95ToolMs,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `p95 round trip of tool ${tool} as the media service waits for it, above ${stage.alarms.p95ToolMs} ms`,
      }),
    );
    // The bounded transcript writer queue spilled or dropped items: never silent (issue 11).
    alarm('TranscriptQueueOverflow', {
      metric: metric(M.TranscriptQueueOverflow, s, { statistic: cloudwatch.Stats.SUM, period: ONE_MIN }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: 'The transcript writer queue overflowed: turns were spilled or dropped (see README Operations: transcripts replay)',
    });
    alarm('CostPerCallAverage', {
      metric: metric(M.CostPerCall, s, { statistic: cloudwatch.Stats.AVERAGE, period: FIVE_MIN }),
      threshold: stage.alarms.avgCostPerCallUsd,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `Average cost per call above $${stage.alarms.avgCostPerCallUsd}`,
    });
    alarm('ProviderErrors', {
      metric: providerErrors,
      threshold: stage.alarms.providerErrorsPer5Min,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `At least ${stage.alarms.providerErrorsPer5Min} provider errors in 5 minutes`,
    });
    alarm('ProviderFailover', {
      metric: providerFailovers,
      threshold: stage.alarms.providerFailoversPer5Min,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `At least ${stage.alarms.providerFailoversPer5Min} calls moved to a backup provider in 5 minutes: a primary is failing (dashboard: Failovers by seam and provider)`,
    });
    // Every task reports ActiveCalls each minute, even at zero: no data means the tasks (or their metrics) are gone.
    alarm('ActiveCallsMissing', {
      metric: metric(M.ActiveCalls, s, { statistic: cloudwatch.Stats.SAMPLE_COUNT, period: ONE_MIN }),
      threshold: 1,
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      alarmDescription: 'No ActiveCalls reports for 5 minutes: media tasks are down or not publishing metrics',
    });
    for (const fn of props.functions) {
      const name = fn.node.id;
      alarm(`LambdaErrors-${name}`, {
        metric: fn.metricErrors({ period: FIVE_MIN, statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `Lambda ${name} reported errors`,
      });
      alarm(`LambdaThrottles-${name}`, {
        metric: fn.metricThrottles({ period: FIVE_MIN, statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `Lambda ${name} was throttled`,
      });
    }
    const elb5xx = props.loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: FIVE_MIN, statistic: cloudwatch.Stats.SUM });
    const target5xx = props.targetGroup.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: FIVE_MIN, statistic: cloudwatch.Stats.SUM });
    alarm('Alb5xx', {
      metric: elb5xx,
      threshold: 5,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: 'The ALB answered 5xx itself (no healthy target, or target timeouts)',
    });
    alarm('Target5xx', {
      metric: target5xx,
      threshold: 5,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: 'The media service answered 5xx',
    });

    // --- Dashboard -------------------------------------------------------------------------------------------
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 12, height: 6, ...extra });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `voice-agent-${s}`,
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          graph('Voice-to-voice latency (ms)', v2v, {
            leftAnnotations: [{ value: stage.alarms.p95VoiceToVoiceMs, label: 'p95 alarm', color: cloudwatch.Color.RED }],
          }),
          graph('Per-stage latency p95 (ms)', stages),
        ],
        [
          graph('Cost per call (USD)', [cost], {
            leftAnnotations: [{ value: stage.alarms.avgCostPerCallUsd, label: 'alarm', color: cloudwatch.Color.RED }],
          }),
          graph('Active calls', [active]),
        ],
        [
          graph('Tool round trip p95, as the media service waits (ms)', toolRoundTripP95, {
            leftAnnotations: [{ value: stage.alarms.p95ToolMs, label: 'p95 alarm', color: cloudwatch.Color.RED }],
          }),
          graph('Tool handler time p95, inside the Lambda (ms)', toolHandlerP95),
        ],
        [graph('Errors', [providerErrors, ...failures, elb5xx, target5xx], { width: 24 })],
        [
          graph('Failovers by seam and provider (the provider that failed)', [failoversByProvider], {
            width: 24,
            leftAnnotations: [{ value: stage.alarms.providerFailoversPer5Min, label: 'alarm (all providers)', color: cloudwatch.Color.RED }],
          }),
        ],
        [
          graph(
            'Lambda errors and throttles',
            props.functions.flatMap((fn) => [
              fn.metricErrors({ period: FIVE_MIN, statistic: cloudwatch.Stats.SUM, label: `${fn.node.id} errors` }),
              fn.metricThrottles({ period: FIVE_MIN, statistic: cloudwatch.Stats.SUM, label: `${fn.node.id} throttles` }),
            ]),
            { width: 24 },
          ),
        ],
      ],
    });
  }
}


/** Every alarm of a stage is named `${alarmNamePrefix(stage)}<id>`; the topic policy admits exactly these. */
export function alarmNamePrefix(stage: string): string {
  return `voice-agent-${stage}-`;
}
