// The shape of a tool contract: what the LLM is told, what the handler accepts, how slow it may be.
import type { z } from 'zod';

/**
 * How long a tool usually takes, which decides whether the agent speaks a filler phrase first.
 * `instant`: cache-backed reads (< 50 ms), no filler. `slow`: writes or upstream systems, filler first.
 */
export type LatencyClass = 'instant' | 'slow';

export interface ToolContract<S extends z.ZodType = z.ZodType> {
  /** snake_case name the LLM calls, also the route `POST /tools/{name}`. */
  name: string;
  /** Written for the LLM: when to call it and what it returns. */
  description: string;
  /** zod schema of the arguments; converted with `z.toJSONSchema` for the LLM's tool list. */
  input: S;
  latencyClass: LatencyClass;
  /** True when a retry with the same call id must not repeat the effect. */
  idempotent: boolean;
  /** Per-call timeout the media service applies. @default 1500 */
  timeoutMs?: number;
}

/** Identity helper that keeps the schema's type for the handler. */
export function defineTool<S extends z.ZodType>(contract: ToolContract<S>): ToolContract<S> {
  return contract;
}
