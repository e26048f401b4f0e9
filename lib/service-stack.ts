// The stateless stack: tools API (Lambda), media service (Fargate behind an ALB), observability.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StageConfig } from './config';
import { MediaService } from './constructs/media-service';
import { Observability } from './constructs/observability';
import { OperationsConsole } from './constructs/operations-console';
import { ToolsApi } from './constructs/tools-api';
import { BY_CALLER_INDEX } from './constructs/transcript-table';
import type { DataStack } from './data-stack';

/** The repository root: lambdas/ and fargate/ are bundled from here. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface ServiceStackProps extends StackProps {
  readonly stage: StageConfig;
  readonly data: DataStack;
  /** @default PROJECT_ROOT */
  readonly projectRoot?: string;
}

/** Nothing here holds data: the stack can be destroyed and redeployed at any time. */
export class ServiceStack extends Stack {
  readonly toolsApi: ToolsApi;
  readonly media: MediaService;
  readonly observability: Observability;
  readonly operationsConsole: OperationsConsole;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { stage, data } = props;
    const projectRoot = props.projectRoot ?? PROJECT_ROOT;
    // Log groups are the only state here; keep them in prod so an investigation survives a redeploy.
    const removalPolicy = stage.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const vpc = data.network.vpc;

    this.toolsApi = new ToolsApi(this, 'Tools', {
      stage,
      vpc,
      redis: { host: data.cache.host, port: data.cache.port, securityGroup: data.cache.securityGroup, authSecret: data.cache.authSecret },
      businessTable: data.tables.business,
      idempotencyTable: data.tables.idempotency,
      platformKey: data.platformKey,
      transcriptsTable: data.transcripts.table,
      transcriptsKey: data.transcripts.key,
      transcriptsByCallerIndex: BY_CALLER_INDEX,
      vapiSecret: data.secrets.vapi,
      callerHashKeySecret: data.secrets.callerHashKey,
      projectRoot,
      removalPolicy,
    });
    const api = this.toolsApi.api;
    const toolNames = [...this.toolsApi.tools.keys()];

    this.operationsConsole = new OperationsConsole(this, 'Console', {
      stage,
      vpc,
      redis: { host: data.cache.host, port: data.cache.port, securityGroup: data.cache.securityGroup, authSecret: data.cache.authSecret },
      key: data.platformKey,
      projectRoot,
      removalPolicy,
    });

    this.media = new MediaService(this, 'Media', {
      stage,
      vpc,
      secrets: {
        twilio: data.secrets.twilio,
        deepgram: data.secrets.deepgram,
        groq: data.secrets.groq,
        elevenlabs: data.secrets.elevenlabs,
        backups: data.secrets.backups,
        streamTokenKey: data.secrets.streamTokenKey,
        callerHashKey: data.secrets.callerHashKey,
        redisAuth: data.cache.authSecret,
      },
      redis: { host: data.cache.host, port: data.cache.port, securityGroup: data.cache.securityGroup },
      transcriptsTable: data.transcripts.table,
      transcriptsKey: data.transcripts.key,
      transcriptsByCallerIndex: BY_CALLER_INDEX,
      // The HTTP API's $default stage serves at the root; no trailing slash so `${TOOLS_URL}/tools/x` is clean.
      toolsUrl: `https://${api.apiId}.execute-api.${this.region}.${this.urlSuffix}`,
      toolRouteArns: toolNames.map((name) => api.arnForExecuteApi('POST', `/tools/${name}`, '$default')),
      logsKey: data.platformKey,
      secretsKey: data.platformKey,
      accessLogsBucket: data.accessLogs,
      console: this.operationsConsole,
      projectRoot,
      removalPolicy,
    });

    this.observability = new Observability(this, 'Observability', {
      stage,
      toolNames,
      functions: this.toolsApi.functions,
      loadBalancer: this.media.loadBalancer,
      targetGroup: this.media.targetGroup,
      topicKey: data.platformKey,
    });

    // What an operator needs after `cdk deploy`: where to point Twilio and DNS, and what to invoke.
    new CfnOutput(this, 'TwilioVoiceWebhook', { value: `${this.media.publicUrl}/twiml`, description: 'Set as the phone number\'s Voice webhook (HTTP POST)' });
    new CfnOutput(this, 'LoadBalancerDns', { value: this.media.loadBalancer.loadBalancerDnsName, description: 'CNAME/alias target for the domain name' });
    new CfnOutput(this, 'ToolsUrl', { value: `https://${api.apiId}.execute-api.${this.region}.${this.urlSuffix}` });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.observability.topic.topicArn });
    // npm run secrets rolls the service after filling secrets; npm run preflight checks provisioned concurrency.
    new CfnOutput(this, 'ClusterName', { value: this.media.cluster.clusterName });
    new CfnOutput(this, 'ServiceName', { value: this.media.service.serviceName });
    // npm run console -- --stage NAME presigns ConsoleWebSocketUrl and opens ConsolePageUrl with it.
    new CfnOutput(this, 'ConsoleWebSocketUrl', { value: this.operationsConsole.webSocketUrl, description: 'Operations console WebSocket API (IAM auth on $connect)' });
    new CfnOutput(this, 'ConsolePageUrl', { value: this.operationsConsole.pageUrl, description: 'Operations console page (npm run console -- --stage NAME opens it signed in)' });
    new CfnOutput(this, 'ConsoleConnectArn', { value: this.operationsConsole.connectArn, description: 'Allow execute-api:Invoke on this for the operators who may use the console' });
    if (this.toolsApi.privacy) {
      new CfnOutput(this, 'PrivacyFunctionName', { value: this.toolsApi.privacy.functionName, description: 'aws lambda invoke with {"action":"export"|"forget","phone":"+1..."}' });
    }
  }
}
