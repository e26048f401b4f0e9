// Pins issue 16 (items 1–13) and issue 11's infra parts against the synthesized templates: what AWS would really do.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../bin/app';
import { PlaceholderError, placeholdersIn, stageNames, stages } from '../../lib/config';
import { METRICS_PORT, STOP_TIMEOUT_SECONDS, TWILIO_PATHS, webhookRateLimit } from '../../lib/constructs/media-service';
import { alarmNamePrefix } from '../../lib/constructs/observability';
import { createAuthorizer } from '../../lambdas/vapi/authorizer';
import { cliContext, logicalId, propsOf, resourcesOf, type Synthesized, synthStage } from './synth';

const synthesized: Record<'dev' | 'prod', Synthesized> = {} as never;
beforeAll(() => {
  synthesized.dev = synthStage('dev', { bundle: false });
  synthesized.prod = synthStage('prod', { bundle: false });
}, 600_000);

const json = (v: unknown) => JSON.stringify(v);
const taskDef = (s: Synthesized) => resourcesOf(s.serviceTemplate, 'AWS::ECS::TaskDefinition')[0]![1].Properties;
const containerEnv = (s: Synthesized) =>
  Object.fromEntries((taskDef(s).ContainerDefinitions[0].Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));

/**
 * API Gateway HTTP API's documented identity-source rule: "If any specified identity source is missing, null, or
 * empty, API Gateway returns a 401 Unauthorized response without calling your authorizer Lambda function."
 */
async function httpApiAuthorize(identitySource: string[] | undefined, headers: Record<string, string>, authorizer: ReturnType<typeof createAuthorizer>): Promise<number> {
  for (const src of identitySource ?? []) {
    const name = /^\$request\.header\.(.+)$/.exec(src)?.[1]?.toLowerCase();
    if (!name || !headers[name]) return 401;
  }
  const { isAuthorized } = await authorizer({ headers });
  return isAuthorized ? 200 : 403;
}

