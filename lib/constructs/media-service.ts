// The media service: Fargate (arm64) behind an ALB, draining, autoscaling on active calls, least-privilege roles.
import { BACKUP_SECRETS, backupsWithSecrets, type BackupWithSecret } from '../../contracts/providers';
import * as path from 'node:path';
import { Duration, Fn, RemovalPolicy, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import type { StageConfig } from '../config';
import { M, metric } from './metric-names';
import { dynamoKmsStatement } from './tools-api';

/** Port the media service listens on (fargate/src/config.ts PORT default). */
export const CONTAINER_PORT = 8080;
/**
 * Fargate's maximum stopTimeout: the window after SIGTERM before SIGKILL ("For tasks using the Fargate launch type,
 * the max stop timeout value is 120 seconds", ContainerDefinition.StopTimeout,
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html). SIGTERM is when the
 * media service migrates its live calls to another task (issue 11); DRAIN_SECONDS stays 10 s inside it.
 */
export const STOP_TIMEOUT_SECONDS = 120;
/**
 * Prometheus metrics port (METRICS_PORT; the media service serves GET /metrics there, not on CONTAINER_PORT).
 * 9464 is the OpenTelemetry Prometheus exporter's default. Reachable from inside the VPC only; the ALB never
 * forwards it.
 */
export const METRICS_PORT = 9464;
/**
 * The only paths the ALB forwards (fargate/src/server.ts): the voice webhook, the `<Pay>` action and the Media
 * Streams upgrade. /healthz is read by the ALB health check directly from the target, so it needs no rule;
 * /ready and anything else answer 404 at the ALB.
 */
export const TWILIO_PATHS = ['/twiml', '/pay-result', '/media'] as const;
/** Webhook and upgrade requests one client IP may send per 5 minutes before WAF blocks it (see attachWaf). */
export function webhookRateLimit(stage: StageConfig): number {
  return Math.max(100, 4 * stage.media.maxTasks * stage.media.callsPerTask);
}
/**
 * ALB idle timeout, at the 4000 s maximum: above the longest call we allow. Media Streams sends a frame every
 * 20 ms, so a live call is never idle; this only bounds how long a silent, stuck socket can linger.
 */
export const ALB_IDLE_TIMEOUT_SECONDS = 4000;
/** Liveness only: /ready answers 503 when the task is full, which must not make the ALB kill a busy task. */
export const HEALTH_CHECK_PATH = '/healthz';

/** The provider and signing secrets the task receives as ECS secrets. */
export interface MediaSecrets {
  /** JSON `{ accountSid, authToken }`. */
  readonly twilio: secretsmanager.ISecret;
  readonly deepgram: secretsmanager.ISecret;
  readonly groq: secretsmanager.ISecret;
  readonly elevenlabs: secretsmanager.ISecret;
  readonly streamTokenKey: secretsmanager.ISecret;
  readonly callerHashKey: secretsmanager.ISecret;
  readonly redisAuth: secretsmanager.ISecret;
  /** The stage's backup providers' secrets (contracts/providers.ts BACKUP_SECRETS). */
  readonly backups?: Partial<Record<BackupWithSecret, secretsmanager.ISecret>>;
}

/** What the media service needs of the operations console: where to PostToConnection, whom, and the grants. */
export interface ConsolePublishing {
  readonly managementEndpoint: string;
  readonly connections: dynamodb.ITable;
  grantPublish(role: iam.Role): void;
}

export interface MediaServiceProps {
  readonly stage: StageConfig;
  readonly vpc: ec2.IVpc;
  readonly secrets: MediaSecrets;
  readonly redis: { readonly host: string; readonly port: number; readonly securityGroup: ec2.ISecurityGroup };
  readonly transcriptsTable: dynamodb.ITable;
  readonly transcriptsKey: kms.IKey;
  readonly transcriptsByCallerIndex: string;
  /** Base URL of the tools API, without a trailing slash. */
  readonly toolsUrl: string;
  /** execute-api ARNs of the `POST /tools/{name}` routes the task may call. */
  readonly toolRouteArns: readonly string[];
  /** Encrypts the log groups. */
  readonly logsKey: kms.IKey;
  /** Encrypts the secrets (the execution role decrypts through Secrets Manager). */
  readonly secretsKey: kms.IKey;
  readonly accessLogsBucket: s3.IBucket;
  /** The operations console the calls publish to (lib/constructs/operations-console.ts); none when absent. */
  readonly console?: ConsolePublishing;
  /** The repository root: the Docker build context (fargate/Dockerfile). */
  readonly projectRoot: string;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Stopping a task, in ECS's order: ECS deregisters the target; the ALB stops sending it new requests and, after
 * the deregistration delay (`stage.media.deregistrationDelaySeconds`, 30 s), closes what is still open; only
 * then does ECS send SIGTERM, and SIGKILL STOP_TIMEOUT_SECONDS later
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/load-balancer-connection-draining.html).
 * On SIGTERM the service migrates its live calls (issue 11). Scale-in never picks a task with live calls: the
 * service sets ECS task scale-in protection while it has any (fargate/src/task-protection.ts, through the agent
 * endpoint ECS_AGENT_URI that Fargate injects; the task role may call ecs:UpdateTaskProtection). Deployments
 * replace protected tasks too, but only after the protection expires (at most 48 h) or is cleared.
 */
export class MediaService extends Construct {
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly publicUrl: string;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: MediaServiceProps) {
    super(scope, id);
    const { stage, vpc } = props;
    const region = Stack.of(this).region;
    const secure = stage.certificateArn !== undefined && stage.domainName !== undefined;

    this.cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });

    // --- Load balancer -------------------------------------------------------------------------------------
    const albSg = new ec2.SecurityGroup(this, 'AlbSecurityGroup', { vpc, description: 'Media ALB: Twilio webhooks and Media Streams', allowAllOutbound: false });
    Validations.of(albSg).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'Twilio reaches the webhooks and Media Streams from addresses it does not publish as a fixed list; requests are authenticated by X-Twilio-Signature and an HMAC stream token instead.',
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: albSg,
      idleTimeout: Duration.seconds(ALB_IDLE_TIMEOUT_SECONDS),
      dropInvalidHeaderFields: true,
      // Prod: the ALB is what Twilio's numbers point at; a stray delete would silence every call.
      deletionProtection: stage.protectData,
    });
    this.loadBalancer.logAccessLogs(props.accessLogsBucket, `alb-${stage.name}`);
    this.attachWaf(stage, props);

    // --- Task ----------------------------------------------------------------------------------------------
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: props.logsKey,
      retention: stage.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    const taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Media service: invoke tool routes, write transcripts, protect itself from scale-in',
    });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: stage.media.cpu,
      memoryLimitMiB: stage.media.memoryMiB,
      runtimePlatform: { cpuArchitecture: ARCH[stage.cpuArchitecture].ecs, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      taskRole,
    });

    this.publicUrl = secure ? `https://${stage.domainName}` : `http://${this.loadBalancer.loadBalancerDnsName}`;
    // Re-import the secrets by ARN so ECS's automatic grant lands on the execution role only; granting through the
    // owned Secret would also edit the key in DataStack and make DataStack depend on this stack (a cycle).
    const byArn = (k: string, secret: secretsmanager.ISecret) => secretsmanager.Secret.fromSecretAttributes(this, `Secret-${k}`, { secretCompleteArn: secret.secretArn });
    const { backups, ...primaries } = props.secrets;
    const s = {
      ...Object.fromEntries(Object.entries(primaries).map(([k, secret]) => [k, byArn(k, secret)])),
      backups: Object.fromEntries(Object.entries(backups ?? {}).map(([k, secret]) => [k, byArn(`backup-${k}`, secret)])),
    } as unknown as MediaSecrets;
    const container = this.taskDefinition.addContainer('media', {
      image: ecs.ContainerImage.fromAsset(props.projectRoot, {
        file: path.join('fargate', 'Dockerfile'),
        platform: ARCH[stage.cpuArchitecture].docker,
      }),
      portMappings: [
        { containerPort: CONTAINER_PORT, name: 'http' },
        { containerPort: METRICS_PORT, name: 'metrics' },
      ],
      stopTimeout: Duration.seconds(STOP_TIMEOUT_SECONDS),
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'media',
        logGroup: this.logGroup,
        // Never let a slow log pipe stall the event loop that is relaying audio.
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
      // Names and meanings: fargate/src/config.ts (envSchema).
      environment: {
        STAGE: stage.name,
        PORT: String(CONTAINER_PORT),
        METRICS_PORT: String(METRICS_PORT),
        PUBLIC_URL: this.publicUrl,
        MAX_CALLS: String(stage.media.callsPerTask),
        DRAIN_SECONDS: String(STOP_TIMEOUT_SECONDS - 10),
        TRANSFER_NUMBER: stage.transferNumber,
        LLM_PROVIDER: 'groq',
        STT_PROVIDERS: stage.providers.stt.join(','),
        LLM_PROVIDERS: stage.providers.llm.join(','),
        TTS_PROVIDERS: stage.providers.tts.join(','),
        ...(stage.numberToAgent ? { NUMBER_TO_AGENT: JSON.stringify(stage.numberToAgent) } : {}),
        LLM_MODEL_SMALL: stage.llm.modelSmall,
        LLM_MODEL_LARGE: stage.llm.modelLarge,
        TOOLS_URL: props.toolsUrl,
        TOOLS_AUTH: 'iam',
        AWS_REGION: region,
        REDIS_HOST: props.redis.host,
        REDIS_PORT: String(props.redis.port),
        REDIS_TLS: 'true',
        TRANSCRIPTS_TABLE: props.transcriptsTable.tableName,
        TRANSCRIPT_RETENTION_DAYS: String(stage.transcriptRetentionDays),
        COST_CAP_USD: String(stage.costCapUsd),
        PRICES_JSON: JSON.stringify(stage.prices),
        ...(props.console
          ? { CONSOLE_MANAGEMENT_ENDPOINT: props.console.managementEndpoint, CONSOLE_CONNECTIONS_TABLE: props.console.connections.tableName }
          : {}),
      },
      secrets: {
        TWILIO_ACCOUNT_SID: ecs.Secret.fromSecretsManager(s.twilio, 'accountSid'),
        TWILIO_AUTH_TOKEN: ecs.Secret.fromSecretsManager(s.twilio, 'authToken'),
        DEEPGRAM_API_KEY: ecs.Secret.fromSecretsManager(s.deepgram),
        GROQ_API_KEY: ecs.Secret.fromSecretsManager(s.groq),
        ELEVENLABS_API_KEY: ecs.Secret.fromSecretsManager(s.elevenlabs),
        STREAM_TOKEN_KEY: ecs.Secret.fromSecretsManager(s.streamTokenKey),
        CALLER_HASH_KEY: ecs.Secret.fromSecretsManager(s.callerHashKey),
        REDIS_PASSWORD: ecs.Secret.fromSecretsManager(s.redisAuth),
        ...backupSecrets(stage, s),
      },
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'Only non-secret settings are plain environment variables (URLs, table names, limits, prices); every credential is injected from Secrets Manager as an ECS secret.',
    });

    // --- Service -------------------------------------------------------------------------------------------
    const taskSg = new ec2.SecurityGroup(this, 'TaskSecurityGroup', { vpc, description: 'Media tasks', allowAllOutbound: false });
    taskSg.connections.allowFrom(albSg, ec2.Port.tcp(CONTAINER_PORT), 'ALB to media service');
    // Prometheus scrapes from inside the VPC only; no listener or target group ever points at this port.
    taskSg.addIngressRule(ec2.Peer.ipv4(stage.vpcCidr), ec2.Port.tcp(METRICS_PORT), 'Prometheus scrape from inside the VPC');
    taskSg.connections.allowTo(props.redis.securityGroup, ec2.Port.tcp(props.redis.port), 'Redis (TLS)');
    // Twilio, Deepgram, Groq, ElevenLabs and the tools API are public HTTPS/WSS endpoints (through NAT).
    taskSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS/WSS to providers, tools API and AWS endpoints');

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      // No DesiredCount: "For existing services, if a desired count is not specified, it is omitted from the
      // operation" (AWS::ECS::Service DesiredCount), so a deploy keeps what autoscaling set instead of resetting
      // 20 tasks to the minimum. A new service starts at 1 and autoscaling raises it to minCapacity.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [taskSg],
      assignPublicIp: false,
      healthCheckGracePeriod: Duration.seconds(30),
      // Launch type FARGATE, never Spot: Spot gives a 2-minute warning, shorter than a call (numbers.md §3.5).
    });

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc,
      port: CONTAINER_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      targets: [this.service],
      deregistrationDelay: Duration.seconds(stage.media.deregistrationDelaySeconds),
      healthCheck: {
        path: HEALTH_CHECK_PATH,
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
        healthyHttpCodes: '200',
      },
    });

    if (secure) {
      const https = this.loadBalancer.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [elbv2.ListenerCertificate.fromArn(stage.certificateArn)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        defaultAction: NOT_FOUND,
      });
      this.forwardTwilioPaths(https);
      const redirect = this.loadBalancer.addRedirect({ sourcePort: 80, targetPort: 443 });
      Validations.of(redirect).acknowledge({
        id: 'PCI.DSS.321-ELBv2ACMCertificateRequired',
        reason: 'Port 80 only answers a permanent redirect to HTTPS on 443 and forwards nothing, so it carries no data to protect.',
      });
    } else {
      const http = this.loadBalancer.addListener('Http', {
        port: 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        defaultAction: NOT_FOUND,
      });
      this.forwardTwilioPaths(http);
      const noCert = `Stage ${stage.name} has no certificate configured: plain HTTP for the simulated caller only (Twilio requires wss://, so real calls need certificateArn).`;
      Validations.of(http).acknowledge({ id: 'PCI.DSS.321-ALBHttpToHttpsRedirection', reason: noCert });
      Validations.of(http).acknowledge({ id: 'PCI.DSS.321-ELBv2ACMCertificateRequired', reason: noCert });
    }

    // --- Scaling on calls, not CPU ---------------------------------------------------------------------------
    const scaling = this.service.autoScaleTaskCount({ minCapacity: stage.media.minTasks, maxCapacity: stage.media.maxTasks });
    scaling.scaleToTrackCustomMetric('ActiveCallsPerTask', {
      // Each task reports its own ActiveCalls (dimension Stage); the Average across reports is calls per task.
      metric: metric(M.ActiveCalls, stage.name, { statistic: cloudwatch.Stats.AVERAGE, period: Duration.minutes(1) }),
      targetValue: Math.round(stage.media.callsPerTask * stage.media.targetUtilization),
      scaleOutCooldown: Duration.seconds(60),
      // Scale in slowly: tasks with live calls are protected anyway, so this only paces the idle ones.
      scaleInCooldown: Duration.minutes(5),
    });

    // --- Least-privilege task role ---------------------------------------------------------------------------
    const t = props.transcriptsTable;
    taskRole.addToPolicy(new iam.PolicyStatement({ sid: 'InvokeTools', actions: ['execute-api:Invoke'], resources: [...props.toolRouteArns] }));
    taskRole.addToPolicy(
      new iam.PolicyStatement({ sid: 'WriteTranscripts', actions: ['dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem'], resources: [t.tableArn] }),
    );
    taskRole.addToPolicy(
      new iam.PolicyStatement({ sid: 'ReadCallerHistory', actions: ['dynamodb:Query'], resources: [`${t.tableArn}/index/${props.transcriptsByCallerIndex}`] }),
    );
    const kmsStatement = dynamoKmsStatement(props.transcriptsKey, region);
    kmsStatement.sid = 'TranscriptsKey';
    taskRole.addToPolicy(kmsStatement);
    props.console?.grantPublish(taskRole);
    const taskArns = this.cluster.arnForTasks('*');
    taskRole.addToPolicy(
      new iam.PolicyStatement({ sid: 'ScaleInProtection', actions: ['ecs:UpdateTaskProtection', 'ecs:GetTaskProtection'], resources: [taskArns] }),
    );
    Validations.of(taskRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${iamFindingResource(this.cluster)}]`,
      reason: "A task protects itself by its own task ARN, which exists only at run time; the wildcard is limited to this cluster's tasks.",
    });
    for (const role of [taskRole, this.taskDefinition.obtainExecutionRole()]) {
      Validations.of(role).acknowledge({
        id: 'PCI.DSS.321-IAMNoInlinePolicy',
        reason: 'The policy is attached to this one role only (never shared) and each statement names its resources.',
      });
    }
    // The re-imported secrets carry no key, so the execution role's Decrypt on the secrets' key is explicit.
    this.taskDefinition.obtainExecutionRole().addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DecryptOwnSecrets',
        actions: ['kms:Decrypt'],
        resources: [props.secretsKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
      }),
    );
    Validations.of(this.taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken, which the execution role needs to pull the image, supports only Resource "*".',
    });
  }

  /** Forwards only TWILIO_PATHS to the tasks; the listener's default action answers everything else 404. */
  private forwardTwilioPaths(listener: elbv2.ApplicationListener): void {
    listener.addAction('TwilioPaths', {
      priority: 10,
      conditions: [elbv2.ListenerCondition.pathPatterns([...TWILIO_PATHS])],
      action: elbv2.ListenerAction.forward([this.targetGroup]),
    });
  }

  /** AWS WAF in front of the ALB: IP reputation, known-bad inputs, a per-IP rate limit on Twilio's paths; logged. */
  private attachWaf(stage: StageConfig, props: MediaServiceProps): void {
    const rule = (name: string, priority: number) => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
      visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: name },
    });
    // Not the Common rule set: its body inspections misfire on Twilio's form-encoded webhooks; these two don't.
    const acl = new wafv2.CfnWebACL(this, 'Waf', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: `voice-agent-${stage.name}` },
      rules: [rule('AWSManagedRulesAmazonIpReputationList', 0), rule('AWSManagedRulesKnownBadInputsRuleSet', 1), webhookRateRule(stage, 2)],
    });
    new wafv2.CfnWebACLAssociation(this, 'WafAssociation', { resourceArn: this.loadBalancer.loadBalancerArn, webAclArn: acl.attrArn });
    // WAF only delivers to log groups whose name starts with aws-waf-logs-
    // (https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html). The name ends with this stack's
    // own id (the UUID in its stack ARN), so a group retained from a deleted stack never blocks a new one.
    const stackUuid = Fn.select(2, Fn.split('/', Stack.of(this).stackId));
    const wafLogs = new logs.LogGroup(this, 'WafLogs', {
      logGroupName: Fn.join('-', [`aws-waf-logs-voice-agent-${stage.name}`, stackUuid]),
      encryptionKey: props.logsKey,
      retention: stage.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    new wafv2.CfnLoggingConfiguration(this, 'WafLogging', { resourceArn: acl.attrArn, logDestinationConfigs: [wafLogs.logGroupArn] });
  }
}

/** Fargate platform and Docker build platform per stage architecture. */
const ARCH = {
  arm64: { ecs: ecs.CpuArchitecture.ARM64, docker: Platform.LINUX_ARM64 },
  x86_64: { ecs: ecs.CpuArchitecture.X86_64, docker: Platform.LINUX_AMD64 },
} as const;

/** Listener default: nothing but Twilio's paths reaches a task. */
const NOT_FOUND = elbv2.ListenerAction.fixedResponse(404, { contentType: 'text/plain', messageBody: 'Not Found' });

/**
 * Rate-based rule: a client IP sending more than webhookRateLimit() requests to the webhook or upgrade paths in
 * the 5-minute window is blocked until its rate falls below the limit again (WAF rate-based rule statement,
 * https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html). The limit is
 * four requests per call slot of the whole fleet (webhook, upgrade, <Pay> result, one retry), so Twilio's own
 * egress addresses, which carry many callers each, stay well under it while one attacker's address is capped.
 */
function webhookRateRule(stage: StageConfig, priority: number): wafv2.CfnWebACL.RuleProperty {
  const pathIs = (p: string) => ({
    byteMatchStatement: {
      fieldToMatch: { uriPath: {} },
      positionalConstraint: 'EXACTLY',
      searchString: p,
      textTransformations: [{ priority: 0, type: 'NONE' }],
    },
  });
  return {
    name: 'TwilioPathsRatePerIp',
    priority,
    action: { block: {} },
    statement: {
      rateBasedStatement: {
        limit: webhookRateLimit(stage),
        evaluationWindowSec: 300,
        aggregateKeyType: 'IP',
        scopeDownStatement: { orStatement: { statements: TWILIO_PATHS.map(pathIs) } },
      },
    },
    visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: 'TwilioPathsRatePerIp' },
  };
}

/** How cdk-nag renders the cluster's task ARN pattern in an IAM5 finding id. */
function iamFindingResource(cluster: ecs.Cluster): string {
  const stack = Stack.of(cluster);
  const clusterId = stack.getLogicalId(cluster.node.defaultChild as ecs.CfnCluster);
  // With @aws-cdk/core:enablePartitionLiterals (cdk.json) the partition is a literal, otherwise a reference.
  const partition = Token.isUnresolved(stack.partition) ? '<AWS::Partition>' : stack.partition;
  return `arn:${partition}:ecs:${stack.region}:${stack.account}:task/<${clusterId}>/*`;
}

/** ECS secrets for the stage's backup providers; a listed backup without its secret is a synth error, not a boot loop. */
function backupSecrets(stage: StageConfig, s: MediaSecrets): Record<string, ecs.Secret> {
  const out: Record<string, ecs.Secret> = {};
  for (const name of backupsWithSecrets(stage.providers)) {
    const secret = s.backups?.[name];
    if (!secret) throw new Error(`stage ${stage.name} lists ${name} but no ${BACKUP_SECRETS[name].secret} secret was passed to the media service`);
    out[BACKUP_SECRETS[name].env] = ecs.Secret.fromSecretsManager(secret);
  }
  return out;
}
