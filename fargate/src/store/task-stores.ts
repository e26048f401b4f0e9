// What the media server's front door needs from shared state, opened once per task: single-use stream tokens and live-call heartbeats with the lost-call sweeper.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { createDocumentClient } from './dynamo';
import { LiveCalls } from './live-calls';
import { connectRedis } from './redis';
import { redisStreamClaims, type StreamClaims } from './stream-claims';

/** The task-level stores main.ts hands to createMediaServer. */
export interface TaskStores {
  streamClaims: StreamClaims;
  liveCalls: LiveCalls;
  close(): Promise<void>;
}

/** Opens Redis and DynamoDB for the front door and starts the heartbeat + sweeper. Rejects if Redis is unreachable. */
export async function openTaskStores(config: Config, log: Logger): Promise<TaskStores> {
  const redis = await connectRedis(config.redisUrl, { onError: (err) => log.warn({ err: { name: (err as Error)?.name } }, 'redis connection error; reconnecting') });
  const doc = createDocumentClient({ region: config.AWS_REGION, endpoint: config.DYNAMODB_ENDPOINT });
  const liveCalls = new LiveCalls({
    redis, doc, table: config.TRANSCRIPTS_TABLE, owner: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    periodMs: config.LIVE_HEARTBEAT_SECONDS * 1000, log,
  });
  liveCalls.start();
  return {
    streamClaims: redisStreamClaims(redis),
    liveCalls,
    async close() {
      liveCalls.stop();
      doc.destroy();
      await redis.close();
    },
  };
}
