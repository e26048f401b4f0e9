// The DynamoDB tables the tools use (CONTRACTS.md shapes), the clients for them, and "create if missing" for local stores.
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Where the tables are: names from env, endpoint set only for dynalite. */
export interface TableTarget {
  businessTable: string;
  idempotencyTable: string;
  endpoint?: string;
  region: string;
}

/**
 * A DynamoDB client for the tool tables. Locally (endpoint set) it uses static credentials, which dynalite
 * accepts. Time limits are short because a tool has ~1 s in total: a hung connection must fail, not wait
 * for the SDK's defaults (no request timeout).
 */
export function createDynamoClient(target: Pick<TableTarget, 'endpoint' | 'region'>): DynamoDBClient {
  return new DynamoDBClient({
    region: target.region,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 500, requestTimeout: 2_000 },
    ...(target.endpoint
      ? { endpoint: target.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
  });
}

/** Document client over `client`; `removeUndefinedValues` so optional fields can be passed as undefined. */
export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** business: pk/sk plus GSI gsi1 (gsi1pk/gsi1sk), as DataStack creates it. */
export function businessTableDefinition(name: string): CreateTableCommandInput {
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'gsi1pk', AttributeType: 'S' },
      { AttributeName: 'gsi1sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: 'gsi1',
        KeySchema: [
          { AttributeName: 'gsi1pk', KeyType: 'HASH' },
          { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

/** idempotency: PK `id`, the Powertools DynamoDBPersistenceLayer default (TTL attribute `expiration` is set by DataStack). */
export function idempotencyTableDefinition(name: string): CreateTableCommandInput {
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
  };
}

async function tableStatus(client: DynamoDBClient, name: string): Promise<string | undefined> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: name }));
    return out.Table?.TableStatus;
  } catch (err) {
    if (err instanceof ResourceNotFoundException || (err as Error).name === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

/** Creates the business and idempotency tables when missing and waits until both are ACTIVE (dynalite: ~createTableMs). */
export async function ensureTables(client: DynamoDBClient, target: TableTarget): Promise<void> {
  const defs = [businessTableDefinition(target.businessTable), idempotencyTableDefinition(target.idempotencyTable)];
  for (const def of defs) {
    if ((await tableStatus(client, def.TableName!)) === undefined) {
      try {
        await client.send(new CreateTableCommand(def));
      } catch (err) {
        // Another process created it between our describe and create: fine.
        if ((err as Error).name !== 'ResourceInUseException') throw err;
      }
    }
  }
  const deadline = Date.now() + 30_000;
  for (const def of defs) {
    while ((await tableStatus(client, def.TableName!)) !== 'ACTIVE') {
      if (Date.now() > deadline) throw new Error(`table ${def.TableName} did not become ACTIVE`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
