// THE tool call path shared by the tool Lambdas, the Vapi webhook and the local adapter: validate → run in budget → metrics.
import { setMaxListeners } from 'node:events';
import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
// Namespace import: lets esbuild drop the parts of zod we don't use (~85 KB instead of ~450 KB minified).
import * as z from 'zod';
import { toolContracts } from '../../contracts/catalog';
import type { ToolContract } from '../../contracts/tool-contract';
import { json, readJsonBody } from './http';
import { newMeasures } from './observability';
import type { ToolRuntime } from './runtime';
import type { ToolContext, ToolImpl, ToolOutput } from './tool';

/** What the agent hears when the data source is down or slower than the tool's budget (CONTRACTS.md). */
export const UPSTREAM_FAILURE = "I couldn't reach that system";

/** One tool call, whichever front door it came through. */
export interface ToolRequest {
  callSid: string;
  toolCallId: string;
  callerPhone?: string;
  arguments: unknown;
}

/** The outcome in HTTP terms; the Vapi handler maps it to its own result/error strings. */
export type DispatchOutcome =
  | { status: 200; body: ToolOutput }
  | { status: 400; body: { error: string; field?: string } }
  | { status: 404; body: { error: string; tools: string[] } };

/** The body of `POST /tools/{name}` (CONTRACTS.md). */
export const toolRequestSchema = z.object({
  callSid: z.string().min(1).max(128),
  toolCallId: z.string().min(1).max(128),
  callerPhone: z.string().min(1).max(32).optional(),
  arguments: z.record(z.string(), z.unknown()).default({}),
});

/**
 * How long the handler may spend: the media service's timeout for the tool minus 250 ms, so the speakable
 * "couldn't reach" answer gets back before the caller side gives up.
 */
export function budgetMs(contract: ToolContract, scale = 1): number {
  return Math.round(Math.max(100, (contract.timeoutMs ?? 1500) - 250) * scale);
}

/** A zod failure as 400 naming the first bad field. */
export function invalid(error: z.ZodError, prefix = ''): { status: 400; body: { error: string; field?: string } } {
  const issue = error.issues[0]!;
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || undefined;
  return { status: 400, body: { error: field ? `Invalid argument '${field}': ${issue.message}` : `Invalid arguments: ${issue.message}`, field } };
}

class DeadlineError extends Error {
  override name = 'DeadlineError';
}

/** Resolves with `work`, or rejects when `signal` aborts even if `work` ignores the signal. */
function withDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new DeadlineError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DeadlineError());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

const idempotentRuns = new WeakMap<ToolRuntime, Map<string, (p: unknown, ctx: ToolContext) => Promise<ToolOutput>>>();

/** `impl.run` behind Powertools idempotency (key: callSid + toolCallId; arguments are validated to match). */
function idempotentRun(runtime: ToolRuntime, impl: ToolImpl): (p: unknown, ctx: ToolContext) => Promise<ToolOutput> {
  let perRuntime = idempotentRuns.get(runtime);
  if (!perRuntime) idempotentRuns.set(runtime, (perRuntime = new Map()));
  let fn = perRuntime.get(impl.contract.name);
  if (!fn) {
    const { persistenceStore, config } = runtime.idempotency(impl.contract.name, budgetMs(impl.contract, runtime.config.timeoutScale));
    fn = makeIdempotent(
      async (payload: { arguments: unknown }, ctx: ToolContext): Promise<ToolOutput> => impl.run(payload.arguments, ctx),
      { persistenceStore, config, keyPrefix: impl.contract.name, dataIndexArgument: 0 },
    ) as (p: unknown, ctx: ToolContext) => Promise<ToolOutput>;
    perRuntime.set(impl.contract.name, fn);
  }
  return fn;
}

