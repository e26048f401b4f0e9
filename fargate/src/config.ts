// The media service's configuration: environment → frozen, zod-validated Config, read once at boot.
import { z } from 'zod';
import { chainEnvSchema, chainProblems } from './providers/chain-config';

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const url = z.url();

/**
 * Every environment variable the media service reads. Names match the ECS task definition in
 * lib/constructs/media-service.ts. The provider chains' variables (STT/TTS/LLM_PROVIDERS, backup keys, stall deadlines,
 * breaker) come from providers/chain-config.ts; where both name a variable, the definition here wins.
 */
export const envSchema = z.object({
  ...chainEnvSchema.shape,
  STAGE: z.string().min(1).default('local'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** The public base URL Twilio calls (https://voice.example.com); signatures are checked against it. */
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'PUBLIC_URL must be an http(s) URL' }),
  /** Calls one task carries before /ready answers 503 and upgrades are refused. */
  MAX_CALLS: z.coerce.number().int().positive().default(50),
  /** Longest time SIGTERM waits for active calls before exiting. */
  DRAIN_SECONDS: z.coerce.number().int().nonnegative().default(110),
  /** HMAC key for the short-lived stream token passed as a <Parameter>. */
  STREAM_TOKEN_KEY: z.string().min(32, 'STREAM_TOKEN_KEY must be at least 32 characters'),
  STREAM_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(60),
  /**
   * Upgraded /media sockets that have not sent a valid `start` yet, at most. They never count toward MAX_CALLS, so
   * idle or replayed upgrades cannot lock real calls out; beyond this cap new upgrades get 503.
   */
  MAX_PENDING_STREAMS: z.coerce.number().int().positive().default(16),
  /**
   * A socket that has not sent `start` this long after the upgrade is closed. Twilio sends `connected` and then
   * `start` at once ("The start message ... is sent immediately after the connected message",
   * twilio.com/docs/voice/media-streams/websocket-messages).
   */
  STREAM_START_TIMEOUT_MS: z.coerce.number().int().positive().default(2000),
  /**
   * A started stream with no `media` for this long is a dead leg and is ended. Twilio forks the call's raw audio "in
   * near real-time" (twilio.com/docs/voice/twiml/stream), one `media` message per chunk with `chunk` counting up from 1
   * and `timestamp` the presentation time from stream start (twilio.com/docs/voice/media-streams/websocket-messages):
   * the leg's audio, silence included, in 20 ms frames as integrations observe (e.g. twilio/twilio-python#927, "Inbound
   * caller audio reaches our server continuously"). The docs do not state it in words, so the default is generous.
   */
  MEDIA_SILENCE_SECONDS: z.coerce.number().positive().default(10),
  /** WebSocket ping every this many seconds; a peer that has not answered the previous ping is cut (RFC 6455 §5.5.2-3). 0 disables. */
  WS_PING_SECONDS: z.coerce.number().nonnegative().default(15),
  /** Port of the internal listener for `GET /metrics` (and /ready), kept off the public one. 0 picks a free port. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /**
   * Where SIGTERM spills transcript items DynamoDB did not take (besides the Redis spool list), one JSON-lines file per
   * task; `npm run transcripts -- replay` writes them back. @default the OS temp dir's voice-agent-transcripts
   */
  TRANSCRIPT_SPOOL_DIR: z.string().min(1).optional(),
  /** Live calls refresh a Redis heartbeat this often; a call whose heartbeat is 3 periods old is closed as 'task-lost'. */
  LIVE_HEARTBEAT_SECONDS: z.coerce.number().int().positive().default(15),
  /** HMAC key that turns a phone number into the caller hash used for memory keys. */
  CALLER_HASH_KEY: z.string().min(32, 'CALLER_HASH_KEY must be at least 32 characters'),

  TWILIO_ACCOUNT_SID: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'TWILIO_ACCOUNT_SID must look like AC + 32 hex digits'),
  TWILIO_AUTH_TOKEN: z.string().min(1),
  /** Override of https://api.twilio.com (the local Twilio REST emulator). */
  TWILIO_API_URL: url.optional(),
  /** Where a call goes when it escalates to a human (E.164). */
  TRANSFER_NUMBER: z.string().regex(/^\+[1-9]\d{6,14}$/, 'TRANSFER_NUMBER must be E.164, e.g. +15557654321'),

  DEEPGRAM_API_KEY: z.string().min(1),
  /** Override of wss://api.deepgram.com (the local emulator). */
  DEEPGRAM_URL: url.optional(),
  /** `nova-3` (endpointing + UtteranceEnd) or a Flux model such as `flux-general-en` (model-based end of turn). */
  DEEPGRAM_MODEL: z.string().default('nova-3'),

  /**
   * `groq` (the default) runs the LLM_PROVIDERS chain (groq, fireworks, together in any order); `openai-compatible`
   * replaces the chain with the one endpoint at LLM_BASE_URL (any other OpenAI-compatible server), without failover.
   */
  LLM_PROVIDER: z.enum(['groq', 'openai-compatible']).default('groq'),
  GROQ_API_KEY: z.string().min(1).optional(),
  /** Override of https://api.groq.com (without /openai/v1). */
  GROQ_BASE_URL: url.optional(),
  /** For LLM_PROVIDER=openai-compatible: e.g. https://api.fireworks.ai/inference/v1 or https://api.together.ai/v1. */
  LLM_BASE_URL: url.optional(),
  LLM_API_KEY: z.string().min(1).optional(),
  LLM_MODEL_SMALL: z.string().default('openai/gpt-oss-20b'),
  LLM_MODEL_LARGE: z.string().default('openai/gpt-oss-120b'),

  ELEVENLABS_API_KEY: z.string().min(1),
  /** Override of wss://api.elevenlabs.io (the local emulator). */
  ELEVENLABS_URL: url.optional(),
  ELEVENLABS_MODEL: z.string().default('eleven_flash_v2_5'),

  /** Base URL of the tools API (`POST {TOOLS_URL}/tools/{name}`). */
  TOOLS_URL: url,
  /** `iam` signs tool requests with SigV4 (API Gateway IAM auth); `none` for the local adapter. */
  TOOLS_AUTH: z.enum(['iam', 'none']).default('iam'),
  AWS_REGION: z.string().default('us-east-1'),

  /** Full Redis URL (local). In AWS the parts below are used instead. */
  REDIS_URL: url.optional(),
  REDIS_HOST: z.string().optional(),
  REDIS_PORT: z.coerce.number().int().positive().optional(),
  REDIS_TLS: bool.default(false),
  REDIS_PASSWORD: z.string().optional(),

  TRANSCRIPTS_TABLE: z.string().min(3),
  /** Override of the DynamoDB endpoint (dynalite locally). */
  DYNAMODB_ENDPOINT: url.optional(),
  /** The operations console's management endpoint (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`); unset = no console feed. */
  CONSOLE_MANAGEMENT_ENDPOINT: url.optional(),
  /** The console connections table (ConsoleConnection rows); required with CONSOLE_MANAGEMENT_ENDPOINT. */
  CONSOLE_CONNECTIONS_TABLE: z.string().min(3).optional(),
  TRANSCRIPT_RETENTION_DAYS: z.coerce.number().int().positive().default(30),

  /** Agent profile used when the call names none, or its number is not in NUMBER_TO_AGENT. */
  DEFAULT_AGENT: z.string().default('booking'),
  /** A folder of extra agent files (`*.json`, agents/types.ts schema), loaded beside the built-in agents at boot. */
  AGENTS_DIR: z.string().optional(),
  /** The stage's called number → agent map, as JSON (`{"+15550001000":"booking"}`); absent → agents/index.ts DEFAULT_NUMBERS. */
  NUMBER_TO_AGENT: z
    .string()
    .transform((s, ctx) => {
      try {
        return z.record(z.string().regex(/^\+\d{7,15}$/, 'an E.164 number'), z.string().min(1)).parse(JSON.parse(s));
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `must be a JSON object of E.164 numbers to agent names (${(err as Error).message.split('\n')[0]})` });
        return z.NEVER;
      }
    })
    .optional(),
  /** Provider sockets kept open per task so a call never waits for a dial. */
  WARM_POOL_SIZE: z.coerce.number().int().nonnegative().default(2),
  /** A call whose running cost passes this moves to the small model and wraps up. */
  COST_CAP_USD: z.coerce.number().positive().default(0.5),
  /** JSON price table (see lib/config.ts `PriceTable`); the defaults in the cost meter apply when absent. */
  PRICES_JSON: z.string().optional(),
});

