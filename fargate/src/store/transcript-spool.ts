// Where transcript items DynamoDB did not take wait for replay: a Redis list (va:transcript-spool) and/or JSON-lines files in a spool dir; and the replay that writes them back.
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Redis } from 'ioredis';
import type { Item } from './transcript-store';

/** A durable place for transcript items (already redacted, as they would have been stored). */
export interface TranscriptSpool {
  /** Resolves once the items are durable; rejects when they are not. */
  write(items: Item[]): Promise<void>;
  /** Where the items go, for logs (never a secret). */
  readonly where: string;
}

/** The Redis list the media service spools to. */
export const SPOOL_KEY = 'va:transcript-spool';
/** Spool files are `transcripts-*.jsonl` in the spool dir. */
const FILE_RE = /^transcripts-.*\.jsonl$/;

/** The default spool dir: `$TMPDIR/voice-agent-transcripts`. */
export function defaultSpoolDir(): string {
  return join(tmpdir(), 'voice-agent-transcripts');
}

/**
 * Appends to a Redis list (RPUSH, one JSON item per element). ElastiCache outlives the task, so a stopped Fargate
 * task (whose disk goes with it) still leaves its items recoverable by any machine that reaches Redis.
 */
export function redisSpool(redis: Redis, key = SPOOL_KEY): TranscriptSpool {
  return {
    where: `redis list ${key}`,
    async write(items) {
      if (items.length) await redis.rpush(key, ...items.map((i) => JSON.stringify(i)));
    },
  };
}

/** Appends JSON lines to `dir/transcripts-<host>-<pid>-<id>.jsonl` and fsyncs, one file per process. */
export function fileSpool(dir: string): TranscriptSpool {
  const file = join(dir, `transcripts-${hostname().replace(/[^A-Za-z0-9_-]/g, '_')}-${process.pid}-${randomUUID().slice(0, 8)}.jsonl`);
  return {
    where: `file ${file}`,
    async write(items) {
      if (!items.length) return;
      await mkdir(dir, { recursive: true });
      await appendFile(file, items.map((i) => JSON.stringify(i) + '\n').join(''), { mode: 0o600 });
      const fh = await open(file, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
  };
}

/** Tries each spool in order until one takes the items (Redis first, the local file if Redis is down too). */
export function firstWorking(spools: TranscriptSpool[]): TranscriptSpool {
  return {
    where: spools.map((s) => s.where).join(', else '),
    async write(items) {
      let last: unknown = new Error('no spool');
      for (const s of spools) {
        try {
          return await s.write(items);
        } catch (err) {
          last = err;
        }
      }
      throw last;
    },
  };
}

/** What {@link replaySpool} needs; give `redis` and/or `dir`. */
export interface ReplayOptions {
  doc: DynamoDBDocumentClient;
  table: string;
  redis?: Redis;
  dir?: string;
  /** @default SPOOL_KEY */
  key?: string;
}

/**
 * Writes spooled items back to the table and removes them from the spool only once written: the Redis list is
 * consumed from its head in batches (LRANGE then LTRIM), a file is deleted after all its lines are written. Items are
 * whole-item puts keyed (callSid, turn), so replaying twice is harmless. Rejects on the first DynamoDB error,
 * leaving everything not yet written in the spool.
 */
export async function replaySpool(o: ReplayOptions): Promise<{ written: number; files: number }> {
  let written = 0;
  let files = 0;
  if (o.redis) {
    const key = o.key ?? SPOOL_KEY;
    for (;;) {
      const batch = await o.redis.lrange(key, 0, 24);
      if (!batch.length) break;
      await putAll(o.doc, o.table, batch.map((l) => JSON.parse(l) as Item));
      await o.redis.ltrim(key, batch.length, -1);
      written += batch.length;
    }
  }
  if (o.dir) {
    const names = (await readdir(o.dir).catch(() => [] as string[])).filter((n) => FILE_RE.test(n));
    for (const name of names) {
      const lines = (await readFile(join(o.dir, name), 'utf8')).split('\n').filter(Boolean);
      await putAll(o.doc, o.table, lines.map((l) => JSON.parse(l) as Item));
      await rm(join(o.dir, name));
      written += lines.length;
      files++;
    }
  }
  return { written, files };
}

/** BatchWriteItem in chunks of 25, re-sending unprocessed items (with a short backoff) until all are in. */
async function putAll(doc: DynamoDBDocumentClient, table: string, items: Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let left = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; left.length; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)));
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: left } }));
      left = (out.UnprocessedItems?.[table] ?? []) as typeof left;
    }
  }
}
