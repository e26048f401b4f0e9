// One call's persistence in one place: opens the stores from Config and records a call's start, turns, tools and end.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { deleteCallTranscript } from '../privacy/data-subject';
import type { ToolResult } from '../providers/types';
import {
  CallerMemoryStore, buildMemoryUpdate, callerHashOrUndefined, memoryPromptLine, type CallerMemory, type FinishedCall,
} from './caller-memory';
import { createDocumentClient } from './dynamo';
import { connectRedis, type RedisClientType } from './redis';
import { SessionStore } from './session-store';
import { defaultSpoolDir, fileSpool, firstWorking, redisSpool } from './transcript-spool';
import { TranscriptWriter, type TurnRecord } from './transcript-store';

/** The stores of one media-service task. */
export interface Stores {
  redis: RedisClientType;
  sessions: SessionStore;
  memory: CallerMemoryStore;
  transcripts: TranscriptWriter;
  /** The client and table the transcript writer uses. */
  doc: DynamoDBDocumentClient;
  table: string;
  callerHashKey: string;
  log: Logger;
  /**
   * SIGTERM: flushes every transcript (bounded by `timeoutMs`); what DynamoDB did not take by then is spilled to the
   * spool (Redis list, else TRANSCRIPT_SPOOL_DIR) for `npm run transcripts -- replay`; then closes Redis and DynamoDB.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Metric hooks {@link openStores} feeds (the writer logs overflow as an error either way). */
export interface StoreHooks {
  onTranscriptWriteError?: (count: number) => void;
  /** Items that overflowed the transcript queue: the TranscriptQueueOverflow metric. @default none */
  onTranscriptQueueOverflow?: (count: number) => void;
}

/**
 * Opens Redis (REDIS_URL or REDIS_HOST…), the DynamoDB client (DYNAMODB_ENDPOINT for dynalite) and the stores.
 * `onTranscriptWriteError` receives the TranscriptWriteErrors count. Rejects if Redis is unreachable at boot.
 */
export async function openStores(config: Config, log: Logger, hooks: StoreHooks = {}): Promise<Stores> {
  const redis = await connectRedis(config.redisUrl, { onError: (err) => log.warn({ err: { name: (err as Error)?.name } }, 'redis connection error; reconnecting') });
  const doc = createDocumentClient({ region: config.AWS_REGION, endpoint: config.DYNAMODB_ENDPOINT });
  const transcripts = new TranscriptWriter({
    doc, table: config.TRANSCRIPTS_TABLE, retentionDays: config.TRANSCRIPT_RETENTION_DAYS, onWriteError: hooks.onTranscriptWriteError, log,
    spool: firstWorking([redisSpool(redis), fileSpool(config.TRANSCRIPT_SPOOL_DIR ?? defaultSpoolDir())]),
    onOverflow: hooks.onTranscriptQueueOverflow,
  });
  return {
    redis,
    sessions: new SessionStore(redis, { onError: (err, op) => log.warn({ op, err: { name: (err as Error)?.name } }, 'session write failed') }),
    memory: new CallerMemoryStore(redis),
    transcripts,
    doc,
    table: config.TRANSCRIPTS_TABLE,
    callerHashKey: config.CALLER_HASH_KEY,
    log,
    async close(timeoutMs = 5000) {
      const flushed = await transcripts.flushAll(timeoutMs);
      if (!flushed) {
        log.error({ pending: transcripts.stats().pending }, 'transcripts not fully flushed at shutdown; spooling the rest');
        await transcripts.spill().catch((err: unknown) => log.fatal({ err: { message: (err as Error)?.message } }, 'transcript spill failed: items lost'));
      }
      transcripts.close();
      doc.destroy();
      await redis.close();
    },
  };
}

/** What {@link CallRecorder.start} needs from the stream start. */
export interface CallStart {
  callSid: string;
  agent: string;
  /** E.164 `From`; absent or withheld → no memory and no callerHash. */
  caller?: string;
  /** Epoch ms. */
  startedAt: number;
  /** The agent profile in effect (stored in the session for operators). */
  profile?: unknown;
}

/** A recorder's state, carried to the next stream of the same call. */
export interface RecorderState {
  turnNo: number;
  heard: FinishedCall['turns'];
  tools: FinishedCall['toolResults'];
}

/** One heard turn; the recorder adds the call, the turn number and the caller hash. */
export type HeardTurn = Omit<TurnRecord, 'callSid' | 'turn' | 'callerHash'>;

/**
 * Records one call: session state per turn (Redis), transcript items (DynamoDB, background), caller memory at the
 * end. Every method except {@link start} and {@link finish} returns at once and never throws.
 */
export class CallRecorder {
  private turnNo = 0;
  private readonly heard: FinishedCall['turns'] = [];
  private readonly tools: FinishedCall['toolResults'] = [];

  private constructor(private readonly stores: Stores, readonly start: CallStart, readonly callerHash: string | undefined) {}