export type Config = Readonly<z.output<typeof envSchema>> & { readonly redisUrl: string };

/** Thrown at boot with every bad or missing variable named. */
export class ConfigError extends Error {}

/** Validates `env` and returns a frozen Config; throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // A blank variable (`PORT=` in an .env file) means "unset": z.coerce.number('') is 0, which would silently
  // bind a random port or skip the SIGTERM drain instead of taking the default or failing.
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`invalid media-service environment:\n  ${lines.join('\n  ')}`);
  }
  const c = parsed.data;
  const problems = chainProblems(c, { llm: c.LLM_PROVIDER === 'groq' });
  if (c.LLM_PROVIDER === 'openai-compatible' && (!c.LLM_BASE_URL || !c.LLM_API_KEY)) problems.push('LLM_BASE_URL, LLM_API_KEY: required when LLM_PROVIDER=openai-compatible');
  if (problems.length) throw new ConfigError(`invalid media-service environment:\n  ${problems.join('\n  ')}`);
  const redisUrl = c.REDIS_URL ?? (c.REDIS_HOST ? redisUrlFromParts(c.REDIS_HOST, c.REDIS_PORT ?? 6379, c.REDIS_TLS, c.REDIS_PASSWORD) : undefined);
  if (!redisUrl) throw new ConfigError('invalid media-service environment:\n  REDIS_URL or REDIS_HOST: one is required');
  return Object.freeze({ ...c, redisUrl });
}

function redisUrlFromParts(host: string, port: number, tls: boolean, password?: string): string {
  const auth = password ? `default:${encodeURIComponent(password)}@` : '';
  return `${tls ? 'rediss' : 'redis'}://${auth}${host}:${port}`;
}
