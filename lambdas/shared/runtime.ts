// One execution environment's long-lived parts (clients, cache, logger, metrics), built once from an env record.
import type { Logger } from '@aws-lambda-powertools/logger';
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { BusinessData } from './business-data';
import { MemoryStore, RedisStore, ToolCache, type CacheStore } from './cache';
import { readToolsConfig, type ToolsConfig } from './config';
import { DynamoBusinessData } from './dynamo-business-data';
import { createLogger, newMeasures, ToolMetrics } from './observability';
import { createDynamoClient, documentClient } from './tables';

/** Module-scope state of a tool Lambda (or of the local adapter), reused across invocations. */
export interface ToolRuntime {
  config: Readonly<ToolsConfig>;
  data: BusinessData;
  cache: ToolCache;
  metrics: ToolMetrics;
  log: Logger;
  /** The business clock. */
  clock: () => Date;
  /** Powertools persistence + config for one write tool; one per tool because `configure` mutates the key prefix. */
  idempotency(tool: string, budgetMs: number): { persistenceStore: DynamoDBPersistenceLayer; config: IdempotencyConfig };
  /**
   * Opens the Redis connection and the DynamoDB keep-alive connection ahead of the first call (best effort:
   * failures are ignored, calls handle them). Worth it where init time is free: Lambda provisioned concurrency
   * runs module init before traffic, and the local adapter calls it before listening.
   */
  warm(): Promise<void>;
  /** Closes Redis and the DynamoDB client (local adapter, tests). */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Business clock. @default () => new Date() */
  clock?: () => Date;
  /** Swap in another business system. @default DynamoDB on BUSINESS_TABLE */
  data?: BusinessData;
  /** Emit EMF metrics to stdout. @default true */
  metrics?: boolean;
  /** Cache store override. @default Redis from env, or memory when no Redis is configured */
  store?: CacheStore;
}

/** Builds a runtime from an environment record. Nothing connects until first use (Redis connects lazily). */
export function createRuntime(env: Record<string, string | undefined>, opts: RuntimeOptions = {}): ToolRuntime {
  const config = readToolsConfig(env);
  const log = createLogger(config.serviceName, config.logLevel);
  const metrics = new ToolMetrics(config.stage, config.serviceName, opts.metrics ?? true);
  const dynamo: DynamoDBClient = createDynamoClient({ endpoint: config.dynamodbEndpoint, region: config.region });
  const data = opts.data ?? new DynamoBusinessData(documentClient(dynamo), config.businessTable);
  const store = opts.store ?? (config.redis.kind === 'memory' ? new MemoryStore() : new RedisStore(config.redis, { logger: log, clientName: config.serviceName }));
  const cache = new ToolCache(store, config.cacheKeyPrefix, log, metrics);
  const idem = new Map<string, { persistenceStore: DynamoDBPersistenceLayer; config: IdempotencyConfig }>();

  return {
    config,
    data,
    cache,
    metrics,
    log,
    clock: opts.clock ?? (() => new Date()),
    idempotency(tool, budgetMs) {
      let entry = idem.get(tool);
      if (!entry) {
        const idemConfig = new IdempotencyConfig({
          eventKeyJmesPath: '[callSid, toolCallId]',
          payloadValidationJmesPath: 'arguments',
          throwOnNoIdempotencyKey: true,
          expiresAfterSeconds: 24 * 3600,
        });
        // Without a Lambda context Powertools writes no in-progress expiry, so a crashed attempt would block
        // retries until the record expires; the tool budget is the longest an attempt can legitimately run.
        idemConfig.registerLambdaContext({ getRemainingTimeInMillis: () => budgetMs } as never);
        entry = {
          persistenceStore: new DynamoDBPersistenceLayer({ tableName: config.idempotencyTable, awsSdkV3Client: dynamo }),
          config: idemConfig,
        };
        idem.set(tool, entry);
      }
      return entry;
    },
    async warm() {
      await Promise.allSettled([
        cache.read('warmup', {}, { freshSeconds: 1, staleSeconds: 0 }, async () => true, newMeasures()),
        data.services(),
      ]);
    },
    async close() {
      await cache.close();
      dynamo.destroy();
    },
  };
}

let lambdaRuntimeInstance: ToolRuntime | undefined;

/** The runtime of this Lambda execution environment, from process.env, created on first invocation. */
export function lambdaRuntime(): ToolRuntime {
  lambdaRuntimeInstance ??= createRuntime(process.env);
  return lambdaRuntimeInstance;
}
