// Live call state in Redis (va:session:{callSid}): profile, heard turns and tool results, written per turn with a TTL.
import type { Redis } from 'ioredis';
import { DEFAULT_REDACTION, redact, redactJsonText, type RedactionConfig } from '../privacy/redaction';
import { execMulti } from './redis';

/** Set once at stream start. */
export interface SessionMeta {
  callSid: string;
  agent: string;
  callerHash?: string;
  /** Epoch ms. */
  startedAt: number;
  /** The agent profile in effect (JSON-serialisable: name, model, voice, prompt version…). */
  profile?: unknown;
  /** Which task holds the call, so an operator can find it. */
  owner?: string;
  /** Epoch ms; set by {@link SessionStore.end}. */
  endedAt?: number;
}

/** One heard turn. */
export interface SessionTurn {
  /** 1-based, the same number as the transcript item. */
  turn: number;
  role: 'user' | 'assistant';
  /** What was heard (redacted before it is stored). */
  text: string;
  interrupted?: boolean;
  /** Epoch ms. */
  at: number;
}

/** One tool outcome. */
export interface SessionToolResult {
  toolCallId: string;
  name: string;
  ok: boolean;
  /** JSON text; redacted before it is stored. */
  content: string;
  /** Epoch ms. */
  at: number;
}

/** A session as read back. */
export interface Session {
  meta: SessionMeta;
  turns: SessionTurn[];
  toolResults: SessionToolResult[];
}

/** Options of {@link SessionStore}. */
export interface SessionStoreOptions {
  /** Refreshed on every write. @default 7200 (2 h, longer than any call) */
  ttlSeconds?: number;
  /** @default 'va:' (CONTRACTS.md) */
  keyPrefix?: string;
  /** What is redacted from stored text. @default DEFAULT_REDACTION */
  redaction?: Partial<RedactionConfig>;
  /** Called when a write fails (the write resolves `false`; the call goes on). */
  onError?: (err: unknown, op: string) => void;
}

/**
 * The session as one Redis hash: field `meta`, one field per turn (`turn:000001`) and per tool result
 * (`tool:{toolCallId}`), so a turn is one HSET instead of rewriting the conversation. Writes never reject (the
 * audio path can fire and forget them); reads reject on a Redis error.
 */
export class SessionStore {
  private readonly ttl: number;
  private readonly prefix: string;
  private readonly redaction: Partial<RedactionConfig>;

  constructor(private readonly redis: Redis, private readonly opts: SessionStoreOptions = {}) {
    this.ttl = opts.ttlSeconds ?? 7200;
    this.prefix = opts.keyPrefix ?? 'va:';
    this.redaction = opts.redaction ?? DEFAULT_REDACTION;
  }

  /** The Redis key of a call's session. */
  key(callSid: string): string {
    return `${this.prefix}session:${callSid}`;
  }

  /** Stream start: records who is calling, which agent answers and with which profile. */
  begin(meta: SessionMeta): Promise<boolean> {
    return this.write(meta.callSid, { meta: JSON.stringify(meta) }, 'begin');
  }

  /** A finished (heard) turn. Re-recording the same turn number replaces it. */
  recordTurn(callSid: string, turn: SessionTurn): Promise<boolean> {
    const stored: SessionTurn = { ...turn, text: redact(turn.text, this.redaction) };
    return this.write(callSid, { [`turn:${String(turn.turn).padStart(6, '0')}`]: JSON.stringify(stored) }, 'turn');
  }

  /** A tool outcome. */
  recordToolResult(callSid: string, result: SessionToolResult): Promise<boolean> {
    const stored: SessionToolResult = { ...result, content: redactJsonText(result.content, this.redaction) };
    return this.write(callSid, { [`tool:${result.toolCallId}`]: JSON.stringify(stored) }, 'tool');
  }

  /** Call end: stamps `endedAt`; the session then lives out its TTL for operators. */
  async end(callSid: string, endedAt: number): Promise<boolean> {
    try {
      const raw = await this.redis.hget(this.key(callSid), 'meta');
      if (!raw) return false;
      return this.write(callSid, { meta: JSON.stringify({ ...(JSON.parse(raw) as SessionMeta), endedAt }) }, 'end');
    } catch (err) {
      this.opts.onError?.(err, 'end');
      return false;
    }
  }

  /** The live (or recently ended) session, or `undefined`. Rejects on a Redis error. */
  async read(callSid: string): Promise<Session | undefined> {
    const h = await this.redis.hgetall(this.key(callSid));
    if (!h.meta) return undefined;
    const turns: SessionTurn[] = [];
    const toolResults: SessionToolResult[] = [];
    for (const [field, value] of Object.entries(h)) {
      if (field.startsWith('turn:')) turns.push(JSON.parse(value) as SessionTurn);
      else if (field.startsWith('tool:')) toolResults.push(JSON.parse(value) as SessionToolResult);
    }
    turns.sort((a, b) => a.turn - b.turn);
    toolResults.sort((a, b) => a.at - b.at);
    return { meta: JSON.parse(h.meta) as SessionMeta, turns, toolResults };
  }

  /** Deletes sessions; returns how many existed. */
  async delete(callSids: string[]): Promise<number> {
    if (!callSids.length) return 0;
    return this.redis.del(callSids.map((c) => this.key(c)));
  }

  private async write(callSid: string, fields: Record<string, string>, op: string): Promise<boolean> {
    const key = this.key(callSid);
    try {
      // One MULTI so the TTL is always refreshed together with the data.
      await execMulti(this.redis.multi().hset(key, fields).expire(key, this.ttl));
      return true;
    } catch (err) {
      this.opts.onError?.(err, op);
      return false;
    }
  }
}
