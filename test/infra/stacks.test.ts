// Pins the synthesized dev and prod stacks: security settings, draining, scaling, alarms, routes, env, cdk-nag.
import { BACKUP_SECRETS, backupsWithSecrets } from '../../contracts/providers';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { envSchema, loadConfig } from '../../fargate/src/config';
import { stages } from '../../lib/config';
import { discoverTools } from '../../lib/constructs/tools-api';
import { ROOT, type Synthesized, logicalId, propsOf, resourcesOf, synthStage } from './synth';

// Two synths for the whole file. Only dev bundles the Lambdas with esbuild (the slow part); prod's templates are
// identical apart from the code asset hashes, which nothing here asserts for prod.
const synthesized: Record<'dev' | 'prod', Synthesized> = {} as never;
beforeAll(() => {
  synthesized.dev = synthStage('dev');
  synthesized.prod = synthStage('prod', { bundle: false });
}, 600_000);

const toolsOnDisk = discoverTools(path.join(ROOT, 'lambdas', 'tools'));

/** The statements of the one policy attached to `roleId`. */
function statementsOfRole(s: Synthesized, roleId: string): Record<string, any>[] {
  const policies = resourcesOf(s.serviceTemplate, 'AWS::IAM::Policy').filter(([, r]) =>
    (r.Properties.Roles as unknown[]).some((ref) => JSON.stringify(ref) === JSON.stringify({ Ref: roleId })),
  );
  expect(policies).toHaveLength(1);
  return policies[0][1].Properties.PolicyDocument.Statement;
}

const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** The tools API's Lambdas (the console's are pinned in operations-console.test.ts; CDK's custom-resource ones are not ours). */
function toolsFunctions(s: Synthesized): [string, Record<string, any>][] {
  const ids = new Set(s.service.toolsApi.functions.map((f) => logicalId(f)));
  return resourcesOf(s.serviceTemplate, 'AWS::Lambda::Function').filter(([id]) => ids.has(id));
}

