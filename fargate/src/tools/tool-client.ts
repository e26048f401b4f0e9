// ToolClient over HTTP: POST {TOOLS_URL}/tools/{name} on a keep-alive agent, per-tool timeout, SigV4 for IAM; failures become speakable results.
import http from 'node:http';
import https from 'node:https';
import { Sha256 } from '@aws-crypto/sha256-js';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ToolContract } from '../../../contracts/tool-contract';
import type { Logger } from '../observability/logger';
import type { ToolCall, ToolClient, ToolResult } from '../providers/types';
import { contractFor as catalogContractFor, isPipelineTool } from './catalog';

export interface ToolClientOptions {
  /** TOOLS_URL: the tools API base (an API Gateway stage URL, or the local adapter). */
  baseUrl: string;
  /** `iam` signs each request with SigV4 for service `execute-api` (API Gateway IAM auth). */
  auth: 'iam' | 'none';
  /** Region for SigV4. */
  region: string;
  log: Logger;
  /** @default the Node default chain (@aws-sdk/credential-provider-node: the Fargate task role in AWS) */
  credentials?: ConstructorParameters<typeof SignatureV4>[0]['credentials'];
  /** Timeout for tools whose contract sets none. @default 1500 (ToolContract.timeoutMs default) */
  defaultTimeoutMs?: number;
  /** Contract lookup. @default the media service catalog */
  contractFor?: (name: string) => ToolContract | undefined;
}

/** A ToolClient that also owns its keep-alive sockets. */
export interface HttpToolClient extends ToolClient {
  /** Destroys the pooled keep-alive sockets (shutdown). */
  close(): void;
}

/** What the caller hears, by failure. Short, no jargon, and never the raw error. */
const SPEAK = {
  unknown: "I'm not able to do that from here.",
  badArguments: "I didn't catch all the details for that. Could you say them again?",
  timeout: 'That system is taking too long to answer right now.',
  upstream: "I couldn't reach that system right now.",
  tooLarge: 'That request was too long for the system to take.',
};

/** `endDate` → "end date", `customer.phone` → "customer phone": a field name the agent can say. */
export function spokenField(field: string): string {
  return field
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[._\-[\]]+/g, ' ')
    .trim()
    .toLowerCase();
}

/** Responses larger than this are refused (the tools API answers a few hundred bytes). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

class ToolHttpError extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'network',
    readonly reusedSocket = false,
  ) {
    super(message);
  }
}

/**
 * Creates the HTTP ToolClient.
 *
 * Transport choice: node:http(s) with one keep-alive Agent rather than global fetch. Node 20's fetch does keep
 * connections alive, but its global undici pool drops idle sockets after 4 s (its keepAliveTimeout default) and
 * undici is not a direct dependency to configure; tool calls in one phone call are often further apart than that,
 * and a fresh TLS handshake to API Gateway costs tens of ms on the reply path. The Agent keeps sockets for 60 s of
 * idleness (and honours the server's Keep-Alive hint); a stale socket reset on reuse is retried once for
 * idempotent tools (safe: the tools API de-duplicates on callSid + toolCallId).
 *
 * @example
 * const tools = createToolClient({ baseUrl: cfg.TOOLS_URL, auth: cfg.TOOLS_AUTH, region: cfg.AWS_REGION, log });
 * const result = await tools.call(call, { callSid, callerPhone, signal: AbortSignal.any([reply.signal]) });
 * messages.push({ role: 'tool', tool_call_id: result.toolCallId, content: result.content });
 */
export function createToolClient(opts: ToolClientOptions): HttpToolClient {
  const base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
  const secure = base.protocol === 'https:';
  const agentOpts = { keepAlive: true, keepAliveMsecs: 1000, maxSockets: 256, timeout: 60_000 };
  const agent = secure ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
  const signer =
    opts.auth === 'iam'
      ? new SignatureV4({ service: 'execute-api', region: opts.region, credentials: opts.credentials ?? defaultProvider(), sha256: Sha256 })
      : undefined;
  const client: Client = { base, wire: { secure, agent, signer }, lookup: opts.contractFor ?? catalogContractFor, log: opts.log, defaultTimeoutMs: opts.defaultTimeoutMs };
  return { call: (call, ctx) => callTool(client, call, ctx), close: () => agent.destroy() };
}

/** What one POST needs: the scheme, the keep-alive agent and the SigV4 signer (IAM auth). */
interface Wire {
  secure: boolean;
  agent: http.Agent;
  signer: SignatureV4 | undefined;
}

interface Client {
  base: URL;
  wire: Wire;
  lookup: (name: string) => ToolContract | undefined;
  log: Logger;
  defaultTimeoutMs: number | undefined;
}

type CallContext = Parameters<ToolClient['call']>[1];

