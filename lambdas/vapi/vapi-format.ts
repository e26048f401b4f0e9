// Vapi's `tool-calls` webhook as plain data: the three toolCallList item shapes in, `{results:[...]}` strings out (protocols.md §5).
import type { DispatchOutcome } from '../shared/dispatch';

/** One tool call, whatever shape Vapi sent it in. */
export interface VapiToolCall {
  toolCallId: string;
  name: string;
  arguments: unknown;
  /** Set when `arguments` was a string that is not JSON. */
  argumentsError?: string;
}

export interface VapiToolCallsMessage {
  type: string;
  calls: VapiToolCall[];
  /** Vapi's call id, used as our callSid (idempotency, logs). */
  callSid: string;
  callerPhone?: string;
}

/** One entry of Vapi's response; `result` and `error` must be single-line strings. */
export interface VapiToolResult {
  toolCallId: string;
  name: string;
  result?: string;
  error?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** Arguments arrive as an object or as a JSON string (OpenAI-style `function.arguments`). */
function decodeArguments(raw: unknown): { value: unknown; error?: string } {
  if (raw === undefined || raw === null || raw === '') return { value: {} };
  if (typeof raw !== 'string') return { value: raw };
  try {
    return { value: JSON.parse(raw) };
  } catch {
    return { value: undefined, error: 'arguments is not valid JSON' };
  }
}

/**
 * Normalizes one toolCallList item. Shapes tolerated (the docs disagree, protocols.md §5.1):
 * 1. OpenAPI ToolCall `{id, type:"function", function:{name, arguments:"<json>"}}` (also `function.parameters`);
 * 2. custom-tools.mdx `{id, name, arguments:{...}}`;  3. events.mdx `{id, name, parameters:{...}}`.
 */
export function normalizeToolCall(item: unknown, fallbackName?: string): VapiToolCall | undefined {
  if (!isObj(item)) return undefined;
  const fn = isObj(item.function) ? item.function : undefined;
  const toolCallId = str(item.id) ?? str(item.toolCallId);
  const name = str(fn?.name) ?? str(item.name) ?? fallbackName;
  if (!toolCallId || !name) return undefined;
  const raw = fn ? (fn.arguments ?? fn.parameters) : (item.arguments ?? item.parameters);
  const { value, error } = decodeArguments(raw);
  return { toolCallId, name, arguments: value, argumentsError: error };
}

/** Reads the webhook body `{ message: {...} }`; undefined `calls` items are dropped, a body without any is refused. */
export function parseVapiMessage(body: unknown): { ok: true; message: VapiToolCallsMessage } | { ok: false; error: string } {
  if (!isObj(body) || !isObj(body.message)) return { ok: false, error: 'expected a JSON object with a "message" field' };
  const m = body.message;
  const type = str(m.type) ?? 'tool-calls';
  const call = isObj(m.call) ? m.call : undefined;
  const customer = isObj(m.customer) ? m.customer : isObj(call?.customer) ? (call!.customer as Obj) : undefined;
  let calls: VapiToolCall[] = [];
  if (Array.isArray(m.toolCallList)) {
    calls = m.toolCallList.map((i) => normalizeToolCall(i)).filter((c): c is VapiToolCall => c !== undefined);
  }
  if (calls.length === 0 && Array.isArray(m.toolWithToolCallList)) {
    calls = m.toolWithToolCallList
      .map((t) => (isObj(t) ? normalizeToolCall(t.toolCall, str(t.name) ?? (isObj(t.function) ? str(t.function.name) : undefined)) : undefined))
      .filter((c): c is VapiToolCall => c !== undefined);
  }
  if (type === 'tool-calls' && calls.length === 0) return { ok: false, error: 'message.toolCallList has no tool call with an id and a name' };
  return { ok: true, message: { type, calls, callSid: str(call?.id) ?? 'vapi-unknown-call', callerPhone: str(customer?.number) } };
}

/** Vapi parses results line by line: every line break becomes a space (troubleshooting doc: "single-line strings only"). */
export function singleLine(s: string): string {
  return s.replace(/[\r\n\u2028\u2029]+/g, ' ');
}

/** A dispatch outcome as Vapi's result entry: 200 → `result` (JSON text with `speakable` first), 400/404 → `error`. */
export function toVapiResult(call: VapiToolCall, outcome: DispatchOutcome): VapiToolResult {
  const base = { toolCallId: call.toolCallId, name: call.name };
  switch (outcome.status) {
    case 200:
      return { ...base, result: singleLine(JSON.stringify({ speakable: outcome.body.speakable, ...outcome.body.result })) };
    case 404:
      return { ...base, error: singleLine(`${outcome.body.error}. Available tools: ${outcome.body.tools.join(', ')}`) };
    default:
      return { ...base, error: singleLine(outcome.body.error) };
  }
}