describe.each(['dev', 'prod'] as const)('stage %s', (name) => {
  const stage = stages[name];
  const s = () => synthesized[name];

  it('synthesizes with zero unacknowledged cdk-nag (AwsSolutions, PCI DSS 3.2.1) or template findings', () => {
    expect(s().violations).toEqual([]);
  });

  it('routes one IAM-authorized POST /tools/{name} per tool directory, plus the authorized Vapi route, and nothing anonymous', () => {
    expect(toolsOnDisk.length).toBeGreaterThan(0);
    // The tools HTTP API's routes (the console WebSocket API is pinned in operations-console.test.ts).
    const toolsApiId = logicalId(s().service.toolsApi.api);
    const routes = resourcesOf(s().serviceTemplate, 'AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties)
      .filter((r) => JSON.stringify(r.ApiId) === JSON.stringify({ Ref: toolsApiId }));
    for (const route of routes) expect(['AWS_IAM', 'CUSTOM']).toContain(route.AuthorizationType);
    const toolRoutes = routes.filter((r) => String(r.RouteKey).startsWith('POST /tools/'));
    expect(toolRoutes.map((r) => r.RouteKey).sort()).toEqual(toolsOnDisk.map((t) => `POST /tools/${t.name}`).sort());
    for (const r of toolRoutes) expect(r.AuthorizationType).toBe('AWS_IAM');
    const vapi = routes.find((r) => r.RouteKey === 'POST /vapi/tool-calls');
    expect(vapi?.AuthorizationType).toBe('CUSTOM');
    expect(routes).toHaveLength(toolsOnDisk.length + 1);
    s().serviceTemplate.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      EnableSimpleResponses: true,
      AuthorizerResultTtlInSeconds: 0,
    });
  });

  it('gives each tool and the Vapi handler a live alias with the stage provisioned concurrency', () => {
    const { toolsApi } = s().service;
    const expected = name === 'dev' ? {} : { check_availability: 4 };
    const fallback = name === 'dev' ? undefined : 2;
    const aliases = [...toolsApi.tools.entries(), ['vapi', toolsApi.vapi!] as const];
    for (const [tool, { alias }] of aliases) {
      const props = propsOf(s().serviceTemplate, logicalId(alias));
      expect(props.Name).toBe('live');
      const want = (expected as Record<string, number>)[tool] ?? fallback;
      expect(props.ProvisionedConcurrencyConfig?.ProvisionedConcurrentExecutions, tool).toBe(want);
    }
  });

  it('runs every Lambda on Node 22 arm64 inside the VPC with the contract environment', () => {
    const fns = toolsFunctions(s()).map(([, r]) => r.Properties);
    expect(fns).toHaveLength(toolsOnDisk.length + 3);
    for (const fn of fns) {
      expect(fn.Runtime).toBe('nodejs22.x');
      expect(fn.Architectures).toEqual(['arm64']);
      expect(fn.VpcConfig.SubnetIds.length).toBe(2);
      const env = fn.Environment.Variables;
      expect(env).toMatchObject({ STAGE: name, REDIS_PORT: '6380', REDIS_TLS: 'true', POWERTOOLS_METRICS_NAMESPACE: 'VoiceAgent' });
      for (const key of ['REDIS_HOST', 'REDIS_AUTH_SECRET_ARN', 'POWERTOOLS_SERVICE_NAME']) expect(env[key], key).toBeDefined();
    }
    const byService = (svc: string) => fns.find((f) => f.Environment.Variables.POWERTOOLS_SERVICE_NAME === svc)!.Environment.Variables;
    for (const t of toolsOnDisk) expect(Object.keys(byService(`tool-${t.dir}`))).toEqual(expect.arrayContaining(['BUSINESS_TABLE', 'IDEMPOTENCY_TABLE']));
    expect(byService('vapi-authorizer').VAPI_SECRET_ARN).toBeDefined();
    expect(Object.keys(byService('privacy'))).toEqual(expect.arrayContaining(['TRANSCRIPTS_TABLE', 'CALLER_HASH_KEY_SECRET_ARN']));
  });

  it('creates a secret, with its ARN as an output, for each backup provider the stage lists and none for the others', () => {
    const outputs = Object.keys(s().dataTemplate.toJSON().Outputs ?? {});
    for (const [backup, b] of Object.entries(BACKUP_SECRETS)) {
      const listed = backupsWithSecrets(stage.providers).includes(backup as keyof typeof BACKUP_SECRETS);
      expect(outputs.some((o) => o.startsWith(`${b.secret}SecretArn`)), backup).toBe(listed);
    }
  });

  it('builds Redis as a multi-AZ replication group with failover, TLS, AUTH from Secrets Manager, encryption at rest, on a non-default port', () => {
    const [[, redis]] = resourcesOf(s().dataTemplate, 'AWS::ElastiCache::ReplicationGroup');
    const p = redis.Properties;
    expect(p).toMatchObject({
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      NumCacheClusters: 2,
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      AtRestEncryptionEnabled: true,
    });
    expect(p.Port).not.toBe(6379);
    expect(p.Port).toBe(6380);
    expect(p.KmsKeyId).toBeDefined();
    expect(JSON.stringify(p.AuthToken)).toContain('{{resolve:secretsmanager:');
    expect(JSON.stringify(p.AuthToken)).toContain(logicalId(s().data.cache.authSecret));
  });

  it('keeps transcripts with PITR, TTL on expiresAt, a NEW_IMAGE stream and the byCaller index, under a rotating customer-managed key', () => {
    const { table, key } = s().data.transcripts;
    const resource = s().dataTemplate.toJSON().Resources[logicalId(table)];
    expect(resource.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: 'callSid', KeyType: 'HASH' },
        { AttributeName: 'turn', KeyType: 'RANGE' },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [logicalId(key), 'Arn'] } },
      GlobalSecondaryIndexes: [
        expect.objectContaining({
          IndexName: 'byCaller',
          KeySchema: [
            { AttributeName: 'callerHash', KeyType: 'HASH' },
            { AttributeName: 'startedAt', KeyType: 'RANGE' },
          ],
        }),
      ],
    });
    expect(propsOf(s().dataTemplate, logicalId(key)).EnableKeyRotation).toBe(true);
    // Stateful resources survive a stack deletion in prod only.
    expect(resource.DeletionPolicy).toBe(name === 'prod' ? 'Retain' : 'Delete');
    expect(resource.Properties.DeletionProtectionEnabled ?? false).toBe(name === 'prod');
    expect(s().data.terminationProtection).toBe(name === 'prod');
  });

  it('lets the tool Lambdas reach only Redis (on its port) and HTTPS from isolated subnets, and Redis admit only Lambdas and tasks', () => {
    const t = s().serviceTemplate;
    const toolsSg = logicalId(s().service.toolsApi.securityGroup);
    const redisSgExport = 'CacheSecurityGroup';
    expect(propsOf(t, toolsSg).SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' })]);
    const egress = resourcesOf(t, 'AWS::EC2::SecurityGroupEgress').map(([, r]) => r.Properties);
    const toolsEgress = egress.filter((e) => JSON.stringify(e.GroupId).includes(toolsSg));
    expect(toolsEgress).toHaveLength(1);
    expect(toolsEgress[0]).toMatchObject({ FromPort: 6380, ToPort: 6380, IpProtocol: 'tcp' });
    expect(JSON.stringify(toolsEgress[0].DestinationSecurityGroupId)).toContain(redisSgExport);
    const redisIngress = resourcesOf(t, 'AWS::EC2::SecurityGroupIngress')
      .map(([, r]) => r.Properties)
      .filter((i) => JSON.stringify(i.GroupId).includes(redisSgExport));
    expect(redisIngress.map((i) => i.FromPort)).toEqual([6380, 6380, 6380]);
    const consoleSg = logicalId(s().service.operationsConsole.securityGroup);
    expect(redisIngress.map((i) => JSON.stringify(i.SourceSecurityGroupId)).sort()).toEqual(
      [toolsSg, consoleSg, logicalId(s().service.media.service.connections.securityGroups[0])].map((id) => JSON.stringify({ 'Fn::GetAtt': [id, 'GroupId'] })).sort(),
    );
    // The tool functions sit in the isolated data subnets (no NAT route), where 0.0.0.0/0:443 only reaches VPC endpoints.
    for (const [, fn] of toolsFunctions(s())) {
      for (const subnet of fn.Properties.VpcConfig.SubnetIds) expect(JSON.stringify(subnet)).toContain('dataSubnet');
    }
  });

  it('creates the business and idempotency tables with their contract keys', () => {
    const { business, idempotency } = s().data.tables;
    expect(propsOf(s().dataTemplate, logicalId(business))).toMatchObject({
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [expect.objectContaining({ IndexName: 'gsi1' })],
    });
    expect(propsOf(s().dataTemplate, logicalId(idempotency))).toMatchObject({
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    });
  });

  it('limits the task role to invoking the tool routes, writing transcripts, querying byCaller, the transcripts key and its own scale-in protection', () => {
    const media = s().service.media;
    const statements = statementsOfRole(s(), logicalId(media.taskDefinition.taskRole));
    const bySid = Object.fromEntries(statements.map((st) => [st.Sid, st]));
    // The console grants (ConsoleConnections, ConsoleConnectionsKey, PublishToConsoles) are pinned in operations-console.test.ts.
    expect(Object.keys(bySid).sort()).toEqual([
      'ConsoleConnections', 'ConsoleConnectionsKey', 'InvokeTools', 'PublishToConsoles', 'ReadCallerHistory', 'ScaleInProtection', 'TranscriptsKey', 'WriteTranscripts',
    ]);
    for (const st of statements) {
      expect(st.Effect).toBe('Allow');
      expect(asArray(st.Resource)).not.toContain('*');
    }
    expect(bySid.InvokeTools.Action).toBe('execute-api:Invoke');
    const routeArns = asArray(bySid.InvokeTools.Resource).map((r) => JSON.stringify(r));
    expect(routeArns).toHaveLength(toolsOnDisk.length);
    for (const t of toolsOnDisk) expect(routeArns.some((r) => r.includes(`/$default/POST/tools/${t.name}"`))).toBe(true);
    expect(asArray(bySid.WriteTranscripts.Action).sort()).toEqual(['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    expect(JSON.stringify(bySid.WriteTranscripts.Resource)).toContain('TranscriptsTable');
    expect(bySid.ReadCallerHistory.Action).toBe('dynamodb:Query');
    expect(JSON.stringify(bySid.ReadCallerHistory.Resource)).toContain('/index/byCaller');
    expect(asArray(bySid.TranscriptsKey.Action).sort()).toEqual(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']);
    expect(bySid.TranscriptsKey.Condition).toEqual({ StringEquals: { 'kms:ViaService': `dynamodb.${stage.region}.amazonaws.com` } });
    expect(asArray(bySid.ScaleInProtection.Action).sort()).toEqual(['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection']);
    const taskArn = JSON.stringify(bySid.ScaleInProtection.Resource);
    expect(taskArn).toContain(':task/');
    expect(taskArn).toContain(logicalId(media.cluster));
  });

  it('injects every credential as an ECS secret and sets every required media-service variable', () => {
    const [[, taskDef]] = resourcesOf(s().serviceTemplate, 'AWS::ECS::TaskDefinition');
    const [container] = taskDef.Properties.ContainerDefinitions;
    const env = Object.fromEntries((container.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
    const secrets = (container.Secrets as { Name: string }[]).map((x) => x.Name).sort();
    const backups = backupsWithSecrets(stage.providers).map((b) => BACKUP_SECRETS[b].env);
    expect(secrets).toEqual(
      ['CALLER_HASH_KEY', 'DEEPGRAM_API_KEY', 'ELEVENLABS_API_KEY', 'GROQ_API_KEY', 'REDIS_PASSWORD', 'STREAM_TOKEN_KEY', 'TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', ...backups].sort(),
    );
    expect(env).toMatchObject({ STT_PROVIDERS: stage.providers.stt.join(','), LLM_PROVIDERS: stage.providers.llm.join(','), TTS_PROVIDERS: stage.providers.tts.join(',') });
    // No credential also appears as plain text.
    for (const name of secrets) expect(env[name]).toBeUndefined();
    // Every variable fargate/src/config.ts requires (no default, not optional) is provided one way or the other.
    const required = Object.entries(envSchema.shape)
      .filter(([, schema]) => !(schema as { safeParse(v: unknown): { success: boolean } }).safeParse(undefined).success)
      .map(([key]) => key);
    expect(required.length).toBeGreaterThan(5);
    for (const key of required) expect(key in env || secrets.includes(key), key).toBe(true);
    expect(env).toMatchObject({
      STAGE: name,
      MAX_CALLS: String(stage.media.callsPerTask),
      TRANSFER_NUMBER: stage.transferNumber,
      LLM_MODEL_SMALL: 'openai/gpt-oss-20b',
      LLM_MODEL_LARGE: 'openai/gpt-oss-120b',
      REDIS_PORT: '6380',
      REDIS_TLS: 'true',
      TOOLS_AUTH: 'iam',
      COST_CAP_USD: String(stage.costCapUsd),
      TRANSCRIPT_RETENTION_DAYS: String(stage.transcriptRetentionDays),
      DRAIN_SECONDS: '110',
    });
    expect(JSON.parse(env.PRICES_JSON as string)).toEqual(stage.prices);
    expect(container.StopTimeout).toBe(120);
    expect(taskDef.Properties.RuntimePlatform).toEqual({ CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
  });

  it("passes the media service's own loadConfig once deploy-time references and secrets are filled in", () => {
    const [[, taskDef]] = resourcesOf(s().serviceTemplate, 'AWS::ECS::TaskDefinition');
    const [container] = taskDef.Properties.ContainerDefinitions;
    // CloudFormation references (ALB DNS, API id, Redis endpoint, table name) become plausible deploy-time values.
    const resolved: Record<string, string> = {
      PUBLIC_URL: 'http://media-alb-123.us-east-1.elb.amazonaws.com',
      TOOLS_URL: 'https://abc123.execute-api.us-east-1.amazonaws.com',
      REDIS_HOST: 'master.voice-agent.cache.amazonaws.com',
      TRANSCRIPTS_TABLE: 'VoiceAgent-Transcripts',
      CONSOLE_MANAGEMENT_ENDPOINT: 'https://ws123.execute-api.us-east-1.amazonaws.com/dev',
      CONSOLE_CONNECTIONS_TABLE: 'VoiceAgent-ConsoleConnections',
    };
    const env: Record<string, string> = {};
    for (const { Name, Value } of container.Environment as { Name: string; Value: unknown }[]) {
      env[Name] = typeof Value === 'string' ? Value : resolved[Name];
      expect(env[Name], Name).toBeDefined();
    }
    const secretValues: Record<string, string> = {
      TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: 'token',
      DEEPGRAM_API_KEY: 'dg',
      GROQ_API_KEY: 'gq',
      ELEVENLABS_API_KEY: 'el',
      STREAM_TOKEN_KEY: 'k'.repeat(64),
      CALLER_HASH_KEY: 'h'.repeat(64),
      REDIS_PASSWORD: 'p'.repeat(64),
      ASSEMBLYAI_API_KEY: 'aai',
      FIREWORKS_API_KEY: 'fw',
      TOGETHER_API_KEY: 'tg',
      GOOGLE_STT_CREDENTIALS: JSON.stringify({ client_email: 'set-me@example.invalid', private_key: 'x' }),
    };
    for (const { Name } of container.Secrets as { Name: string }[]) env[Name] = secretValues[Name];
    const config = loadConfig(env);
    expect(config.STT_PROVIDERS).toEqual(stage.providers.stt);
    expect(config).toMatchObject({ STAGE: name, MAX_CALLS: stage.media.callsPerTask, REDIS_TLS: true, REDIS_PORT: 6380, TOOLS_AUTH: 'iam' });
    expect(config.redisUrl).toBe(`rediss://default:${'p'.repeat(64)}@master.voice-agent.cache.amazonaws.com:6380`);
  });

  it('drains calls: /healthz health check, deregistration delay from the stage, 4000 s ALB idle timeout', () => {
    s().serviceTemplate.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckPath: '/healthz',
      TargetType: 'ip',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: String(stage.media.deregistrationDelaySeconds) }]),
    });
    s().serviceTemplate.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'idle_timeout.timeout_seconds', Value: '4000' },
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
      ]),
    });
  });

  it('scales on average ActiveCalls per task toward the stage target', () => {
    s().serviceTemplate.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: stage.media.minTasks,
      MaxCapacity: stage.media.maxTasks,
    });
    s().serviceTemplate.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: {
        TargetValue: 35,
        CustomizedMetricSpecification: {
          MetricName: 'ActiveCalls',
          Namespace: 'VoiceAgent',
          Statistic: 'Average',
          Dimensions: [{ Name: 'Stage', Value: name }],
        },
      },
    });
  });

  it('alarms on p95 (never Average) for voice-to-voice and each tool, average cost, and missing ActiveCalls as breaching', () => {
    const alarms = resourcesOf(s().serviceTemplate, 'AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
    const v2v = alarms.filter((a) => a.MetricName === 'VoiceToVoice');
    expect(v2v).toHaveLength(1);
    expect(v2v[0]).toMatchObject({ ExtendedStatistic: 'p95', Threshold: stage.alarms.p95VoiceToVoiceMs, Dimensions: [{ Name: 'Stage', Value: name }] });
    expect(v2v[0].Statistic).toBeUndefined();
    const tools = alarms.filter((a) => a.MetricName === 'ToolRoundTrip');
    expect(tools).toHaveLength(toolsOnDisk.length);
    for (const a of tools) {
      expect(a).toMatchObject({ ExtendedStatistic: 'p95', Threshold: stage.alarms.p95ToolMs });
      expect(a.Statistic).toBeUndefined();
      expect(a.Dimensions.map((d: { Name: string }) => d.Name).sort()).toEqual(['Stage', 'Tool']);
    }
    expect(alarms.find((a) => a.MetricName === 'CostPerCall')).toMatchObject({ Statistic: 'Average', Threshold: stage.alarms.avgCostPerCallUsd });
    expect(alarms.find((a) => a.MetricName === 'ActiveCalls')).toMatchObject({ Statistic: 'SampleCount', TreatMissingData: 'breaching' });
    expect(JSON.stringify(alarms.find((a) => a.AlarmName === `voice-agent-${name}-ProviderErrors`))).toContain('SUM(ProviderErrors)');
    // Failover to a backup: one series summed over Provider and Seam (an alarm's Metrics Insights query must return one series).
    const failover = JSON.stringify(alarms.find((a) => a.AlarmName === `voice-agent-${name}-ProviderFailover`));
    expect(failover).toContain('SUM(ProviderFailover) FROM SCHEMA(\\"VoiceAgent\\", Provider, Seam, Stage)');
    expect(failover).not.toContain('GROUP BY');
    expect(alarms.find((a) => a.AlarmName === `voice-agent-${name}-ProviderFailover`)).toMatchObject({ Threshold: stage.alarms.providerFailoversPer5Min });
    for (const metricName of ['Errors', 'Throttles']) {
      expect(alarms.filter((a) => a.Namespace === 'AWS/Lambda' && a.MetricName === metricName)).toHaveLength(toolsOnDisk.length + 3);
    }
    expect(alarms.some((a) => a.Namespace === 'AWS/ApplicationELB' && a.MetricName === 'HTTPCode_ELB_5XX_Count')).toBe(true);
    // Every alarm notifies the one topic.
    const topicId = logicalId(s().service.observability.topic);
    for (const a of alarms) expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  it('encrypts the alarm topic with KMS and refuses non-TLS publishers', () => {
    const topic = propsOf(s().serviceTemplate, logicalId(s().service.observability.topic));
    expect(topic.KmsMasterKeyId).toBeDefined();
    s().serviceTemplate.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });
});

describe('listeners', () => {
  it('dev (no certificate) serves plain HTTP only and advertises an http:// PUBLIC_URL', () => {
    const listeners = resourcesOf(synthesized.dev.serviceTemplate, 'AWS::ElasticLoadBalancingV2::Listener').map(([, r]) => r.Properties);
    expect(listeners).toHaveLength(1);
    expect(listeners[0]).toMatchObject({ Port: 80, Protocol: 'HTTP' });
    expect(listeners[0].DefaultActions[0]).toMatchObject({ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } });
    expect(synthesized.dev.service.media.publicUrl.startsWith('http://')).toBe(true);
  });

  it('prod (certificate) serves HTTPS with the certificate and only redirects port 80', () => {
    const listeners = resourcesOf(synthesized.prod.serviceTemplate, 'AWS::ElasticLoadBalancingV2::Listener').map(([, r]) => r.Properties);
    const https = listeners.find((l) => l.Port === 443);
    expect(https).toMatchObject({ Protocol: 'HTTPS', Certificates: [{ CertificateArn: stages.prod.certificateArn }] });
    expect(https!.DefaultActions[0]).toMatchObject({ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } });
    const http = listeners.find((l) => l.Port === 80);
    expect(http!.DefaultActions).toEqual([
      { Type: 'redirect', RedirectConfig: { Port: '443', Protocol: 'HTTPS', StatusCode: 'HTTP_301' } },
    ]);
    expect(synthesized.prod.service.media.publicUrl).toBe(`https://${stages.prod.domainName}`);
  });
});