  /**
   * Stream start: puts the call record (so privacy requests find even a live call), begins the session and loads
   * the caller's memory (bounded wait, never rejects). `memoryLine` is '' for a new or anonymous caller, else one
   * system-prompt line ("Returning caller … Name: Ana. Last appointment: …").
   */
  static async start(stores: Stores, start: CallStart): Promise<{ recorder: CallRecorder; memory: CallerMemory | undefined; memoryLine: string }> {
    const hash = callerHashOrUndefined(stores.callerHashKey, start.caller);
    const recorder = new CallRecorder(stores, start, hash);
    stores.transcripts.putCall({ callSid: start.callSid, agent: start.agent, callerHash: hash, startedAt: start.startedAt });
    void stores.sessions.begin({ callSid: start.callSid, agent: start.agent, callerHash: hash, startedAt: start.startedAt, profile: start.profile });
    const memory = await stores.memory.load(hash);
    return { recorder, memory, memoryLine: memoryPromptLine(memory) };
  }

  /**
   * A stream that takes over a live call (migration, or back from <Pay>): no new call record or session, transcript
   * turn numbers go on from `state` (from {@link snapshot} on the previous stream), caller memory is not reloaded.
   */
  static resume(stores: Stores, start: CallStart, state: unknown): CallRecorder {
    const s = (state ?? {}) as Partial<RecorderState>;
    const recorder = new CallRecorder(stores, start, callerHashOrUndefined(stores.callerHashKey, start.caller));
    recorder.turnNo = Number.isInteger(s.turnNo) ? s.turnNo! : 0;
    recorder.heard.push(...(s.heard ?? []));
    recorder.tools.push(...(s.tools ?? []));
    return recorder;
  }

  /** What {@link resume} needs to go on with this call on another stream. */
  snapshot(): RecorderState {
    return { turnNo: this.turnNo, heard: [...this.heard], tools: [...this.tools] };
  }

  /** A heard turn: queued for the transcript and written to the session. Returns its turn number (1-based). */
  turn(t: HeardTurn): number {
    const turn = ++this.turnNo;
    this.heard.push({ role: t.role, text: t.text });
    this.stores.transcripts.append({ ...t, callSid: this.start.callSid, turn, callerHash: this.callerHash });
    void this.stores.sessions.recordTurn(this.start.callSid, { turn, role: t.role, text: t.text, interrupted: t.interrupted, at: t.startedAt });
    return turn;
  }

  /** A tool outcome (pass the call's JSON `arguments` too, so a booking can be remembered). */
  toolResult(r: ToolResult & { arguments?: string }): void {
    this.tools.push({ name: r.name, ok: r.ok, content: r.content, arguments: r.arguments });
    void this.stores.sessions.recordToolResult(this.start.callSid, { toolCallId: r.toolCallId, name: r.name, ok: r.ok, content: r.content, at: Date.now() });
  }

  /**
   * Call end (off the audio path): updates the caller's memory, puts the final call record (escalated, cost, and
   * `summary` if given — e.g. a hand-off note — else the memory's one-line summary of the call), stamps the
   * session and flushes this call's transcript. Never rejects; resolves `false` if the
   * transcript was not fully written within `timeoutMs` (the writer keeps retrying in the background) or an item
   * had to be given up (counted through `onTranscriptWriteError`).
   */
  async finish(end: { endedAt: number; escalated?: boolean; cost?: unknown; summary?: string }, timeoutMs = 5000): Promise<boolean> {
    const call: FinishedCall = { agent: this.start.agent, startedAt: this.start.startedAt, endedAt: end.endedAt, turns: this.heard, toolResults: this.tools, escalated: end.escalated };
    let summary = buildMemoryUpdate(undefined, call).recent[0];
    if (this.callerHash) {
      try {
        const mem = await this.stores.memory.remember(this.callerHash, call);
        if (!mem) return this.erase(timeoutMs);
        summary = mem.recent[0];
      } catch (err) {
        this.stores.log.warn({ callSid: this.start.callSid, err: { name: (err as Error)?.name } }, 'caller memory not updated');
      }
    }
    this.stores.transcripts.putCall({
      callSid: this.start.callSid, agent: this.start.agent, callerHash: this.callerHash, startedAt: this.start.startedAt,
      endedAt: end.endedAt, summary: end.summary ?? summary, escalated: end.escalated ?? false, cost: end.cost, turns: this.turnNo,
    });
    await this.stores.sessions.end(this.start.callSid, end.endedAt);
    return this.stores.transcripts.flush(this.start.callSid, timeoutMs);
  }

  /** The caller was forgotten while this call was live: write nothing back and remove what this call wrote. */
  private async erase(timeoutMs: number): Promise<boolean> {
    const { callSid } = this.start;
    this.stores.log.info({ callSid }, 'caller forgotten during the call; erasing its transcript and session');
    try {
      await this.stores.transcripts.flush(callSid, timeoutMs);
      await deleteCallTranscript(this.stores.doc, this.stores.table, callSid);
      await this.stores.sessions.delete([callSid]);
      return true;
    } catch (err) {
      this.stores.log.error({ callSid, err: { name: (err as Error)?.name } }, 'could not erase a forgotten caller\'s call; run the forget again');
      return false;
    }
  }
}
