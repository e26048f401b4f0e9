// Scenario LLM rules: which scripted reply a chat-completions request gets (pure; CONTRACTS.md `when` semantics).

/** A tool call the emulated model makes. `arguments` may be an object (serialized to JSON on the wire) or a JSON string. */
export interface ToolCallSpec {
  name: string;
  arguments?: Record<string, unknown> | string;
  /** Wire id; generated when absent. */
  id?: string;
}

/** A scripted reply: text, one tool call, several tool calls, or text followed by tool calls. */
export interface LlmReply {
  text?: string;
  toolCall?: ToolCallSpec;
  toolCalls?: ToolCallSpec[];
}

/** Conditions (all optional, all must hold; each is a case-insensitive regex). */
export interface LlmWhen {
  /** Matches the last user message; only when the conversation's latest non-system message is from the user. */
  lastUser?: string;
  /** Matches the name of the tool whose result is the latest message. */
  lastTool?: string;
  /** Matches the content of that tool result message. */
  lastToolResult?: string;
  /** Matches the system prompt (all system messages joined by a newline). */
  system?: string;
}

/** One scenario rule: first match wins. */
export interface LlmRule {
  when: LlmWhen;
  reply: LlmReply;
}

/** The subset of an OpenAI chat message the rules read. */
export interface ChatMessageLike {
  role: string;
  content?: unknown;
  name?: string;
  tool_call_id?: string;
  tool_calls?: { id?: string; function?: { name?: string } }[];
}

/** Text of a message's content: a string, or the `text` parts of a content array. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join('');
  }
  return '';
}

function test(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  return new RegExp(pattern, 'i').test(value);
}

/** Name of the tool a `tool` message answers: its `name`, else the assistant tool_call with the same id. */
function toolNameOf(messages: readonly ChatMessageLike[], index: number): string | undefined {
  const msg = messages[index]!;
  if (msg.name) return msg.name;
  for (let i = index - 1; i >= 0; i--) {
    const call = messages[i]!.tool_calls?.find((c) => c.id === msg.tool_call_id);
    if (call) return call.function?.name;
  }
  return undefined;
}

/**
 * True when `when` holds for `messages`. `lastUser` needs the latest non-system message to be the user's: otherwise a
 * rule like `{lastUser: "haircut"} → toolCall` would fire again after its own tool result and loop forever.
 */
export function ruleMatches(when: LlmWhen, messages: readonly ChatMessageLike[]): boolean {
  const system = messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => contentText(m.content)).join('\n');
  let lastIndex = messages.length - 1;
  while (lastIndex >= 0 && (messages[lastIndex]!.role === 'system' || messages[lastIndex]!.role === 'developer')) lastIndex--;
  const last = lastIndex >= 0 ? messages[lastIndex] : undefined;
  if (when.system !== undefined && !test(when.system, system)) return false;
  if (when.lastUser !== undefined && !(last?.role === 'user' && test(when.lastUser, contentText(last.content)))) return false;
  if (when.lastTool !== undefined || when.lastToolResult !== undefined) {
    if (last?.role !== 'tool') return false;
    if (when.lastTool !== undefined && !test(when.lastTool, toolNameOf(messages, lastIndex))) return false;
    if (when.lastToolResult !== undefined && !test(when.lastToolResult, contentText(last.content))) return false;
  }
  return true;
}

/**
 * First rule whose `when` holds, or undefined. With `offeredTools` (the request's tool names), a rule whose reply
 * calls a tool that was not offered is skipped: a model cannot call a tool it was not given. Invalid regexes throw.
 */
export function matchRule(rules: readonly LlmRule[], messages: readonly ChatMessageLike[], offeredTools?: readonly string[]): LlmReply | undefined {
  return rules.find(
    (r) => ruleMatches(r.when ?? {}, messages) && (offeredTools === undefined || replyToolCalls(r.reply).every((c) => offeredTools.includes(c.name))),
  )?.reply;
}

/** Tool calls of a reply as one list (toolCall first, then toolCalls). */
export function replyToolCalls(reply: LlmReply): ToolCallSpec[] {
  return [...(reply.toolCall ? [reply.toolCall] : []), ...(reply.toolCalls ?? [])];
}

/** Wire form of tool-call arguments: objects become JSON, strings pass through, absent → "{}". */
export function argumentsJson(args: ToolCallSpec['arguments']): string {
  if (args === undefined) return '{}';
  return typeof args === 'string' ? args : JSON.stringify(args);
}

/** Checks a rules array from a scenario file; throws naming the first bad rule. */
export function validateRules(rules: unknown): LlmRule[] {
  if (!Array.isArray(rules)) throw new Error('scenario "llm" must be an array of rules');
  rules.forEach((r, i) => {
    const rule = r as Partial<LlmRule> | null;
    if (!rule || typeof rule !== 'object' || !rule.reply || typeof rule.reply !== 'object') {
      throw new Error(`llm rule ${i}: needs a "reply" object`);
    }
    const { text, toolCall, toolCalls } = rule.reply;
    if (text === undefined && !toolCall && !toolCalls?.length) throw new Error(`llm rule ${i}: reply needs "text" or "toolCall"`);
    for (const call of replyToolCalls(rule.reply)) {
      if (!call || typeof call.name !== 'string' || !call.name) throw new Error(`llm rule ${i}: toolCall needs a "name"`);
    }
    for (const [k, v] of Object.entries(rule.when ?? {})) {
      if (!['lastUser', 'lastTool', 'lastToolResult', 'system'].includes(k)) throw new Error(`llm rule ${i}: unknown "when" key ${k}`);
      try {
        new RegExp(String(v), 'i');
      } catch (err) {
        throw new Error(`llm rule ${i}: "when.${k}" is not a valid regex: ${(err as Error).message}`);
      }
    }
  });
  return rules as LlmRule[];
}
