// The media service's pino logger: JSON lines, no PII in message strings, child loggers per call.
import { pino, type Logger } from 'pino';

export type { Logger };

/** Root logger. `LOG_LEVEL` picks the level; tests and the local stack set it to `silent` or `warn`. */
export const logger: Logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'media-service' },
  redact: { paths: ['*.authToken', '*.apiKey', '*.token', '*.from', '*.to', '*.phone'], censor: '[redacted]' },
});
