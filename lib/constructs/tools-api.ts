// The tools API: HTTP API → one Lambda per lambdas/tools/* directory, the Vapi endpoint, and the privacy Lambda.
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE } from '../../fargate/src/observability/metric-names';
import { provisionedConcurrencyFor, type StageConfig } from '../config';

/** The bundle every Lambda of the stack is built as (tools and console handlers). */
export const LAMBDA_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  // The Node 22 runtime ships AWS SDK v3: leaving it out keeps each bundle small (the
  // `npm run bench:tools` figures are for exactly this bundle shape).
  externalModules: ['@aws-sdk/*'],
  // Some CommonJS dependencies call require(); give the ESM bundle one.
  banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
};

/** A tool found on disk: `lambdas/tools/<dir>/handler.ts`, routed as `POST /tools/<name>`. */
export interface DiscoveredTool {
  /** kebab-case directory name. */
  readonly dir: string;
  /** snake_case tool name the LLM calls (the directory name with `-` → `_`). */
  readonly name: string;
  readonly entry: string;
}

/** Lists the tool directories under `toolsRoot` that contain a handler.ts, sorted by name. */
export function discoverTools(toolsRoot: string): DiscoveredTool[] {
  if (!existsSync(toolsRoot)) return [];
  return readdirSync(toolsRoot, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(toolsRoot, d.name, 'handler.ts')))
    .map((d) => ({ dir: d.name, name: d.name.replaceAll('-', '_'), entry: path.join(toolsRoot, d.name, 'handler.ts') }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Redis as the Lambdas see it. */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly authSecret: secretsmanager.ISecret;
}

export interface ToolsApiProps {
  readonly stage: StageConfig;
  readonly vpc: ec2.IVpc;
  readonly redis: RedisEndpoint;
  readonly businessTable: dynamodb.ITable;
  readonly idempotencyTable: dynamodb.ITable;
  /** Encrypts the business and idempotency tables, the secrets and the log groups. */
  readonly platformKey: kms.IKey;
  readonly transcriptsTable: dynamodb.ITable;
  readonly transcriptsKey: kms.IKey;
  readonly transcriptsByCallerIndex: string;
  readonly vapiSecret: secretsmanager.ISecret;
  readonly callerHashKeySecret: secretsmanager.ISecret;
  /** The repository root (holds package-lock.json and lambdas/). */
  readonly projectRoot: string;
  readonly removalPolicy: RemovalPolicy;
}

/** A Lambda and its `live` alias (the alias carries provisioned concurrency and is what gets invoked). */
export interface AliasedFunction {
  readonly fn: NodejsFunction;
  readonly alias: lambda.Alias;
}

/**
 * HTTP API routes: `POST /tools/{name}` per tool (IAM auth: the media service signs with SigV4) and
 * `POST /vapi/tool-calls` (Lambda authorizer checking `x-vapi-secret`). No route is anonymous.
 * Every Lambda: Node 22 on arm64 (~20% cheaper per GB-s, numbers.md §2.1), esbuild-minified ESM with source maps,
 * in the isolated subnets next to Redis. Those subnets have no NAT route, so the 443 egress reaches only the
 * DynamoDB/S3 gateway endpoints and the Secrets Manager interface endpoint.
 */
export class ToolsApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly stageUrl: string;
  readonly tools: ReadonlyMap<string, AliasedFunction>;
  readonly vapi?: AliasedFunction;
  readonly vapiAuthorizer?: NodejsFunction;
  readonly privacy?: NodejsFunction;
  readonly securityGroup: ec2.SecurityGroup;
  /** Every function of this construct, for alarms. */
  readonly functions: NodejsFunction[] = [];

  private readonly props: ToolsApiProps;

  constructor(scope: Construct, id: string, props: ToolsApiProps) {
    super(scope, id);
    this.props = props;
    const { stage, redis } = props;
    const lambdasRoot = path.join(props.projectRoot, 'lambdas');

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Tool Lambdas: Redis, plus HTTPS to the DynamoDB gateway and Secrets Manager endpoints',
      allowAllOutbound: false,
    });
    this.securityGroup.connections.allowTo(redis.securityGroup, ec2.Port.tcp(redis.port), 'Redis (TLS)');
    // In the isolated subnets 0.0.0.0/0 has no route except through the VPC endpoints (no NAT, no IGW).
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to VPC endpoints (DynamoDB gateway, Secrets Manager)');

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      encryptionKey: props.platformKey,
      retention: stage.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.api = new apigw.HttpApi(this, 'Api', {
      description: `Voice agent tools (${stage.name})`,
      createDefaultStage: false,
    });
    const apiStage = this.api.addStage('Stage', {
      stageName: '$default',
      autoDeploy: true,
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(accessLogs) },
      // A runaway tool loop in one call must not starve the others: cap the whole API.
      throttle: { rateLimit: 200, burstLimit: 400 },
    });
    this.stageUrl = apiStage.url;

    const toolEnv = {
      BUSINESS_TABLE: props.businessTable.tableName,
      IDEMPOTENCY_TABLE: props.idempotencyTable.tableName,
    };

    const tools = new Map<string, AliasedFunction>();
    const iamAuth = new HttpIamAuthorizer();
    for (const tool of discoverTools(path.join(lambdasRoot, 'tools'))) {
      const aliased = this.aliasedFunction(`Tool-${tool.dir}`, tool.entry, tool.name, `tool-${tool.dir}`, toolEnv);
      this.grantBusinessData(aliased.fn);
      this.api.addRoutes({
        path: `/tools/${tool.name}`,
        methods: [apigw.HttpMethod.POST],
        integration: new HttpLambdaIntegration(`Tool-${tool.dir}-Integration`, aliased.alias),
        authorizer: iamAuth,
      });
      tools.set(tool.name, aliased);
    }
    this.tools = tools;

    const vapiHandler = path.join(lambdasRoot, 'vapi', 'handler.ts');
    const vapiAuthorizer = path.join(lambdasRoot, 'vapi', 'authorizer.ts');
    if (existsSync(vapiHandler) && existsSync(vapiAuthorizer)) {
      this.vapi = this.aliasedFunction('Vapi', vapiHandler, 'vapi', 'vapi', toolEnv);
      this.grantBusinessData(this.vapi.fn);
      this.vapiAuthorizer = this.plainFunction('VapiAuthorizer', vapiAuthorizer, 'vapi-authorizer', {
        VAPI_SECRET_ARN: props.vapiSecret.secretArn,
      });
      this.grantSecretRead(this.vapiAuthorizer, props.vapiSecret);
      this.api.addRoutes({
        path: '/vapi/tool-calls',
        methods: [apigw.HttpMethod.POST],
        integration: new HttpLambdaIntegration('VapiIntegration', this.vapi.alias),
        authorizer: new HttpLambdaAuthorizer('VapiSecret', this.vapiAuthorizer, {
          responseTypes: [HttpLambdaResponseType.SIMPLE],
          // Vapi sends either `x-vapi-secret` or `Authorization: Bearer` (lambdas/vapi/authorizer.ts). With an
          // identity source, "if any specified identity source is missing, null, or empty, API Gateway returns a
          // 401 Unauthorized response without calling your authorizer", so one header as the source would refuse
          // the other form. No identity source means no authorizer caching, which API Gateway requires then
          // (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html).
          identitySource: [],
          resultsCacheTtl: Duration.seconds(0),
        }),
      });
    }

    const privacyHandler = path.join(lambdasRoot, 'privacy', 'handler.ts');
    if (existsSync(privacyHandler)) {
      // Operators invoke it directly (`aws lambda invoke`); it has no route, so nothing public reaches it.
      this.privacy = this.plainFunction('Privacy', privacyHandler, 'privacy', {
        TRANSCRIPTS_TABLE: props.transcriptsTable.tableName,
        CALLER_HASH_KEY_SECRET_ARN: props.callerHashKeySecret.secretArn,
      });
      this.grantSecretRead(this.privacy, props.callerHashKeySecret);
      const { transcriptsTable: t } = props;
      this.privacy.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'FindCallsOfCaller',
          actions: ['dynamodb:Query'],
          resources: [t.tableArn, `${t.tableArn}/index/${props.transcriptsByCallerIndex}`],
        }),
      );
      this.privacy.addToRolePolicy(
        new iam.PolicyStatement({ sid: 'ForgetCalls', actions: ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem'], resources: [t.tableArn] }),
      );
      this.privacy.addToRolePolicy(dynamoKmsStatement(props.transcriptsKey, Stack.of(this).region));
    }
  }

  /** Node 22 arm64 function in the VPC with its own encrypted log group and the common environment. */
  private plainFunction(id: string, entry: string, serviceName: string, env: Record<string, string>): NodejsFunction {
    const { stage, redis } = this.props;
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      encryptionKey: this.props.platformKey,
      retention: stage.logRetentionDays as logs.RetentionDays,
      removalPolicy: this.props.removalPolicy,
    });
    const fn = new NodejsFunction(this, id, {
      entry,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      // CPU scales with memory; 1 GB keeps init and JSON work short (p95 goal < 150 ms warm, numbers.md §4).
      memorySize: 1024,
      timeout: Duration.seconds(10),
      vpc: this.props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [this.securityGroup],
      logGroup,
      projectRoot: this.props.projectRoot,
      depsLockFilePath: path.join(this.props.projectRoot, 'package-lock.json'),
      environment: {
        STAGE: stage.name,
        REDIS_HOST: redis.host,
        REDIS_PORT: String(redis.port),
        REDIS_TLS: 'true',
        REDIS_AUTH_SECRET_ARN: redis.authSecret.secretArn,
        POWERTOOLS_SERVICE_NAME: serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        ...env,
      },
      bundling: LAMBDA_BUNDLING,
    });
    this.grantSecretRead(fn, redis.authSecret);
    acknowledgeLambdaBaseline(fn);
    this.functions.push(fn);
    return fn;
  }

  private aliasedFunction(id: string, entry: string, pcName: string, serviceName: string, env: Record<string, string>): AliasedFunction {
    const fn = this.plainFunction(id, entry, serviceName, env);
    const pc = provisionedConcurrencyFor(this.props.stage, pcName);
    const alias = new lambda.Alias(this, `${id}Live`, {
      aliasName: 'live',
      version: fn.currentVersion,
      provisionedConcurrentExecutions: pc > 0 ? pc : undefined,
    });
    return { fn, alias };
  }

  /** Tools read/write business data and their idempotency records; nothing else in DynamoDB. */
  private grantBusinessData(fn: NodejsFunction): void {
    const { businessTable: b, idempotencyTable: i, platformKey } = this.props;
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'BusinessData',
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'],
        resources: [b.tableArn, `${b.tableArn}/index/gsi1`],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'IdempotencyRecords',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        resources: [i.tableArn],
      }),
    );
    fn.addToRolePolicy(dynamoKmsStatement(platformKey, Stack.of(this).region));
  }

  /** GetSecretValue on one secret, and Decrypt on its key only when Secrets Manager asks. */
  private grantSecretRead(fn: NodejsFunction, secret: secretsmanager.ISecret): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [this.props.platformKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}

/** KMS use of a table's customer-managed key, only through DynamoDB. */
export function dynamoKmsStatement(key: kms.IKey, region: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
    resources: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${region}.amazonaws.com` } },
  });
}

/** The cdk-nag findings every VPC Lambda of this stack shares, each with its reason. */
export function acknowledgeLambdaBaseline(fn: NodejsFunction): void {
  const v = Validations.of(fn);
  v.acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'Pinned to Node.js 22, the same major as the Fargate image (node:22-slim), so tools and media service share one runtime; move both together.',
  });
  v.acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason: 'AWS-managed policy granting only CloudWatch Logs writes, the standard Lambda baseline.',
  });
  v.acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
    reason: 'AWS-managed policy for the ENI lifecycle a VPC Lambda needs (ec2:CreateNetworkInterface etc. require Resource "*").',
  });
  v.acknowledge({
    id: 'PCI.DSS.321-IAMNoInlinePolicy',
    reason: "The function's permissions are a policy attached to its own execution role only (never shared), each statement scoped to named resources.",
  });
}
