// A minimal local implementation of the console Lambdas ($connect, $disconnect, $default) after contracts/console.ts, for the stand-in gateway until lambdas/console/handler.ts is merged.
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { CreateTableCommand, DescribeTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Redis } from 'ioredis';
import { operatorActionSchema, operatorChannel, type ConsoleConnection, type ConsoleEvent, type OperatorCommand } from '../contracts/console';

/** The subset of API Gateway's WebSocket Lambda proxy event the console handlers read. */
export interface WebSocketEvent {
  requestContext: {
    routeKey: string;
    eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT';
    connectionId: string;
    domainName: string;
    stage: string;
    apiId: string;
    requestId: string;
    requestTimeEpoch: number;
    connectedAt: number;
    messageId?: string;
    identity: { sourceIp: string; userAgent?: string; userArn?: string };
    disconnectStatusCode?: number;
    disconnectReason?: string;
  };
  headers?: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  body?: string;
  isBase64Encoded: boolean;
}

export interface WebSocketResult {
  statusCode: number;
  body?: string;
}

/** What the stand-in gateway invokes; lambdas/console/handler.ts exports the same three names. */
export interface ConsoleHandlers {
  connect(event: WebSocketEvent): Promise<WebSocketResult>;
  disconnect(event: WebSocketEvent): Promise<WebSocketResult>;
  action(event: WebSocketEvent): Promise<WebSocketResult>;
}

export interface LocalConsoleHandlerOptions {
  doc: DynamoDBDocumentClient;
  table: string;
  /** Publishes operator commands. */
  redis: Redis;
  /** Where acks are posted (the stand-in's management endpoint). */
  managementEndpoint: string;
  /** Whether consoles may read transcripts. @default true */
  transcripts?: boolean;
  /** Row TTL. @default 2 h (API Gateway's WebSocket connection limit) */
  ttlSeconds?: number;
  now?: () => number;
}

/** The console connections table (pk `connectionId`); created in dynalite, the CDK stack owns it in AWS. */
export async function ensureConsoleTable(doc: DynamoDBDocumentClient, table: string): Promise<void> {
  try {
    await doc.send(new DescribeTableCommand({ TableName: table }));
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
    await doc.send(new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'connectionId', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }] }));
  }
}

/** The local handlers: a row per connection, operator actions validated and published on the call's Redis channel, acks posted back. */
export function createLocalConsoleHandlers(o: LocalConsoleHandlerOptions): ConsoleHandlers & { close(): void } {
  const now = o.now ?? Date.now;
  const api = new ApiGatewayManagementApiClient({ region: 'us-east-1', endpoint: o.managementEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const ack = (connectionId: string, e: Extract<ConsoleEvent, { type: 'ack' }>) =>
    api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: new TextEncoder().encode(JSON.stringify([e])) })).catch(() => undefined);
  return {
    async connect(ev) {
      const at = now();
      const row: ConsoleConnection = {
        connectionId: ev.requestContext.connectionId, principal: ev.requestContext.identity.userArn ?? 'local',
        transcripts: o.transcripts ?? true, connectedAt: at, expiresAt: Math.floor(at / 1000) + (o.ttlSeconds ?? 7200),
      };
      await o.doc.send(new PutCommand({ TableName: o.table, Item: row }));
      return { statusCode: 200 };
    },
    async disconnect(ev) {
      await o.doc.send(new DeleteCommand({ TableName: o.table, Key: { connectionId: ev.requestContext.connectionId } }));
      return { statusCode: 200 };
    },
    async action(ev) {
      const { connectionId } = ev.requestContext;
      let raw: unknown;
      try {
        raw = JSON.parse(ev.body ?? '');
      } catch {
        await ack(connectionId, { type: 'ack', id: '', ok: false, error: 'the message is not JSON' });
        return { statusCode: 400 };
      }
      const parsed = operatorActionSchema.safeParse(raw);
      const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : '';
      if (!parsed.success) {
        await ack(connectionId, { type: 'ack', id, ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
        return { statusCode: 400 };
      }
      const cmd: OperatorCommand = { action: parsed.data, by: ev.requestContext.identity.userArn ?? 'local', connectionId, at: now() };
      const receivers = await o.redis.publish(operatorChannel(parsed.data.callSid), JSON.stringify(cmd));
      await ack(connectionId, receivers > 0 ? { type: 'ack', id, ok: true } : { type: 'ack', id, ok: false, error: 'no task holds this call' });
      return { statusCode: 200 };
    },
    close: () => api.destroy(),
  };
}
