// The console Lambdas (lambdas/console/handler.ts) as the local stand-in gateway runs them: their deps from a local environment, plus the connections table in dynalite.
import { CreateTableCommand, DescribeTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { consoleHandlers, openConsoleDeps, type ConsoleHandlers, type OpenedConsoleDeps } from '../lambdas/console/handler';

export type { ConsoleEventIn, ConsoleHandlers } from '../lambdas/console/handler';

/** The console connections table (pk `connectionId`); created in dynalite, the CDK stack owns it in AWS. */
export async function ensureConsoleTable(doc: DynamoDBDocumentClient, table: string): Promise<void> {
  try {
    await doc.send(new DescribeTableCommand({ TableName: table }));
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
    await doc.send(new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'connectionId', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }] }));
  }
}

export interface LocalConsoleOptions {
  table: string;
  dynamoEndpoint: string;
  redisUrl: string;
  /** Where acks are posted: the stand-in's management endpoint. */
  managementEndpoint: string;
  /** CONSOLE_TRANSCRIPT_READERS. @default '*' (the laptop's "local" principal reads transcripts, as in dev) */
  transcriptReaders?: string;
}

/** The real $connect/$disconnect/$default handlers over a local environment; `close` ends their clients. */
export function localConsoleHandlers(o: LocalConsoleOptions): ConsoleHandlers & { close(): Promise<void> } {
  let opened: Promise<OpenedConsoleDeps> | undefined;
  const deps = () =>
    (opened ??= openConsoleDeps(
      {
        CONSOLE_CONNECTIONS_TABLE: o.table, CONSOLE_TRANSCRIPT_READERS: o.transcriptReaders ?? '*', CONSOLE_MANAGEMENT_ENDPOINT: o.managementEndpoint,
        AWS_REGION: 'us-east-1', DYNAMODB_ENDPOINT: o.dynamoEndpoint, REDIS_URL: o.redisUrl, POWERTOOLS_LOG_LEVEL: 'ERROR',
      },
      { withRedis: true, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
    ));
  return { ...consoleHandlers(deps), close: async () => void (await (await opened?.catch(() => undefined))?.close()) };
}
