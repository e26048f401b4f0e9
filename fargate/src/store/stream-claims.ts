// Single use of stream tokens across tasks: a Redis `SET key callSid NX EX ttl` on each token's nonce (va:stream-token:{nonce}).
import type { Redis } from 'ioredis';

/** Claims a stream token's nonce once; every later claim of the same nonce, on any task, is refused. */
export interface StreamClaims {
  /** Resolves true for the first claim of `nonce`, false for a replay. Rejects when the store cannot answer. */
  claim(nonce: string, callSid: string, ttlSeconds: number): Promise<boolean>;
}

/**
 * Redis-backed {@link StreamClaims}. `SET … NX` succeeds for exactly one caller per key, atomically, whichever task
 * asks first (https://redis.io/docs/latest/commands/set/: "NX -- Only set the key if it does not already exist";
 * the reply is nil when the key was not set). The key lives as long as the token could still be presented, so a
 * token replayed after its stream stopped is refused too, and expired keys clean themselves up.
 */
export function redisStreamClaims(redis: Redis, prefix = 'va:'): StreamClaims {
  return {
    async claim(nonce, callSid, ttlSeconds) {
      const reply = await redis.set(`${prefix}stream-token:${nonce}`, callSid, 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX');
      return reply === 'OK';
    },
  };
}
