// Vitest global setup: the tests' Redis is REDIS_URL (or 127.0.0.1:6379) when it answers, else a private redis-server for the run.
import { ensureRedis } from '../local/redis';

/**
 * Runs once in the main process before any worker starts; workers (pool 'forks') inherit process.env, so every
 * test that reads REDIS_URL reaches the private server (an answering Redis leaves the env as it was). The returned teardown stops it after the last file.
 */
export default async function setup(): Promise<() => Promise<void>> {
  // With REDIS_URL unset the private server takes 6379 when it is free, so fixtures that name 127.0.0.1:6379 reach it too.
  const redis = await ensureRedis({ port: process.env.REDIS_URL ? undefined : 6379, log: (line) => console.error(`vitest: ${line}`) });
  if (redis.started) process.env.REDIS_URL = redis.url;
  return () => redis.stop();
}
