// The operations console in AWS: the IAM-authorized WebSocket API with its Lambdas and connections table, and the static page on S3 behind CloudFront.
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import type { StageConfig } from '../config';
import { acknowledgeLambdaBaseline, dynamoKmsStatement, LAMBDA_BUNDLING, type RedisEndpoint } from './tools-api';

export interface OperationsConsoleProps {
  readonly stage: StageConfig;
  readonly vpc: ec2.IVpc;
  readonly redis: RedisEndpoint;
  /** Encrypts the connections table and the log groups. */
  readonly key: kms.IKey;
  /** The repository root: lambdas/console/handler.ts and the page folder console/. */
  readonly projectRoot: string;
  /** For the log groups (the connections rows expire within 2 h and are always destroyed with the stack). */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * `wss://…/{stage}`: `$connect` is IAM-authorized (the operator's own SigV4-presigned URL, `npm run console`);
 * `$disconnect` and `$default` carry no authorizer because API Gateway authorizes a WebSocket connection once, at
 * `$connect`, and routes later messages only on connections that passed it
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-control-access.html);
 * the `$default` Lambda re-checks the connection row before acting.
 *
 * Network: the `$default` Lambda runs in the `app` subnets (NAT): it needs Redis and the `@connections` management
 * endpoint, and WebSocket APIs are public (Regional) only, "must be accessed over the internet"
 * (https://docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/websocket-api.html).
 * An execute-api interface endpoint would not help: with private DNS it captures every execute-api host name in the
 * VPC, and calls to a public API through it are refused (ForbiddenException), which AWS support confirms for
 * PostToConnection (https://repost.aws/questions/QU8kLUOlpHTwiQ1_CUKt69Lw). `$connect`/`$disconnect` need only
 * DynamoDB and run in the isolated subnets (gateway endpoint).
 */
export class OperationsConsole extends Construct {
  readonly api: apigw.WebSocketApi;
  readonly apiStage: apigw.WebSocketStage;
  readonly connections: dynamodb.Table;
  readonly functions: { readonly connect: NodejsFunction; readonly disconnect: NodejsFunction; readonly action: NodejsFunction };
  readonly securityGroup: ec2.SecurityGroup;
  readonly pageBucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  /** `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`: where PostToConnection goes. */
  readonly managementEndpoint: string;
  /** `wss://{apiId}.execute-api.{region}.amazonaws.com/{stage}`. */
  readonly webSocketUrl: string;
  /** `https://{distribution}.cloudfront.net/`. */
  readonly pageUrl: string;
  /** The execute-api ARN of `$connect`: what an operator's policy must allow `execute-api:Invoke` on. */
  readonly connectArn: string;

  private readonly props: OperationsConsoleProps;

  constructor(scope: Construct, id: string, props: OperationsConsoleProps) {
    super(scope, id);
    this.props = props;
    const { stage, redis } = props;

    // Rows live at most 2 h (the WebSocket connection maximum) and are rebuilt by reconnecting: always destroyed.
    this.connections = new dynamodb.Table(this, 'Connections', {
      partitionKey: { name: 'connectionId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Console Lambdas: Redis, and HTTPS to DynamoDB, Secrets Manager and the @connections endpoint',
      allowAllOutbound: false,
    });
    this.securityGroup.connections.allowTo(redis.securityGroup, ec2.Port.tcp(redis.port), 'Redis (TLS)');
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: VPC endpoints, and the @connections endpoint through NAT');

    const isolated = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    const connect = this.fn('Connect', 'connect', isolated);
    const disconnect = this.fn('Disconnect', 'disconnect', isolated);
    const action = this.fn('Action', 'action', { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, {
      REDIS_HOST: redis.host,
      REDIS_PORT: String(redis.port),
      REDIS_TLS: 'true',
      REDIS_AUTH_SECRET_ARN: redis.authSecret.secretArn,
    });
    this.functions = { connect, disconnect, action };
    this.grantRedisSecret(action);
    const region = Stack.of(this).region;
    connect.addToRolePolicy(new iam.PolicyStatement({ sid: 'StoreConnection', actions: ['dynamodb:PutItem'], resources: [this.connections.tableArn] }));
    disconnect.addToRolePolicy(new iam.PolicyStatement({ sid: 'ForgetConnection', actions: ['dynamodb:DeleteItem'], resources: [this.connections.tableArn] }));
    action.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadConnection', actions: ['dynamodb:GetItem'], resources: [this.connections.tableArn] }));
    for (const f of [connect, disconnect, action]) f.addToRolePolicy(dynamoKmsStatement(props.key, region));

    this.api = new apigw.WebSocketApi(this, 'Api', {
      description: `Voice agent operations console (${stage.name})`,
      connectRouteOptions: { integration: new WebSocketLambdaIntegration('ConnectIntegration', connect), authorizer: new WebSocketIamAuthorizer() },
      disconnectRouteOptions: { integration: new WebSocketLambdaIntegration('DisconnectIntegration', disconnect) },
      defaultRouteOptions: { integration: new WebSocketLambdaIntegration('ActionIntegration', action) },
    });
    this.apiStage = this.stageWithAccessLogs();
    this.grantManageConnections(action.role!);
    this.managementEndpoint = this.apiStage.callbackUrl;
    this.webSocketUrl = this.apiStage.url;
    this.connectArn = Stack.of(this).formatArn({ service: 'execute-api', resource: this.api.apiId, resourceName: `${this.apiStage.stageName}/$connect` });
    action.addEnvironment('CONSOLE_MANAGEMENT_ENDPOINT', this.managementEndpoint);

    for (const route of ['$disconnect', '$default']) {
      const routeConstruct = this.api.node.findChild(`${route}-Route`);
      Validations.of(routeConstruct).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: `A WebSocket API authorizes a connection once, on $connect (IAM here); API Gateway delivers ${route} only for connections that passed it, and the Lambdas act only on a stored connection row.`,
      });
    }

    ({ bucket: this.pageBucket, distribution: this.distribution } = this.page());
    this.pageUrl = `https://${this.distribution.distributionDomainName}/`;
  }

  /**
   * Lets the media service publish to consoles: PostToConnection/DeleteConnection on this stage's @connections, and
   * reading (Scan for who is connected) and removing (after a 410 Gone) connection rows.
   */
  grantPublish(role: iam.Role): void {
    this.grantManageConnections(role);
    role.addToPolicy(
      new iam.PolicyStatement({ sid: 'ConsoleConnections', actions: ['dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:DeleteItem'], resources: [this.connections.tableArn] }),
    );
    const kmsStatement = dynamoKmsStatement(this.props.key, Stack.of(this).region);
    kmsStatement.sid = 'ConsoleConnectionsKey';
    role.addToPolicy(kmsStatement);
  }

  /**
   * execute-api:ManageConnections on this stage's @connections: "arn:aws:execute-api:region:account-id:api-id/stage-name/POST/@connections"
   * (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-control-access-iam.html), any
   * method (POST to send, DELETE to close) and connection id; the same ARN WebSocketStage.grantManagementApiAccess writes.
   */
  private grantManageConnections(role: iam.IRole): void {
    const stack = Stack.of(this);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PublishToConsoles',
        actions: ['execute-api:ManageConnections'],
        resources: [stack.formatArn({ service: 'execute-api', resource: this.api.apiId, resourceName: `${this.apiStage.stageName}/*/@connections/*` })],
      }),
    );
    const api = stack.getLogicalId(this.api.node.defaultChild as apigw.CfnApi);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${stack.partition === 'aws' ? 'aws' : '<AWS::Partition>'}:execute-api:${stack.region}:${stack.account}:<${api}>/${this.apiStage.stageName}/*/@connections/*]`,
      reason: "Connection ids exist only at run time; the wildcard is this one API stage's @connections (POST, GET, DELETE), as the API Gateway docs' ManageConnections ARN format has it.",
    });
  }

  /** One Node 22 arm64 function per route, exporting `handler` from lambdas/console/handler.ts. */
  private fn(id: string, handler: 'connect' | 'disconnect' | 'action', subnets: ec2.SubnetSelection, env: Record<string, string> = {}): NodejsFunction {
    const { stage, projectRoot } = this.props;
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      encryptionKey: this.props.key,
      retention: stage.logRetentionDays as logs.RetentionDays,
      removalPolicy: this.props.removalPolicy,
    });
    const fn = new NodejsFunction(this, id, {
      entry: path.join(projectRoot, 'lambdas', 'console', 'handler.ts'),
      handler,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      vpc: this.props.vpc,
      vpcSubnets: subnets,
      securityGroups: [this.securityGroup],
      logGroup,
      projectRoot,
      depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
      environment: {
        STAGE: stage.name,
        CONSOLE_CONNECTIONS_TABLE: this.connections.tableName,
        CONSOLE_TRANSCRIPT_READERS: stage.console.transcriptReaders.join(','),
        POWERTOOLS_SERVICE_NAME: `console-${handler}`,
        NODE_OPTIONS: '--enable-source-maps',
        ...env,
      },
      bundling: LAMBDA_BUNDLING,
    });
    acknowledgeLambdaBaseline(fn);
    return fn;
  }

  private grantRedisSecret(fn: NodejsFunction): void {
    const region = Stack.of(this).region;
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.props.redis.authSecret.secretArn] }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [this.props.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
      }),
    );
  }

  /**
   * The stage, logging each connect, message and disconnect as JSON. WebSocket stages write access logs through the
   * account's API Gateway CloudWatch role ("CloudWatch Logs role ARN must be set in account settings to enable
   * logging" otherwise; https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html), so the
   * stack sets it (AWS::ApiGateway::Account, one setting per account and region; the role is retained so deleting
   * one stage never breaks another's logging).
   */
  private stageWithAccessLogs(): apigw.WebSocketStage {
    const { stage } = this.props;
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      encryptionKey: this.props.key,
      retention: stage.logRetentionDays as logs.RetentionDays,
      removalPolicy: this.props.removalPolicy,
    });
    const pushRole = new iam.Role(this, 'ApiGatewayLogsRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    pushRole.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Validations.of(pushRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason: 'The AWS-managed policy API Gateway documents for its account-level logging role; it holds CloudWatch Logs actions only.',
    });
    const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: pushRole.roleArn });
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);

    // WebSocket $context variables: https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html
    const format = AccessLogFormat.custom(
      JSON.stringify({
        requestId: '$context.requestId',
        time: '$context.requestTimeEpoch',
        eventType: '$context.eventType',
        routeKey: '$context.routeKey',
        connectionId: '$context.connectionId',
        status: '$context.status',
        principal: '$context.identity.userArn',
        sourceIp: '$context.identity.sourceIp',
        authError: '$context.authorize.error',
        integrationStatus: '$context.integration.status',
        integrationLatencyMs: '$context.integration.latency',
        error: '$context.error.message',
      }),
    );
    const apiStage = new apigw.WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: stage.name,
      autoDeploy: true,
      // A handful of operators: a low cap keeps a looping script from flooding Redis or the Lambdas.
      throttle: { rateLimit: 20, burstLimit: 40 },
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(accessLogs), format },
    });
    apiStage.node.addDependency(account);
    return apiStage;
  }

  /** The page folder `console/` on a private bucket, served only through CloudFront with Origin Access Control. */
  private page(): { bucket: s3.Bucket; distribution: cloudfront.Distribution } {
    const { projectRoot } = this.props;
    // The page is rebuilt from the repository by every deploy: nothing here to retain.
    const logs = new s3.Bucket(this, 'PageLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      // CloudFront standard logging writes with an ACL: "the bucket must have ACLs enabled"
      // (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/AccessLogs.html).
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: Duration.days(Math.max(this.props.stage.logRetentionDays, 30)), noncurrentVersionExpiration: Duration.days(7) }],
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    const bucket = new s3.Bucket(this, 'Page', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'page-bucket/',
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    const distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `Voice agent operations console (${this.props.stage.name})`,
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
      },
      enableLogging: true,
      logBucket: logs,
      logFilePrefix: 'cloudfront/',
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
    });
    const deployment = new s3deploy.BucketDeployment(this, 'Deploy', {
      sources: [s3deploy.Source.asset(path.join(projectRoot, 'console'), { exclude: ['.gitkeep'] })],
      destinationBucket: bucket,
      distribution,
      distributionPaths: ['/*'],
      // In the VPC like every function here; the app subnets reach S3 (gateway endpoint) and CloudFront (NAT).
      vpc: this.props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    });
    this.acknowledgeDeployment(deployment, bucket);
    this.acknowledgePage(bucket, logs, distribution);
    return { bucket, distribution };
  }

  /** The findings of aws-cdk-lib's own BucketDeployment function (a deploy-time custom resource, one per stack). */
  private acknowledgeDeployment(deployment: s3deploy.BucketDeployment, bucket: s3.Bucket): void {
    const stack = Stack.of(this);
    const handler = stack.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    const cdkOwned = "Granted by aws-cdk-lib's BucketDeployment as it is written (not configurable): it copies this stack's page asset from the CDK asset bucket into the page bucket and invalidates the distribution, only during a deploy.";
    const role = deployment.handlerRole;
    for (const id of ['Action::s3:GetBucket*', 'Action::s3:GetObject*', 'Action::s3:List*', 'Action::s3:Abort*', 'Action::s3:DeleteObject*']) {
      Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${id}]`, reason: cdkOwned });
    }
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::arn:aws:s3:::cdk-hnb659fds-assets-${stack.account}-${stack.region}/*]`, reason: cdkOwned });
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*]`, reason: cdkOwned });
    Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: `${cdkOwned} CloudFront invalidation is granted on "*" by that construct.` });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'AWS-managed policy granting only CloudWatch Logs writes, the standard Lambda baseline.',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      reason: 'AWS-managed policy for the ENI lifecycle a VPC Lambda needs (ec2:CreateNetworkInterface etc. require Resource "*").',
    });
    Validations.of(role).acknowledge({ id: 'PCI.DSS.321-IAMNoInlinePolicy', reason: `${cdkOwned} The policy is attached to that function's own role only.` });
    if (handler) Validations.of(handler).acknowledge({ id: 'AwsSolutions-L1', reason: "The runtime is pinned by aws-cdk-lib's BucketDeployment (its bundled AWS CLI layer); it runs only during deploys and moves with aws-cdk-lib upgrades." });
  }

  private acknowledgePage(bucket: s3.Bucket, logsBucket: s3.Bucket, distribution: cloudfront.Distribution): void {
    const pageOnly = 'The bucket holds only the static console page from the repository (no call data); every deploy rewrites it from git, which is its history and its copy.';
    const onBucket = {
      'PCI.DSS.321-S3DefaultEncryptionKMS': 'SSE-S3 encrypts the static page at rest; it holds no call data, and CloudFront OAC reads it without a KMS key grant.',
      'PCI.DSS.321-S3BucketVersioningEnabled': pageOnly,
      'PCI.DSS.321-S3BucketReplicationEnabled': pageOnly,
    };
    for (const [id, reason] of Object.entries(onBucket)) Validations.of(bucket).acknowledge({ id, reason });
    const onLogs = {
      'AwsSolutions-S1': 'This bucket is the access-log destination itself; logging it into another bucket only moves the problem.',
      'PCI.DSS.321-S3BucketLoggingEnabled': 'This bucket is the access-log destination itself; logging it into another bucket only moves the problem.',
      'PCI.DSS.321-S3DefaultEncryptionKMS': 'CloudFront standard logs are delivered to SSE-S3 buckets; SSE-KMS would need a key policy for the log delivery service.',
      'PCI.DSS.321-S3BucketReplicationEnabled': 'Access logs are operational records with a lifecycle expiry; cross-region replication is not warranted.',
    };
    for (const [id, reason] of Object.entries(onLogs)) Validations.of(logsBucket).acknowledge({ id, reason });
    Validations.of(distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'Operators work from wherever they are; the page holds no data, and everything it shows needs an IAM-signed WebSocket connection.',
    });
    Validations.of(distribution).acknowledge({
      id: 'AwsSolutions-CFR2',
      reason: 'A static page with no data or forms; the only way in to call data is the WebSocket API, which requires SigV4 on $connect.',
    });
    // "If the distribution uses the CloudFront domain name ... CloudFront automatically sets the security policy to
    // TLSv1 regardless of the value that you set here" (ViewerCertificate.MinimumProtocolVersion, CloudFront API reference).
    Validations.of(distribution).acknowledge({
      id: 'AwsSolutions-CFR4',
      reason: 'No custom domain: the default *.cloudfront.net certificate, for which CloudFront fixes the security policy itself (TLSv1), so no minimum can be set.',
    });
  }
}
