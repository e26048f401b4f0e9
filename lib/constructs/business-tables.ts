// The tools' tables: business demo data (single-table design) and the Powertools idempotency records.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface BusinessTablesProps {
  readonly key: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
}

/**
 * business: PK `pk` (S), SK `sk` (S), GSI `gsi1` (`gsi1pk` S, `gsi1sk` S) — seeded by `npm run seed`.
 * idempotency: PK `id` (S), TTL `expiration` — the Powertools DynamoDBPersistenceLayer defaults, so the
 * handlers need no attribute-name options.
 */
export class BusinessTables extends Construct {
  readonly business: dynamodb.Table;
  readonly idempotency: dynamodb.Table;

  constructor(scope: Construct, id: string, props: BusinessTablesProps) {
    super(scope, id);
    const common = {
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      removalPolicy: props.removalPolicy,
    } as const;
    this.business = new dynamodb.Table(this, 'Business', {
      ...common,
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      deletionProtection: props.deletionProtection,
    });
    this.business.addGlobalSecondaryIndex({
      indexName: 'gsi1',
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
    });
    // Idempotency records are short-lived (TTL) and rebuildable: no deletion protection needed.
    this.idempotency = new dynamodb.Table(this, 'Idempotency', {
      ...common,
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiration',
    });
  }
}