describe.each(['dev', 'prod'] as const)('AWS reality, stage %s', (name) => {
  const s = () => synthesized[name];
  const stage = stages[name];

  it('1: lets CloudWatch publish to the alarm topic, only for this account and this stage\'s alarms', () => {
    const [[, policy]] = resourcesOf(s().serviceTemplate, 'AWS::SNS::TopicPolicy');
    const allow = (policy.Properties.PolicyDocument.Statement as Record<string, any>[]).filter((st) => st.Effect === 'Allow');
    expect(allow).toHaveLength(1);
    expect(allow[0]).toMatchObject({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' });
    expect(allow[0].Condition.StringEquals['aws:SourceAccount']).toBe(stage.account);
    expect(json(allow[0].Condition.ArnLike['aws:SourceArn'])).toContain(`:alarm:${alarmNamePrefix(name)}*`);
    for (const [, a] of resourcesOf(s().serviceTemplate, 'AWS::CloudWatch::Alarm')) expect(a.Properties.AlarmName.startsWith(alarmNamePrefix(name))).toBe(true);
  });

  it('2: API Gateway lets both Vapi credential forms reach the authorizer (no identity source, no caching)', async () => {
    const [[, auth]] = resourcesOf(s().serviceTemplate, 'AWS::ApiGatewayV2::Authorizer');
    expect(auth.Properties.IdentitySource ?? []).toEqual([]);
    expect(auth.Properties.AuthorizerResultTtlInSeconds).toBe(0);
    const authorizer = createAuthorizer(async () => 'the-shared-secret');
    expect(await httpApiAuthorize(auth.Properties.IdentitySource, { 'x-vapi-secret': 'the-shared-secret' }, authorizer)).toBe(200);
    expect(await httpApiAuthorize(auth.Properties.IdentitySource, { authorization: 'Bearer the-shared-secret' }, authorizer)).toBe(200);
    expect(await httpApiAuthorize(auth.Properties.IdentitySource, { authorization: 'Bearer wrong' }, authorizer)).toBe(403);
    // What the old source did to a Bearer-only request:
    expect(await httpApiAuthorize(['$request.header.x-vapi-secret'], { authorization: 'Bearer the-shared-secret' }, authorizer)).toBe(401);
  });

  it('4: PUBLIC_URL is the exact origin of the webhook URL Twilio is given (no case change in the infra)', () => {
    // Resolve both as CloudFormation would, with an ALB DNS name in mixed case as AWS really assigns them.
    const dns = 'VoiceA-Media-AbC123dEf-1234567890.us-east-1.elb.amazonaws.com';
    const resolve = (v: unknown): string =>
      typeof v === 'string' ? v : (v as any)['Fn::Join'] ? ((v as any)['Fn::Join'][1] as unknown[]).map(resolve).join((v as any)['Fn::Join'][0]) : (v as any)['Fn::GetAtt'] ? dns : '?';
    const webhook = resolve(s().serviceTemplate.toJSON().Outputs.TwilioVoiceWebhook.Value);
    const url = resolve(containerEnv(s()).PUBLIC_URL);
    expect(webhook).toBe(`${url}/twiml`);
    expect(url).toBe(name === 'prod' ? `https://${stages.prod.domainName}` : `http://${dns}`);
  });

  it('6: the service has no DesiredCount, so a deploy keeps the count autoscaling set', () => {
    const [[, svc]] = resourcesOf(s().serviceTemplate, 'AWS::ECS::Service');
    expect(svc.Properties.DesiredCount).toBeUndefined();
    s().serviceTemplate.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: stage.media.minTasks });
  });

  it('7: a 30 s deregistration delay, then SIGTERM with the 120 s Fargate maximum to migrate calls (drain inside it)', () => {
    const [[, tg]] = resourcesOf(s().serviceTemplate, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(tg.Properties.TargetGroupAttributes).toContainEqual({ Key: 'deregistration_delay.timeout_seconds', Value: '30' });
    expect(taskDef(s()).ContainerDefinitions[0].StopTimeout).toBe(STOP_TIMEOUT_SECONDS);
    expect(STOP_TIMEOUT_SECONDS).toBe(120);
    expect(Number(containerEnv(s()).DRAIN_SECONDS)).toBeLessThan(STOP_TIMEOUT_SECONDS);
  });

  it('8: the tool p95 alarms watch ToolRoundTrip (what the caller waits for); the dashboard shows it and ToolHandlerTime', () => {
    const alarms = resourcesOf(s().serviceTemplate, 'AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
    expect(alarms.some((a) => a.MetricName === 'ToolLatency' || a.MetricName === 'ToolHandlerTime')).toBe(false);
    expect(alarms.filter((a) => a.MetricName === 'ToolRoundTrip').length).toBeGreaterThan(0);
    const [[, dash]] = resourcesOf(s().serviceTemplate, 'AWS::CloudWatch::Dashboard');
    const body = json(dash.Properties.DashboardBody);
    expect(body).toContain('\\"ToolRoundTrip\\"');
    expect(body).toContain('\\"ToolHandlerTime\\"');
    expect(body).not.toContain('ToolLatency');
  });

  it('9: the Data stack outputs the real table names and the Redis group for the operator tools', () => {
    const outputs = s().dataTemplate.toJSON().Outputs;
    expect(outputs.BusinessTableName.Value).toEqual({ Ref: logicalId(s().data.tables.business) });
    expect(outputs.IdempotencyTableName.Value).toEqual({ Ref: logicalId(s().data.tables.idempotency) });
    expect(outputs.RedisReplicationGroupId.Value).toEqual({ Ref: logicalId(s().data.cache.replicationGroup) });
    const svc = s().serviceTemplate.toJSON().Outputs;
    for (const k of ['ClusterName', 'ServiceName', 'AlarmTopicArn', 'TwilioVoiceWebhook']) expect(svc[k], k).toBeDefined();
  });

  it('11a: the retained WAF log group is named per stack instance, so a recreated Service stack never collides', () => {
    const wafLogs = resourcesOf(s().serviceTemplate, 'AWS::Logs::LogGroup').filter(([, r]) => json(r.Properties.LogGroupName ?? '').includes('aws-waf-logs-'));
    expect(wafLogs).toHaveLength(1);
    const logName = wafLogs[0]![1].Properties.LogGroupName;
    expect(typeof logName).not.toBe('string');
    expect(json(logName)).toContain('AWS::StackId');
  });

  it('11b: the access-log bucket empties itself on destroy where data is not protected', () => {
    const autoDelete = resourcesOf(s().dataTemplate, 'Custom::S3AutoDeleteObjects');
    expect(autoDelete.length).toBe(name === 'prod' ? 0 : 1);
    const bucket = s().dataTemplate.toJSON().Resources[logicalId(s().data.accessLogs)];
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  it('11c: the VPC uses the stage\'s own range', () => {
    s().dataTemplate.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: stage.vpcCidr });
  });

  it('11d: ALB deletion protection is on exactly where data is protected (prod)', () => {
    const [[, alb]] = resourcesOf(s().serviceTemplate, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const attr = (alb.Properties.LoadBalancerAttributes as { Key: string; Value: string }[]).find((a) => a.Key === 'deletion_protection.enabled');
    expect(attr?.Value).toBe(name === 'prod' ? 'true' : 'false');
  });

  it('11e: no CloudFormation exports: the Service stack reads the Data stack with weak Fn::GetStackOutput references', () => {
    const outputs = Object.values(s().dataTemplate.toJSON().Outputs ?? {}) as { Export?: unknown }[];
    expect(outputs.filter((o) => o.Export)).toHaveLength(0);
    const service = json(s().serviceTemplate.toJSON());
    expect(service).not.toContain('Fn::ImportValue');
    expect(service).toContain('Fn::GetStackOutput');
  });

  it('12: builds and runs the stage architecture (arm64 by default)', () => {
    expect(taskDef(s()).RuntimePlatform).toEqual({ CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
  });

  it('issue 11: a per-IP rate-based WAF rule blocks floods of the webhook, <Pay> and upgrade paths', () => {
    const [[, acl]] = resourcesOf(s().serviceTemplate, 'AWS::WAFv2::WebACL');
    const rule = (acl.Properties.Rules as Record<string, any>[]).find((r) => r.Statement.RateBasedStatement);
    expect(rule).toMatchObject({ Action: { Block: {} }, Statement: { RateBasedStatement: { AggregateKeyType: 'IP', EvaluationWindowSec: 300, Limit: webhookRateLimit(stage) } } });
    const paths = rule!.Statement.RateBasedStatement.ScopeDownStatement.OrStatement.Statements.map((st: any) => st.ByteMatchStatement.SearchString);
    expect(paths.sort()).toEqual([...TWILIO_PATHS].sort());
  });

  it('issue 11: the ALB forwards only /twiml, /pay-result and /media; /metrics, /ready and the rest get 404 at the ALB', () => {
    const rules = resourcesOf(s().serviceTemplate, 'AWS::ElasticLoadBalancingV2::ListenerRule').map(([, r]) => r.Properties);
    expect(rules).toHaveLength(1);
    expect(rules[0].Conditions).toEqual([{ Field: 'path-pattern', PathPatternConfig: { Values: [...TWILIO_PATHS] } }]);
    expect(rules[0].Actions[0].Type).toBe('forward');
    for (const [, l] of resourcesOf(s().serviceTemplate, 'AWS::ElasticLoadBalancingV2::Listener')) {
      expect(['fixed-response', 'redirect']).toContain(l.Properties.DefaultActions[0].Type);
    }
    expect(json(rules)).not.toMatch(/metrics|ready/);
  });

  it('issue 11: Prometheus metrics on METRICS_PORT, reachable from inside the VPC only and never through the ALB', () => {
    expect(containerEnv(s()).METRICS_PORT).toBe(String(METRICS_PORT));
    const ingress = resourcesOf(s().serviceTemplate, 'AWS::EC2::SecurityGroup')
      .flatMap(([, r]) => (r.Properties.SecurityGroupIngress ?? []) as Record<string, unknown>[])
      .concat(resourcesOf(s().serviceTemplate, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties));
    const onMetrics = ingress.filter((i) => i.FromPort === METRICS_PORT);
    expect(onMetrics).toEqual([expect.objectContaining({ CidrIp: stage.vpcCidr, ToPort: METRICS_PORT })]);
    for (const [, tg] of resourcesOf(s().serviceTemplate, 'AWS::ElasticLoadBalancingV2::TargetGroup')) expect(tg.Properties.Port).not.toBe(METRICS_PORT);
  });

  it('issue 11: TranscriptQueueOverflow alarms at ≥ 1 and notifies the topic', () => {
    const alarm = resourcesOf(s().serviceTemplate, 'AWS::CloudWatch::Alarm')
      .map(([, r]) => r.Properties)
      .find((a) => a.MetricName === 'TranscriptQueueOverflow');
    expect(alarm).toMatchObject({
      Namespace: 'VoiceAgent',
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Dimensions: [{ Name: 'Stage', Value: name }],
      AlarmActions: [{ Ref: logicalId(s().service.observability.topic) }],
    });
  });
});

describe('AWS reality, stage table and app', () => {
  it('11c: every stage has its own, non-overlapping /16', () => {
    const cidrs = stageNames.map((n) => stages[n].vpcCidr);
    expect(new Set(cidrs).size).toBe(cidrs.length);
    for (const c of cidrs) expect(c).toMatch(/^10\.\d+\.0\.0\/16$/);
  });

  it('12: -c arch=x86_64 builds linux/amd64 and runs X86_64 tasks; an unknown arch is refused', () => {
    const s = buildApp({ context: { ...cliContext('dev'), arch: 'x86_64', 'aws:cdk:bundling-stacks': [] } }, {});
    const tpl = s.app.synth().getStackByName(s.service.stackName).template as Record<string, any>;
    const td = Object.values(tpl.Resources as Record<string, any>).find((r) => r.Type === 'AWS::ECS::TaskDefinition');
    expect(td.Properties.RuntimePlatform.CpuArchitecture).toBe('X86_64');
    const manifest = readFileSync(path.join(s.app.outdir, `${s.service.stackName}.assets.json`), 'utf8');
    expect(manifest).toContain('"platform": "linux/amd64"');
    expect(manifest).not.toContain('linux/arm64');
    expect(() => buildApp({ context: { ...cliContext('dev'), arch: 'sparc' } }, {})).toThrow(/valid values are arm64, x86_64/);
  }, 120_000);

  it('13: lists every placeholder of the shipped stages by field', () => {
    expect(placeholdersIn(stages.prod).map((p) => p.field).sort()).toEqual(['account', 'alarmEmail', 'certificateArn', 'domainName', 'transferNumber']);
    expect(placeholdersIn(stages.dev).map((p) => p.field).sort()).toEqual(['account', 'transferNumber']);
    expect(placeholdersIn({ ...stages.prod, account: '123456789012', transferNumber: '+14155552671', domainName: 'voice.acme.io', alarmEmail: 'ops@acme.io', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/1b2c3d4e-1111-2222-3333-444455556666' })).toEqual([]);
  });

  it('13: with AWS credentials (CDK_DEFAULT_ACCOUNT set by the CLI) a placeholder stops the app, naming each one', () => {
    let err: unknown;
    try {
      buildApp({ context: cliContext('prod') }, { CDK_DEFAULT_ACCOUNT: '123456789012' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PlaceholderError);
    const msg = (err as Error).message;
    for (const field of ['account = 111111111111', 'certificateArn', 'domainName = voice.example.com', 'transferNumber = +15550100000', 'alarmEmail']) expect(msg).toContain(field);
    expect(() => buildApp({ context: { ...cliContext('dev'), placeholders: 'error' } }, {})).toThrow(PlaceholderError);
    // -c placeholders=warn does not override credentials.
    expect(() => buildApp({ context: { ...cliContext('dev'), placeholders: 'warn' } }, { CDK_DEFAULT_ACCOUNT: '123456789012' })).toThrow(PlaceholderError);
  });

  it('13: offline synth (no credentials) still works and carries a warning naming the placeholders', () => {
    const s = synthesized.dev;
    const warnings = s.data.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data));
    expect(warnings.some((w) => w.includes('placeholder values') && w.includes('transferNumber'))).toBe(true);
  });
});
