// Tiered inference and the budget guardrail: which model answers each turn, and when a call must wrap up (pure + a per-call planner).
import type { ChatMessage } from '../providers/types';
import type { CostMeter } from './cost-meter';

export type Tier = 'small' | 'large';

/** Router thresholds (all configurable per deployment). */
export interface RouterConfig {
  models: { small: string; large: string };
  /** A prompt at or above this many (estimated) tokens goes to the large model. @default 3000 */
  largeContextTokens?: number;
  /** Tool calls among the last `recentMessages` messages at which the conversation counts as tool-heavy. @default 2 */
  toolHeavyCalls?: number;
  /** @default 8 */
  recentMessages?: number;
  /** The agent profile's own size: `large` keeps the large model unless the budget is spent. @default 'small' */
  profileTier?: Tier;
}

/** Inputs of one routing decision. */
export interface RouteInput {
  messages: ChatMessage[];
  /** Tools offered to the LLM on this turn. */
  toolsOffered: number;
  /** The previous reply called a tool (the caller is mid-task: booking, lookup follow-ups). */
  lastTurnUsedTools: boolean;
  /** Estimated prompt tokens (see {@link estimateTokens}). */
  contextTokens: number;
  /** The call's running cost passed COST_CAP_USD. */
  overBudget: boolean;
  config: RouterConfig;
}

export type RouteReason = 'over-budget' | 'profile' | 'long-context' | 'tool-follow-up' | 'tool-heavy' | 'no-tools' | 'routine';

export interface Route {
  model: string;
  tier: Tier;
  reason: RouteReason;
}

/** Rough prompt size: ~4 characters per token (the usual English estimate for BPE tokenizers) plus per-message overhead. */
export function estimateTokens(messages: ChatMessage[]): number {
  let chars = 0;
  for (const m of messages) {
    chars += 16 + (m.content?.length ?? 0);
    if (m.role === 'assistant') for (const c of m.tool_calls ?? []) chars += c.function.name.length + c.function.arguments.length;
  }
  return Math.ceil(chars / 4);
}

/**
 * Routes one turn. Over budget always means small (cheapest); otherwise a `large` profile stays large, long prompts
 * and tool-heavy stretches (the turn right after a tool result, or several tool calls recently) go large because
 * argument filling and multi-step plans are where small models slip, and routine chit-chat goes small (faster TTFT,
 * ~half the token price: gpt-oss-20b vs -120b, numbers.md §2.1).
 */
export function routeTurn(input: RouteInput): Route {
  const c = input.config;
  const pick = (tier: Tier, reason: RouteReason): Route => ({ model: c.models[tier], tier, reason });
  if (input.overBudget) return pick('small', 'over-budget');
  if ((c.profileTier ?? 'small') === 'large') return pick('large', 'profile');
  if (input.contextTokens >= (c.largeContextTokens ?? 3000)) return pick('large', 'long-context');
  if (input.toolsOffered === 0) return pick('small', 'no-tools');
  if (input.lastTurnUsedTools) return pick('large', 'tool-follow-up');
  const recent = input.messages.slice(-(c.recentMessages ?? 8));
  const calls = recent.reduce((n, m) => n + (m.role === 'assistant' ? (m.tool_calls?.length ?? 0) : 0), 0);
  if (calls >= (c.toolHeavyCalls ?? 2)) return pick('large', 'tool-heavy');
  return pick('small', 'routine');
}

/** The instruction appended to the system prompt once a call's budget is spent. */
export const WRAP_UP_INSTRUCTION =
  'Budget reached: do not start anything new. Briefly summarise what was agreed, say goodbye and close the call politely.';

export interface BudgetDecision {
  overBudget: boolean;
  /** Append to the system prompt of the next turn. */
  instruction?: string;
}

/** The budget guardrail: a call whose running cost passed the cap moves to the small model and wraps up (pure). */
export function budgetDecision(runningUsd: number, capUsd: number): BudgetDecision {
  return runningUsd > capUsd ? { overBudget: true, instruction: WRAP_UP_INSTRUCTION } : { overBudget: false };
}

/** Returns `messages` with `instruction` appended to the system prompt (a copy; the history is not changed). */
export function withSystemInstruction(messages: ChatMessage[], instruction: string | undefined): ChatMessage[] {
  if (!instruction) return messages;
  const i = messages.findIndex((m) => m.role === 'system');
  if (i < 0) return [{ role: 'system', content: instruction }, ...messages];
  const out = [...messages];
  out[i] = { role: 'system', content: `${(messages[i] as { content: string }).content}\n${instruction}` };
  return out;
}

/** What the pipeline uses for the next reply. */
export interface TurnPlan extends Route {
  /** Append to the system prompt (via {@link withSystemInstruction}) when set. */
  instruction?: string;
  /** Running cost of the call when the turn was planned, USD. */
  runningUsd: number;
}

/** Replies planned per tier in one call (reported in the call summary and the CostPerCall EMF properties). */
export interface TierSplit {
  small: number;
  large: number;
  /** Replies planned after the budget cap was passed. */
  overBudget: number;
}

/**
 * One call's router + guardrail: `plan()` before each reply prices the call so far, applies the cap and routes;
 * `noteTurn()` after each reply tells it whether tools were used. Counts the split per tier.
 */
export class TurnPlanner {
  private usedTools = false;
  private readonly tiers: TierSplit = { small: 0, large: 0, overBudget: 0 };

  constructor(
    private readonly meter: CostMeter,
    private readonly opts: { capUsd: number; router: RouterConfig; now?: () => number },
  ) {}

  /** The model and (once over budget) the wrap-up instruction for the next reply. */
  plan(input: { messages: ChatMessage[]; toolsOffered: number }): TurnPlan {
    const runningUsd = this.meter.running((this.opts.now ?? Date.now)()).total;
    const budget = budgetDecision(runningUsd, this.opts.capUsd);
    const route = routeTurn({
      messages: input.messages, toolsOffered: input.toolsOffered, lastTurnUsedTools: this.usedTools,
      contextTokens: estimateTokens(input.messages), overBudget: budget.overBudget, config: this.opts.router,
    });
    this.tiers[route.tier]++;
    if (budget.overBudget) this.tiers.overBudget++;
    return { ...route, instruction: budget.instruction, runningUsd };
  }

  /** After a reply: whether it called any tool (a discarded speculative reply does not count). */
  noteTurn(usedTools: boolean): void {
    this.usedTools = usedTools;
  }

  split(): TierSplit {
    return { ...this.tiers };
  }
}
