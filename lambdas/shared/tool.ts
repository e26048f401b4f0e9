// What a tool implementation is: its contract plus one `run` function over a per-call context.
import type { z } from 'zod';
import type { BusinessData } from './business-data';
import type { CachePolicy } from './cache';
import type { ToolContract } from '../../contracts/tool-contract';

/** Everything a tool's business logic may touch during one call. */
export interface ToolContext {
  callSid: string;
  toolCallId: string;
  /** The caller's number (E.164) when the platform knows it. PII: never log it. */
  callerPhone?: string;
  /** Aborts when the tool's time budget is spent; pass it to every data source call. */
  signal: AbortSignal;
  /** The business clock read once at the start of the call (injectable for tests). */
  now: Date;
  /** IANA timezone of the business; "today" means today there. */
  timeZone: string;
  data: BusinessData;
  /** Read-through cache under `va:tool:{cacheName}:{hash(args)}`, counted in this call's cache metrics. */
  cached<T>(cacheName: string, args: unknown, policy: CachePolicy, load: (signal?: AbortSignal) => Promise<T>): Promise<T>;
  /** Drops cache entries a write made stale. Never throws. */
  invalidate(cacheName: string, argsList: unknown[]): Promise<void>;
}

/** What a tool returns: data for the LLM and one sentence the agent can say as is. */
export interface ToolOutput {
  result: Record<string, unknown>;
  speakable: string;
}

export interface ToolImpl<S extends z.ZodType = z.ZodType> {
  contract: ToolContract<S>;
  /**
   * True for tools with side effects: the dispatcher runs them under Powertools idempotency keyed by
   * callSid + toolCallId, so a retried call repeats the stored result instead of the effect.
   */
  writes: boolean;
  run(args: z.output<S>, ctx: ToolContext): Promise<ToolOutput>;
}

/** Identity helper that ties `run`'s argument type to the contract's schema. */
export function defineImplementation<S extends z.ZodType>(impl: ToolImpl<S>): ToolImpl<S> {
  return impl;
}
