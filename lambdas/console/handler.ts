// The operations console's WebSocket API Lambdas: $connect stores who connected, $disconnect forgets it, $default turns an operator action into a Redis command for the task holding the call and acks it.
import { ApiGatewayManagementApiClient, GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import type { APIGatewayEventWebsocketRequestContextV2, APIGatewayProxyWebsocketEventV2WithRequestContext } from 'aws-lambda';
import { type ConsoleConnection, type ConsoleEvent, type OperatorCommand, operatorActionSchema, operatorChannel } from '../../contracts/console';
import { connectRedis, type RedisClient } from '../../fargate/src/store/redis';
import { secretValue } from '../shared/secrets';
import { createDynamoClient, documentClient } from '../shared/tables';

/**
 * A connection lives at most 2 hours: "Connection duration for WebSocket API | 2 hours | No" (cannot be raised),
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html
 * The row's TTL is set to that, so a $disconnect that never ran (it is best effort) leaves no row behind for long.
 */
export const CONNECTION_MAX_SECONDS = 2 * 3600;

/**
 * The WebSocket request context with the caller identity API Gateway adds after IAM authorization on $connect
 * (`$context.identity.userArn`, "the ARN of the effective user identified after authentication",
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-mapping-template-reference.html).
 * @types/aws-lambda's WebSocket context leaves `identity` out.
 */
export type ConsoleRequestContext = APIGatewayEventWebsocketRequestContextV2 & {
  identity?: { userArn?: string | null; sourceIp?: string };
};
export type ConsoleEventIn = APIGatewayProxyWebsocketEventV2WithRequestContext<ConsoleRequestContext>;
export interface ConsoleResult {
  statusCode: number;
  body?: string;
}

/** The console Lambdas' settings, read from the environment. */
export interface ConsoleConfig {
  table: string;
  region: string;
  dynamodbEndpoint?: string;
  /** IAM principal ARN patterns ('*' matches any run of characters) whose connections may read transcript text. */
  transcriptReaders: string[];
  /** https://{apiId}.execute-api.{region}.amazonaws.com/{stage}; derived from the event when unset. */
  managementEndpoint?: string;
}

/** Reads CONSOLE_CONNECTIONS_TABLE (required), CONSOLE_TRANSCRIPT_READERS, CONSOLE_MANAGEMENT_ENDPOINT, AWS_REGION, DYNAMODB_ENDPOINT. */
export function readConsoleConfig(env: Record<string, string | undefined>): ConsoleConfig {
  const table = env.CONSOLE_CONNECTIONS_TABLE;
  if (!table) throw new Error('CONSOLE_CONNECTIONS_TABLE is required (the console connections table name)');
  const endpoint = env.CONSOLE_MANAGEMENT_ENDPOINT || undefined;
  if (endpoint && !/^https?:\/\/[^/]+(\/.*)?$/.test(endpoint)) {
    throw new Error(`CONSOLE_MANAGEMENT_ENDPOINT must be an http(s) URL such as https://{apiId}.execute-api.{region}.amazonaws.com/{stage}, got ${endpoint}`);
  }
  return {
    table,
    region: env.AWS_REGION || 'us-east-1',
    dynamodbEndpoint: env.DYNAMODB_ENDPOINT || undefined,
    transcriptReaders: (env.CONSOLE_TRANSCRIPT_READERS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    managementEndpoint: endpoint,
  };
}

/** Does `arn` match `pattern`, where `*` stands for any run of characters (IAM-style)? */
export function arnMatches(pattern: string, arn: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(arn);
}

/** The row $connect stores: who (the IAM principal API Gateway authenticated), whether they may read transcripts, until when. */
export function connectionRow(connectionId: string, principal: string, readers: readonly string[], nowMs: number): ConsoleConnection {
  const connectedAt = Math.floor(nowMs / 1000);
  return {
    connectionId,
    principal,
    transcripts: readers.some((p) => arnMatches(p, principal)),
    connectedAt,
    expiresAt: connectedAt + CONNECTION_MAX_SECONDS,
  };
}

/** Where PostToConnection goes: the configured endpoint, or the API's own `https://{domainName}/{stage}`. */
export function managementEndpointFor(config: Pick<ConsoleConfig, 'managementEndpoint'>, ctx: Pick<ConsoleRequestContext, 'domainName' | 'stage'>): string {
  return config.managementEndpoint ?? `https://${ctx.domainName}/${ctx.stage}`;
}

/** An action message after parsing: the action, or the ack refusing it (with the id when one could be read). */
export type ParsedAction =
  | { ok: true; action: OperatorCommand['action'] }
  | { ok: false; ack: Extract<ConsoleEvent, { type: 'ack' }> };

/** Parses a $default message body; never throws. */
export function parseActionBody(body: string | undefined): ParsedAction {
  let raw: unknown;
  try {
    raw = JSON.parse(body ?? '');
  } catch {
    return { ok: false, ack: { type: 'ack', id: '', ok: false, error: 'body is not JSON' } };
  }
  const rawId = raw && typeof raw === 'object' ? (raw as { id?: unknown }).id : undefined;
  const id = typeof rawId === 'string' ? rawId.slice(0, 64) : '';
  const parsed = operatorActionSchema.safeParse(raw);
  if (!parsed.success) {
    const error = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    return { ok: false, ack: { type: 'ack', id, ok: false, error } };
  }
  return { ok: true, action: parsed.data };
}

/** What the handlers need; the Lambda builds it from process.env, tests from theirs. */
export interface ConsoleDeps {
  config: ConsoleConfig;
  doc: DynamoDBDocumentClient;
  /** PUBLISH: resolves to the number of subscribers that received the message. */
  publish(channel: string, message: string): Promise<number>;
  /** PostToConnection of `data` to `connectionId` through `endpoint`. */
  post(endpoint: string, connectionId: string, data: string): Promise<void>;
  clock: () => number;
  log: Logger;
}

export interface ConsoleHandlers {
  connect(event: ConsoleEventIn): Promise<ConsoleResult>;
  disconnect(event: ConsoleEventIn): Promise<ConsoleResult>;
  action(event: ConsoleEventIn): Promise<ConsoleResult>;
}

/** The three route handlers over `deps()` (called per invocation, so the Lambda can open its clients lazily). */
export function consoleHandlers(deps: () => Promise<ConsoleDeps>): ConsoleHandlers {
  return {
    async connect(event) {
      const d = await deps();
      const principal = event.requestContext.identity?.userArn;
      // IAM auth on $connect means API Gateway never invokes this without a signed request; refuse anyway if the
      // identity is missing (a misconfigured route), rather than store an anonymous operator.
      if (!principal) return { statusCode: 403, body: 'no IAM identity on $connect' };
      const row = connectionRow(event.requestContext.connectionId, principal, d.config.transcriptReaders, d.clock());
      await d.doc.send(new PutCommand({ TableName: d.config.table, Item: row }));
      d.log.info('console connected', { connectionId: row.connectionId, principal, transcripts: row.transcripts });
      return { statusCode: 200 };
    },
    async disconnect(event) {
      const d = await deps();
      await d.doc.send(new DeleteCommand({ TableName: d.config.table, Key: { connectionId: event.requestContext.connectionId } }));
      return { statusCode: 200 };
    },
    async action(event) {
      const d = await deps();
      const { connectionId } = event.requestContext;
      const ack = await runAction(d, connectionId, event.body);
      try {
        await d.post(managementEndpointFor(d.config, event.requestContext), connectionId, JSON.stringify([ack]));
      } catch (err) {
        // The sender left before its ack: nothing to tell. Anything else is logged, never thrown (no retry storm).
        if (!(err instanceof GoneException)) d.log.warn('ack not delivered', { connectionId, error: (err as Error).name });
      }
      return { statusCode: 200 };
    },
  };
}

/** Parses, authorizes and publishes one action; returns the ack for the sender. Never throws. */
async function runAction(d: ConsoleDeps, connectionId: string, body: string | undefined): Promise<Extract<ConsoleEvent, { type: 'ack' }>> {
  const parsed = parseActionBody(body);
  if (!parsed.ok) return parsed.ack;
  const { action } = parsed;
  const refuse = (error: string) => ({ type: 'ack' as const, id: action.id, ok: false, error });
  try {
    const got = await d.doc.send(new GetCommand({ TableName: d.config.table, Key: { connectionId }, ConsistentRead: true }));
    const row = got.Item as ConsoleConnection | undefined;
    // DynamoDB deletes expired items only eventually ("typically within a few days",
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html), so check expiresAt too.
    if (!row || row.expiresAt * 1000 <= d.clock()) return refuse('not authorized: no console connection');
    const command: OperatorCommand = { action, by: row.principal, connectionId, at: d.clock() };
    const receivers = await d.publish(operatorChannel(action.callSid), JSON.stringify(command));
    d.log.info('operator action', { action: action.action, callSid: action.callSid, by: row.principal, receivers });
    return receivers > 0 ? { type: 'ack', id: action.id, ok: true } : refuse('call not live');
  } catch (err) {
    d.log.error('operator action failed', { action: action.action, error: (err as Error).name });
    return refuse('action could not be delivered');
  }
}

/** The Redis URL for this Lambda: REDIS_URL, or REDIS_HOST/PORT/TLS with the AUTH token from REDIS_AUTH_SECRET_ARN (as the tool Lambdas). */
export async function redisUrlFrom(env: Record<string, string | undefined>): Promise<string> {
  if (env.REDIS_URL) return env.REDIS_URL;
  if (!env.REDIS_HOST) throw new Error('REDIS_URL or REDIS_HOST is required');
  const password = env.REDIS_AUTH_SECRET_ARN ? await secretValue(env.REDIS_AUTH_SECRET_ARN) : env.REDIS_PASSWORD;
  const auth = password ? `default:${encodeURIComponent(password)}@` : '';
  return `${env.REDIS_TLS === 'true' ? 'rediss' : 'redis'}://${auth}${env.REDIS_HOST}:${env.REDIS_PORT ?? '6379'}`;
}

/** Opened clients plus a close for tests (Lambda just freezes the environment). */
export interface OpenedConsoleDeps extends ConsoleDeps {
  close(): Promise<void>;
}

/**
 * Builds the deps from an environment record. Redis connects only when `withRedis` (the $default Lambda; $connect
 * and $disconnect never need it). `credentials` overrides the default chain (tests against local servers).
 */
export async function openConsoleDeps(
  env: Record<string, string | undefined>,
  opts: { withRedis: boolean; credentials?: AwsCredentialIdentity; clock?: () => number } = { withRedis: true },
): Promise<OpenedConsoleDeps> {
  const config = readConsoleConfig(env);
  const log = new Logger({ serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'console', logLevel: (env.POWERTOOLS_LOG_LEVEL ?? 'INFO').toUpperCase() as 'INFO' });
  const dynamo = createDynamoClient({ endpoint: config.dynamodbEndpoint, region: config.region });
  const redis: RedisClient | undefined = opts.withRedis ? await connectRedis(await redisUrlFrom(env)) : undefined;
  const clients = new Map<string, ApiGatewayManagementApiClient>();
  const client = (endpoint: string) => {
    let c = clients.get(endpoint);
    if (!c) {
      c = new ApiGatewayManagementApiClient({ endpoint, region: config.region, maxAttempts: 2, ...(opts.credentials ? { credentials: opts.credentials } : {}) });
      clients.set(endpoint, c);
    }
    return c;
  };
  return {
    config,
    doc: documentClient(dynamo),
    log,
    clock: opts.clock ?? Date.now,
    async publish(channel, message) {
      if (!redis) throw new Error('this console Lambda has no Redis connection');
      return redis.publish(channel, message);
    },
    async post(endpoint, connectionId, data) {
      await client(endpoint).send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: new TextEncoder().encode(data) }));
    },
    async close() {
      dynamo.destroy();
      for (const c of clients.values()) c.destroy();
      await redis?.close();
    },
  };
}

/** Per execution environment: opened on first invocation and reused; a failed open is retried next time. */
function lambdaDeps(withRedis: boolean): () => Promise<ConsoleDeps> {
  let opened: Promise<ConsoleDeps> | undefined;
  return () => {
    opened ??= openConsoleDeps(process.env, { withRedis }).catch((err: unknown) => {
      opened = undefined;
      throw err;
    });
    return opened;
  };
}

const withoutRedis = consoleHandlers(lambdaDeps(false));
const withRedis = consoleHandlers(lambdaDeps(true));

/** $connect (IAM-authorized by API Gateway). */
export const connect = withoutRedis.connect;
/** $disconnect. */
export const disconnect = withoutRedis.disconnect;
/** $default: one operator action. */
export const action = withRedis.action;
