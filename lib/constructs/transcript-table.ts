// The transcripts table: one item per turn plus the call record at turn 0, encrypted with its own rotating CMK.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** Index for privacy export/forget and cross-call memory: all calls of one caller hash, by start time. */
export const BY_CALLER_INDEX = 'byCaller';

export interface TranscriptTableProps {
  readonly removalPolicy: RemovalPolicy;
  /** Deletion protection on the table (prod). */
  readonly deletionProtection: boolean;
}

/**
 * PK `callSid` (S), SK `turn` (N), TTL `expiresAt` (epoch seconds, set by the writer from the retention days),
 * GSI `byCaller` (PK `callerHash` S, SK `startedAt` S), stream NEW_IMAGE, PITR, customer-managed key.
 * Transcripts are PII: a dedicated key lets the key policy (and CloudTrail) show exactly who reads them.
 */
export class TranscriptTable extends Construct {
  readonly table: dynamodb.Table;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: TranscriptTableProps) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts voice-agent call transcripts (PII)',
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      removalPolicy: props.removalPolicy,
    });
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'callSid', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'turn', type: dynamodb.AttributeType.NUMBER },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: BY_CALLER_INDEX,
      partitionKey: { name: 'callerHash', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'startedAt', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
