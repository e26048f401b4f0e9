// Tool Lambda settings: the environment (CONTRACTS.md names) read once into a frozen, validated object.
// Namespace import: lets esbuild drop the parts of zod we don't use (~85 KB instead of ~450 KB minified).
import * as z from 'zod';

const flag = z
  .string()
  .optional()
  .transform((v) => v === 'true' || v === '1');

const schema = z.object({
  STAGE: z.string().min(1).default('local'),
  BUSINESS_TABLE: z.string().min(3).default('business'),
  IDEMPOTENCY_TABLE: z.string().min(3).default('idempotency'),
  /** Set locally to dynalite; absent in AWS (the regional endpoint is used). */
  DYNAMODB_ENDPOINT: z.url().optional(),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  /** Local: one URL replaces the REDIS_* parts. */
  REDIS_URL: z.string().optional(),
  REDIS_HOST: z.string().optional(),
  REDIS_PORT: z.coerce.number().int().positive().default(6379),
  REDIS_TLS: flag,
  REDIS_AUTH_SECRET_ARN: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  /** Every Redis key starts with this (CONTRACTS.md: `va:`); tests use a unique one per file. */
  CACHE_KEY_PREFIX: z.string().min(1).default('va:'),
  /** Dates like "today" resolve in the business's timezone, not the Lambda's (always UTC). */
  BUSINESS_TIMEZONE: z.string().min(1).default('America/New_York'),
  /** Request bodies above this get 413: a tool call is a few hundred bytes, so 16 KiB is generous. */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(16 * 1024),
  /** Multiplies every tool's time budget: for slow or shared machines (CI, parallel test files). 1 in AWS. */
  TOOL_TIMEOUT_SCALE: z.coerce.number().positive().max(100).default(1),
  VAPI_SECRET_ARN: z.string().optional(),
  VAPI_SECRET: z.string().optional(),
  POWERTOOLS_SERVICE_NAME: z.string().default('voice-agent-tools'),
  POWERTOOLS_LOG_LEVEL: z.string().optional(),
});

/** Where the cache lives: a Redis server, or process memory when none is configured (`npm start` without Redis). */
export type RedisTarget =
  | { kind: 'url'; url: string; passwordSecretArn?: string; password?: string }
  | { kind: 'host'; host: string; port: number; tls: boolean; passwordSecretArn?: string; password?: string }
  | { kind: 'memory' };

export interface ToolsConfig {
  stage: string;
  businessTable: string;
  idempotencyTable: string;
  dynamodbEndpoint?: string;
  region: string;
  redis: RedisTarget;
  cacheKeyPrefix: string;
  timeZone: string;
  maxBodyBytes: number;
  timeoutScale: number;
  vapiSecret: { arn?: string; value?: string };
  serviceName: string;
  logLevel?: string;
}

/**
 * Reads the tool settings from an environment record (process.env in Lambda, a merged record in the local adapter).
 * Throws a ZodError naming the bad variable; an unknown timezone is refused here rather than on the first call.
 */
export function readToolsConfig(env: Record<string, string | undefined>): Readonly<ToolsConfig> {
  const e = schema.parse(env);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: e.BUSINESS_TIMEZONE });
  } catch {
    throw new Error(`BUSINESS_TIMEZONE is not an IANA timezone: ${e.BUSINESS_TIMEZONE}`);
  }
  const auth = { passwordSecretArn: e.REDIS_AUTH_SECRET_ARN, password: e.REDIS_PASSWORD };
  const redis: RedisTarget = e.REDIS_URL
    ? { kind: 'url', url: e.REDIS_URL, ...auth }
    : e.REDIS_HOST
      ? { kind: 'host', host: e.REDIS_HOST, port: e.REDIS_PORT, tls: e.REDIS_TLS, ...auth }
      : { kind: 'memory' };
  return Object.freeze({
    stage: e.STAGE,
    businessTable: e.BUSINESS_TABLE,
    idempotencyTable: e.IDEMPOTENCY_TABLE,
    dynamodbEndpoint: e.DYNAMODB_ENDPOINT,
    region: e.AWS_REGION,
    redis,
    cacheKeyPrefix: e.CACHE_KEY_PREFIX,
    timeZone: e.BUSINESS_TIMEZONE,
    maxBodyBytes: e.MAX_BODY_BYTES,
    timeoutScale: e.TOOL_TIMEOUT_SCALE,
    vapiSecret: { arn: e.VAPI_SECRET_ARN, value: e.VAPI_SECRET },
    serviceName: e.POWERTOOLS_SERVICE_NAME,
    logLevel: e.POWERTOOLS_LOG_LEVEL,
  });
}
