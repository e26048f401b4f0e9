// The stateful stack: network, tables, Redis, secrets, keys and the ALB log bucket. Termination-protected in prod.
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { BACKUP_SECRETS, backupsWithSecrets, type BackupWithSecret } from '../contracts/providers';
import type { StageConfig } from './config';
import { AppSecrets } from './constructs/app-secrets';
import { BusinessTables } from './constructs/business-tables';
import { Network } from './constructs/network';
import { ToolCache } from './constructs/tool-cache';
import { TranscriptTable } from './constructs/transcript-table';

export interface DataStackProps extends StackProps {
  readonly stage: StageConfig;
}

/** Everything whose loss loses data. ServiceStack reads these members; it never owns state. */
export class DataStack extends Stack {
  readonly network: Network;
  readonly transcripts: TranscriptTable;
  readonly tables: BusinessTables;
  readonly cache: ToolCache;
  readonly secrets: AppSecrets;
  /** Encrypts secrets, Redis at rest, the business tables, every log group and the alarm topic. */
  readonly platformKey: kms.Key;
  /** ALB access logs (ALB writes with SSE-S3 only). */
  readonly accessLogs: s3.Bucket;

  /** The stage's explicit AZs: without this override a Vpc in an env-specific stack asks AWS for them at synth. */
  override get availabilityZones(): string[] {
    return this.stageAzs;
  }

  private readonly stageAzs: string[];

  constructor(scope: Construct, id: string, props: DataStackProps) {
    const { stage } = props;
    super(scope, id, { ...props, terminationProtection: stage.protectData });
    this.stageAzs = [...stage.availabilityZones];
    const removalPolicy = stage.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.platformKey = new kms.Key(this, 'PlatformKey', {
      description: 'Voice agent: secrets, Redis at rest, business tables, logs, alarm topic',
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      removalPolicy,
    });
    // CloudWatch Logs encrypts log groups with the key only if the key policy names the regional logs service.
    this.platformKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`)],
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${this.partition}:logs:${this.region}:${this.account}:log-group:*` } },
      }),
    );
    // CloudWatch alarms publish to the KMS-encrypted SNS topic; the key policy must let CloudWatch use the key.
    this.platformKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    this.network = new Network(this, 'Network', {
      cidr: stage.vpcCidr,
      availabilityZones: stage.availabilityZones,
      natGateways: stage.natGateways,
      logsKey: this.platformKey,
      logRetentionDays: stage.logRetentionDays,
      removalPolicy,
    });
    this.transcripts = new TranscriptTable(this, 'Transcripts', { removalPolicy, deletionProtection: stage.protectData });
    this.tables = new BusinessTables(this, 'Tables', { key: this.platformKey, removalPolicy, deletionProtection: stage.protectData });
    this.cache = new ToolCache(this, 'Cache', {
      vpc: this.network.vpc,
      availabilityZones: stage.availabilityZones,
      nodeType: stage.redisNodeType,
      snapshotRetentionDays: stage.redisSnapshotRetentionDays,
      key: this.platformKey,
      removalPolicy,
    });
    this.secrets = new AppSecrets(this, 'Secrets', { key: this.platformKey, removalPolicy, backups: backupsWithSecrets(stage.providers) });

    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(Math.max(stage.logRetentionDays, 30)), noncurrentVersionExpiration: Duration.days(7) }],
      removalPolicy,
      // Versioned, so a plain DESTROY fails on a non-empty bucket: where data is not protected (dev, staging),
      // empty it (every version) on stack deletion so `cdk destroy` completes.
      autoDeleteObjects: !stage.protectData,
    });
    // Provider secrets start as random placeholders: these are the ones to fill in after the first deploy.
    const toFill: Record<string, secretsmanager.ISecret> = { Twilio: this.secrets.twilio, Deepgram: this.secrets.deepgram, Groq: this.secrets.groq, ElevenLabs: this.secrets.elevenlabs, Vapi: this.secrets.vapi };
    for (const [name, secret] of Object.entries(this.secrets.backups)) toFill[BACKUP_SECRETS[name as BackupWithSecret].secret] = secret;
    for (const [name, secret] of Object.entries(toFill)) {
      new CfnOutput(this, `${name}SecretArn`, { value: secret.secretArn, description: `Put the ${name} value here (aws secretsmanager put-secret-value)` });
    }

    // What the operator tools (npm run seed / preflight / drill / secrets -- --stage NAME) read by name.
    const named = {
      BusinessTableName: [this.tables.business.tableName, 'Business data table (npm run seed -- --stage NAME writes here)'],
      IdempotencyTableName: [this.tables.idempotency.tableName, 'Powertools idempotency records'],
      TranscriptsTableName: [this.transcripts.table.tableName, 'Call transcripts'],
      RedisReplicationGroupId: [this.cache.replicationGroup.ref, 'ElastiCache replication group (npm run preflight / drill)'],
    } as const;
    for (const [id, [value, description]] of Object.entries(named)) new CfnOutput(this, id, { value, description });

    const why = {
      'AwsSolutions-S1': 'This bucket is the access-log destination itself; logging it into another bucket only moves the problem.',
      'PCI.DSS.321-S3BucketLoggingEnabled': 'This bucket is the access-log destination itself; logging it into another bucket only moves the problem.',
      'PCI.DSS.321-S3DefaultEncryptionKMS': 'ALB access logs can only be delivered to buckets encrypted with SSE-S3 (Elastic Load Balancing access-log requirements).',
      'PCI.DSS.321-S3BucketReplicationEnabled': 'Access logs are operational records with a lifecycle expiry; cross-region replication is not warranted.',
    };
    for (const [ruleId, reason] of Object.entries(why)) Validations.of(this.accessLogs).acknowledge({ id: ruleId, reason });
  }
}