async function execute(runtime: ToolRuntime, impl: ToolImpl, args: unknown, req: ToolRequest, ctx: ToolContext): Promise<ToolOutput> {
  if (!impl.writes) return impl.run(args, ctx);
  const run = idempotentRun(runtime, impl);
  const payload = { callSid: req.callSid, toolCallId: req.toolCallId, arguments: args };
  for (;;) {
    try {
      return await run(payload, ctx);
    } catch (err) {
      // A concurrent duplicate (e.g. a retry racing the original): wait for the original's stored result.
      if ((err as Error)?.name !== 'IdempotencyAlreadyInProgressError' || ctx.signal.aborted) throw err;
      await new Promise((r) => setTimeout(r, 40));
    }
  }
}

/**
 * Runs one tool call: unknown tool → 404 listing the tools; invalid arguments → 400 naming the field;
 * otherwise 200 with the tool's output, or with the speakable "couldn't reach that system" result when the
 * data source fails or outlasts the budget. Records ToolHandlerTime and the cache counts for the call.
 */
export async function dispatch(runtime: ToolRuntime, tools: readonly ToolImpl[], name: string, req: ToolRequest): Promise<DispatchOutcome> {
  const impl = tools.find((t) => t.contract.name === name);
  if (!impl) {
    return { status: 404, body: { error: `Unknown tool '${name}'`, tools: toolContracts.map((c) => c.name) } };
  }
  const parsed = impl.contract.input.safeParse(req.arguments ?? {});
  if (!parsed.success) return invalid(parsed.error);

  const started = performance.now();
  const measures = newMeasures();
  const budget = budgetMs(impl.contract, runtime.config.timeoutScale);
  const signal = AbortSignal.timeout(budget);
  // Each parallel data source request listens on the signal; a 15-day availability read makes ~16 of them.
  setMaxListeners(64, signal);
  const ctx: ToolContext = {
    callSid: req.callSid,
    toolCallId: req.toolCallId,
    callerPhone: req.callerPhone,
    signal,
    now: runtime.clock(),
    timeZone: runtime.config.timeZone,
    data: runtime.data,
    cached: (cacheName, args, policy, load) => runtime.cache.read(cacheName, args, policy, load, measures, signal),
    invalidate: (cacheName, argsList) => runtime.cache.invalidate(cacheName, argsList, measures),
  };
  try {
    const output = await withDeadline(execute(runtime, impl, parsed.data, req, ctx), signal);
    return { status: 200, body: output };
  } catch (err) {
    const e = err as Error;
    if (e?.name === 'IdempotencyValidationError') {
      return { status: 400, body: { error: 'toolCallId was already used with different arguments', field: 'toolCallId' } };
    }
    const timedOut = e instanceof DeadlineError || signal.aborted;
    runtime.log.warn(timedOut ? 'tool exceeded its budget' : 'tool data source failed', {
      tool: name,
      callSid: req.callSid,
      budgetMs: budget,
      error: e?.name,
    });
    return {
      status: 200,
      body: { result: { error: UPSTREAM_FAILURE, retryable: true }, speakable: `Sorry, ${UPSTREAM_FAILURE} just now. Could we try again in a moment?` },
    };
  } finally {
    runtime.metrics.record(name, performance.now() - started, measures);
  }
}

/** The last path segment, for events without pathParameters (e.g. a `$default` route). */
function nameFromPath(rawPath: string): string {
  return decodeURIComponent(rawPath.split('/').filter(Boolean).pop() ?? '');
}

/**
 * The API Gateway HTTP API handler for `POST /tools/{name}` serving `tools` (one per Lambda in AWS, all five
 * in the local adapter). 413 → 400 (JSON/envelope) → {@link dispatch}.
 */
export function toolsHttpHandler(
  tools: readonly ToolImpl[],
  runtime: () => ToolRuntime,
): (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2> {
  return async (event) => {
    const rt = runtime();
    const body = readJsonBody(event, rt.config.maxBodyBytes);
    if (!body.ok) return body.response;
    const envelope = toolRequestSchema.safeParse(body.value);
    if (!envelope.success) {
      const out = invalid(envelope.error);
      return json(400, { error: out.body.error.replace('Invalid argument', 'Invalid field'), field: out.body.field });
    }
    const name = event.pathParameters?.name ?? nameFromPath(event.rawPath);
    const outcome = await dispatch(rt, tools, name, envelope.data);
    return json(outcome.status, outcome.body);
  };
}