describe('packaging', () => {
  it('bundles every Lambda with esbuild as minified ESM with a source map, each tool within 500 KB', () => {
    const dir = synthesized.dev.app.outdir;
    // Each function's S3Key is `<asset hash>.zip`; the staged bundle sits in `asset.<hash>` of the assembly.
    // Our Node functions: the tools API's and the console's three (CDK's custom-resource handlers are not bundled by us).
    const ours = new Set([...synthesized.dev.service.toolsApi.functions, ...Object.values(synthesized.dev.service.operationsConsole.functions)].map((f) => logicalId(f)));
    const fnAssets = resourcesOf(synthesized.dev.serviceTemplate, 'AWS::Lambda::Function')
      .filter(([id]) => ours.has(id))
      .map(([, r]) => `asset.${String(r.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
    expect(fnAssets).toHaveLength(toolsOnDisk.length + 3 + 3);
    for (const asset of fnAssets) {
      expect(existsSync(path.join(dir, asset, 'index.mjs')), asset).toBe(true);
      expect(existsSync(path.join(dir, asset, 'index.mjs.map')), asset).toBe(true);
      const code = readFileSync(path.join(dir, asset, 'index.mjs'), 'utf8');
      // ESM with the require() shim banner, minified to a handful of lines, pointing at its map.
      expect(code.startsWith("import { createRequire as __cr } from 'node:module';"), asset).toBe(true);
      // Minified: a few very long lines (a tiny bundle like the authorizer may average short lines, so allow 20).
      expect(code.split('\n').length, asset).toBeLessThan(Math.max(20, code.length / 500));
      expect(code).toContain('//# sourceMappingURL=index.mjs.map');
      // The tools' size budget: ≤ 500 KB minified (the runtime's AWS SDK stays out, ioredis is the one Redis client).
      // The operator-only privacy function is invoked by hand, never inside a turn, so it is not held to it.
      const sources = readFileSync(path.join(dir, asset, 'index.mjs.map'), 'utf8');
      if (/lambdas\/(tools|vapi)\//.test(sources)) expect(Buffer.byteLength(code), asset).toBeLessThanOrEqual(500 * 1024);
    }
  });

  it('builds the media image from fargate/Dockerfile for linux/arm64', () => {
    const docker = resourcesOf(synthesized.dev.serviceTemplate, 'AWS::ECS::TaskDefinition')[0][1].Properties.ContainerDefinitions[0].Image;
    expect(JSON.stringify(docker)).toContain('container-assets');
  });
});
