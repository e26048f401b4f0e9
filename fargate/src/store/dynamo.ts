// DynamoDB document client and the transcripts table shape (for dynalite locally; DataStack creates it in AWS).
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Options of {@link createDocumentClient}. */
export interface DocumentClientOptions {
  /** @default process.env.AWS_REGION ?? 'us-east-1' */
  region?: string;
  /** DYNAMODB_ENDPOINT, e.g. dynalite at http://127.0.0.1:4106. */
  endpoint?: string;
  /** SDK attempts per request (the transcript writer adds its own backoff on top). @default 2 */
  maxAttempts?: number;
  /** A request that has not answered after this long fails, so one hung connection cannot stall the writer. @default 3000 */
  requestTimeoutMs?: number;
}

/**
 * A document client with `removeUndefinedValues` (optional fields are simply absent). With an `endpoint` and no
 * AWS credentials in the environment it signs with static dummy credentials, which dynalite accepts.
 */
export function createDocumentClient(opts: DocumentClientOptions = {}): DynamoDBDocumentClient {
  const local = opts.endpoint && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE && !process.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  const client = new DynamoDBClient({
    region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1',
    endpoint: opts.endpoint,
    maxAttempts: opts.maxAttempts ?? 2,
    requestHandler: { requestTimeout: opts.requestTimeoutMs ?? 3000, connectionTimeout: 1000 },
    ...(local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** Name of the transcripts table's GSI: PK callerHash, SK startedAt (CONTRACTS.md). */
export const BY_CALLER_INDEX = 'byCaller';

/**
 * CreateTable input matching CONTRACTS.md: PK `callSid` (S), SK `turn` (N), GSI `byCaller` (callerHash S,
 * startedAt S). Only call records (turn 0) carry `startedAt`, so the index is sparse: one entry per call. KEYS_ONLY
 * is enough: privacy requests read the full items from the table.
 */
export function transcriptTableInput(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'callSid', AttributeType: 'S' },
      { AttributeName: 'turn', AttributeType: 'N' },
      { AttributeName: 'callerHash', AttributeType: 'S' },
      { AttributeName: 'startedAt', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'callSid', KeyType: 'HASH' },
      { AttributeName: 'turn', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: BY_CALLER_INDEX,
        KeySchema: [
          { AttributeName: 'callerHash', KeyType: 'HASH' },
          { AttributeName: 'startedAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  };
}

/** Creates the transcripts table if it is missing and waits until it is ACTIVE (local dev and tests). */
export async function ensureTranscriptTable(doc: DynamoDBDocumentClient, tableName: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  try {
    await doc.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
    await doc.send(new CreateTableCommand(transcriptTableInput(tableName)));
  }
  for (;;) {
    const { Table } = await doc.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} not ACTIVE after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
