// Crash cleanup: live calls heartbeat in Redis (va:live-calls ZSET + va:live:{callSid} owner), and a sweeper on every task closes the call records of calls whose heartbeat lapsed.
import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** Options of {@link LiveCalls}. */
export interface LiveCallsOptions {
  redis: Redis;
  doc: DynamoDBDocumentClient;
  table: string;
  /** This task's id (stored as the call's owner, so a migrated call is not unregistered by its old task). */
  owner: string;
  /** Heartbeat period; a call whose last heartbeat is `3 × period` old is closed as lost. @default 15000 */
  periodMs?: number;
  log?: Logger;
  /** @default 'va:' */
  prefix?: string;
  /** @default Date.now */
  now?: () => number;
}

// Deletes the owner key and the index entry only when this task still owns the call (one atomic script).
const UNREGISTER = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]); redis.call('ZREM', KEYS[2], ARGV[2]); return 1 end return 0`;

/**
 * Live-call heartbeats and the lost-call sweeper. A task killed with SIGKILL (or lost with its host) runs no cleanup,
 * so its calls keep a call record without `endedAt`, cost or turn count. Every task heartbeats its live calls; every
 * task sweeps: a call whose heartbeat lapsed gets `endedAt` (the last heartbeat), `endReason: 'task-lost'` and
 * `turns` counted from its stored transcript, at most once (a conditional update on `attribute_not_exists(endedAt)`,
 * so a record the call itself closed is never touched). Redis errors are logged and retried next period.
 */
export class LiveCalls {
  private readonly period: number;
  private readonly prefix: string;
  private readonly now: () => number;
  private readonly live = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: LiveCallsOptions) {
    this.period = o.periodMs ?? 15_000;
    this.prefix = o.prefix ?? 'va:';
    this.now = o.now ?? Date.now;
  }

  private get index(): string {
    return `${this.prefix}live-calls`;
  }

  /** A call started (or was taken over) on this task. */
  async begin(callSid: string): Promise<void> {
    this.live.add(callSid);
    await this.beat([callSid]);
  }

  /** The call ended on this task. */
  async end(callSid: string): Promise<void> {
    this.live.delete(callSid);
    try {
      await this.o.redis.eval(UNREGISTER, 2, `${this.prefix}live:${callSid}`, this.index, this.o.owner, callSid);
    } catch (err) {
      this.o.log?.warn({ callSid, err: { name: (err as Error)?.name } }, 'live-call unregister failed (the sweeper may close the record as lost)');
    }
  }

  /** Starts heartbeating this task's calls and sweeping lapsed ones every period. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.period);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One heartbeat of every live call plus one sweep (exposed for tests). */
  async tick(): Promise<number> {
    await this.beat([...this.live]);
    return this.sweep();
  }

  /** Closes the call records of calls whose heartbeat is older than 3 periods; returns how many it closed. */
  async sweep(): Promise<number> {
    let lapsed: string[];
    try {
      lapsed = await this.o.redis.zrangebyscore(this.index, '-inf', this.now() - 3 * this.period, 'WITHSCORES');
    } catch (err) {
      this.o.log?.warn({ err: { name: (err as Error)?.name } }, 'lost-call sweep skipped: redis unavailable');
      return 0;
    }
    let closed = 0;
    for (let i = 0; i < lapsed.length; i += 2) {
      const callSid = lapsed[i]!;
      if (this.live.has(callSid)) continue;
      // One task closes each lost call: the first to take this short lock.
      const mine = await this.o.redis.set(`${this.prefix}sweep:${callSid}`, this.o.owner, 'EX', 60, 'NX').catch(() => null);
      if (mine !== 'OK') continue;
      try {
        if (await this.close(callSid, Number(lapsed[i + 1]))) closed++;
        await this.o.redis.zrem(this.index, callSid);
      } catch {
        // logged in close(); the call stays in the index and the next sweep tries again
      }
    }
    return closed;
  }

  private async beat(callSids: string[]): Promise<void> {
    if (!callSids.length) return;
    const at = this.now();
    const m = this.o.redis.multi();
    for (const c of callSids) m.zadd(this.index, at, c).set(`${this.prefix}live:${c}`, this.o.owner, 'PX', 6 * this.period);
    try {
      await m.exec();
    } catch (err) {
      this.o.log?.warn({ err: { name: (err as Error)?.name } }, 'live-call heartbeat failed');
    }
  }

  private async close(callSid: string, lastBeat: number): Promise<boolean> {
    try {
      const turns = await countTurns(this.o.doc, this.o.table, callSid);
      await this.o.doc.send(new UpdateCommand({
        TableName: this.o.table,
        Key: { callSid, turn: 0 },
        UpdateExpression: 'SET endedAt = :e, endReason = :r, turns = :t',
        ConditionExpression: 'attribute_exists(callSid) AND attribute_not_exists(endedAt)',
        ExpressionAttributeValues: { ':e': new Date(lastBeat).toISOString(), ':r': 'task-lost', ':t': turns },
      }));
      this.o.log?.warn({ callSid, turns }, "closed a lost call's record (its task stopped heartbeating)");
      return true;
    } catch (err) {
      if ((err as Error)?.name === 'ConditionalCheckFailedException') return false; // ended properly, or no record
      this.o.log?.error({ callSid, err: { name: (err as Error)?.name } }, "could not close a lost call's record; retrying next sweep");
      await this.o.redis.del(`${this.prefix}sweep:${callSid}`).catch(() => undefined);
      throw err;
    }
  }
}

/** Heard turns stored for a call (items with turn ≥ 1), counted with a paginated key-only Query. */
export async function countTurns(doc: DynamoDBDocumentClient, table: string, callSid: string): Promise<number> {
  let n = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(new QueryCommand({
      TableName: table, KeyConditionExpression: 'callSid = :c AND turn > :z', ExpressionAttributeValues: { ':c': callSid, ':z': 0 },
      Select: 'COUNT', ConsistentRead: true, ExclusiveStartKey: start,
    }));
    n += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return n;
}