/** One tool call: checked against its contract, posted with its timeout (a stale keep-alive socket retried once if idempotent), answered. */
async function callTool(client: Client, call: ToolCall, ctx: CallContext): Promise<ToolResult> {
  const started = performance.now();
  ctx.signal.throwIfAborted();
  const contract = client.lookup(call.name);
  if (!contract || isPipelineTool(call.name)) {
    client.log.warn({ tool: call.name.slice(0, 64) }, 'LLM called a tool the tools API does not serve');
    return result(call, started, false, { error: `unknown tool ${call.name}`, speakable: SPEAK.unknown });
  }
  const args = jsonObject(call.arguments);
  // The model produced broken JSON: tell it so it can ask again, without a round trip.
  if (!args) return result(call, started, false, { error: 'arguments were not a JSON object', speakable: SPEAK.badArguments });
  const timeoutMs = contract.timeoutMs ?? client.defaultTimeoutMs ?? 1500;
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
  const url = new URL(`tools/${encodeURIComponent(call.name)}`, client.base);
  const body = JSON.stringify({ callSid: ctx.callSid, toolCallId: call.id, ...(ctx.callerPhone ? { callerPhone: ctx.callerPhone } : {}), arguments: args });

  let res: { status: number; text: string };
  try {
    try {
      res = await post(client.wire, url, body, signal);
    } catch (err) {
      if (!(err instanceof ToolHttpError && err.reusedSocket && contract.idempotent && !signal.aborted)) throw err;
      res = await post(client.wire, url, body, signal); // a keep-alive socket the server had already closed
    }
  } catch (err) {
    // The call (or reply) was aborted: the caller hung up or barged in; nobody will speak this result.
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const timedOut = signal.aborted;
    client.log.warn({ tool: call.name, timeoutMs, kind: timedOut ? 'timeout' : 'network', err: timedOut ? undefined : (err as Error).message }, 'tool call failed');
    return result(call, started, false, timedOut ? { error: `timed out after ${timeoutMs} ms`, speakable: SPEAK.timeout } : { error: 'tools API unreachable', speakable: SPEAK.upstream });
  }
  return answer(client.log, call, started, res);
}

/** The tools API's answer as a speakable result: the tool's result, or what the refusal (400/404/413/other) means to the caller. */
function answer(log: Logger, call: ToolCall, started: number, res: { status: number; text: string }): ToolResult {
  const parsed = jsonObject(res.text);
  if (res.status === 200 && parsed && 'result' in parsed) {
    const r = parsed.result as Record<string, unknown> | null;
    // 200 with result.error is the tool's own "couldn't reach" answer (CONTRACTS.md): speakable, but not a success.
    const ok = !(r && typeof r === 'object' && typeof r.error === 'string');
    return result(call, started, ok, { result: r, ...(typeof parsed.speakable === 'string' ? { speakable: parsed.speakable } : {}) });
  }
  log.warn({ tool: call.name, status: res.status }, 'tool call refused');
  if (res.status === 400) {
    const field = typeof parsed?.field === 'string' ? parsed.field : undefined;
    const message = typeof parsed?.error === 'string' ? parsed.error : 'invalid arguments';
    return result(call, started, false, {
      error: message,
      ...(field ? { field } : {}),
      speakable: field ? `I need a valid ${spokenField(field)} for that. Could you tell me again?` : SPEAK.badArguments,
    });
  }
  if (res.status === 404) return result(call, started, false, { error: `unknown tool ${call.name}`, speakable: SPEAK.unknown });
  if (res.status === 413) return result(call, started, false, { error: 'request too large', speakable: SPEAK.tooLarge });
  return result(call, started, false, { error: `tools API answered HTTP ${res.status}`, speakable: SPEAK.upstream });
}

/** `text` parsed as a JSON object, or undefined (not JSON, or an array / scalar / null). */
function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function result(call: ToolCall, started: number, ok: boolean, body: Record<string, unknown>): ToolResult {
  return { toolCallId: call.id, name: call.name, ok, content: JSON.stringify(body), latencyMs: Math.round(performance.now() - started) };
}

/** Request headers, SigV4-signed when the client signs. */
async function headersFor(signer: SignatureV4 | undefined, url: URL, body: string): Promise<Record<string, string>> {
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  };
  if (!signer) return headers;
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      headers,
      body,
    }),
  );
  return signed.headers;
}

/** POSTs `body`; the response body is capped at MAX_RESPONSE_BYTES, and a reset on a reused socket is marked for retry. */
async function post(wire: Wire, url: URL, body: string, signal: AbortSignal): Promise<{ status: number; text: string }> {
  const headers = await headersFor(wire.signer, url, body);
  return new Promise((resolve, reject) => {
    const req = (wire.secure ? https : http).request(url, { method: 'POST', agent: wire.agent, headers, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) return req.destroy(new ToolHttpError('response too large', 'network'));
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (err: Error & { code?: string }) => {
      if (signal.aborted) reject(new ToolHttpError('aborted', 'timeout'));
      else reject(new ToolHttpError(err.message, 'network', req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')));
    });
    req.end(body);
  });
}
