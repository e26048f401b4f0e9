// Pins tiered inference and the budget guardrail: routing rules, the mid-call switch to the small model with a wrap-up instruction, the split.
import { describe, expect, it } from 'vitest';
import type { PriceTable } from '../../../lib/config';
import { CostMeter } from '../../../fargate/src/observability/cost-meter';
import { budgetDecision, estimateTokens, routeTurn, TurnPlanner, withSystemInstruction, WRAP_UP_INSTRUCTION, type RouteInput, type TurnPlan } from '../../../fargate/src/observability/router';
import type { ChatMessage } from '../../../fargate/src/providers/types';
import { T0 } from './fixtures';

const models = { small: 'openai/gpt-oss-20b', large: 'openai/gpt-oss-120b' };
const chat: ChatMessage[] = [
  { role: 'system', content: 'You book haircuts.' },
  { role: 'assistant', content: 'Hi, how can I help?' },
  { role: 'user', content: 'What time do you open?' },
];
const toolCall = (name: string): ChatMessage => ({ role: 'assistant', content: null, tool_calls: [{ id: name, type: 'function', function: { name, arguments: '{}' } }] });
const base = (over: Partial<RouteInput> = {}): RouteInput => ({
  messages: chat, toolsOffered: 4, lastTurnUsedTools: false, contextTokens: 200, overBudget: false, config: { models }, ...over,
});

describe('routeTurn', () => {
  it('sends a routine turn to the small model', () => {
    expect(routeTurn(base())).toEqual({ model: models.small, tier: 'small', reason: 'routine' });
  });

  it('sends the turn after a tool call, a tool-heavy stretch and a long context to the large model', () => {
    expect(routeTurn(base({ lastTurnUsedTools: true }))).toMatchObject({ tier: 'large', reason: 'tool-follow-up', model: models.large });
    const heavy = [...chat, toolCall('check_availability'), { role: 'tool', tool_call_id: 'x', content: '{}' } as ChatMessage, toolCall('lookup_customer'), { role: 'user', content: 'ok' } as ChatMessage];
    expect(routeTurn(base({ messages: heavy }))).toMatchObject({ tier: 'large', reason: 'tool-heavy' });
    expect(routeTurn(base({ contextTokens: 3000 }))).toMatchObject({ tier: 'large', reason: 'long-context' });
    expect(routeTurn(base({ contextTokens: 2999 }))).toMatchObject({ tier: 'small' });
  });

  it('honours configured thresholds and a large profile, and goes small without tools', () => {
    expect(routeTurn(base({ contextTokens: 900, config: { models, largeContextTokens: 800 } }))).toMatchObject({ tier: 'large', reason: 'long-context' });
    expect(routeTurn(base({ messages: [...chat, toolCall('a')], config: { models, toolHeavyCalls: 1 } }))).toMatchObject({ tier: 'large', reason: 'tool-heavy' });
    expect(routeTurn(base({ config: { models, profileTier: 'large' } }))).toMatchObject({ tier: 'large', reason: 'profile' });
    expect(routeTurn(base({ toolsOffered: 0, lastTurnUsedTools: true }))).toMatchObject({ tier: 'small', reason: 'no-tools' });
  });

  it('always picks the small model once over budget, even for a large profile or a long context', () => {
    expect(routeTurn(base({ overBudget: true, contextTokens: 10_000, lastTurnUsedTools: true, config: { models, profileTier: 'large' } }))).toEqual({
      model: models.small, tier: 'small', reason: 'over-budget',
    });
  });

  it('estimates prompt tokens at ~4 characters each', () => {
    const n = estimateTokens([{ role: 'user', content: 'x'.repeat(400) }]);
    expect(n).toBe(Math.ceil((400 + 16) / 4));
  });
});

describe('budget guardrail', () => {
  it('trips only above the cap and asks for a polite wrap-up', () => {
    expect(budgetDecision(0.5, 0.5)).toEqual({ overBudget: false });
    expect(budgetDecision(0.5001, 0.5)).toEqual({ overBudget: true, instruction: WRAP_UP_INSTRUCTION });
    expect(WRAP_UP_INSTRUCTION).toMatch(/Budget reached/);
  });

  it('appends the instruction to the system prompt of a copy, leaving the history alone', () => {
    const out = withSystemInstruction(chat, WRAP_UP_INSTRUCTION);
    expect(out[0]).toEqual({ role: 'system', content: `You book haircuts.\n${WRAP_UP_INSTRUCTION}` });
    expect(chat[0]).toEqual({ role: 'system', content: 'You book haircuts.' });
    expect(withSystemInstruction(chat, undefined)).toBe(chat);
    expect(withSystemInstruction([{ role: 'user', content: 'hi' }], 'X')[0]).toEqual({ role: 'system', content: 'X' });
  });

  it('switches the call to the small model with the wrap-up instruction on the turn after its running cost crosses the cap', () => {
    // Only LLM tokens cost money here, so the crossing point is exact: $0.10 per large reply of 100k input tokens.
    const prices: PriceTable = {
      pricesAsOf: '2026-01-01', twilio: { inboundPerMin: 0, mediaStreamsPerMin: 0 }, deepgram: { nova3PerMin: 0, fluxPerMin: 0 },
      llm: { [models.small]: { inputPerMTok: 0.5, outputPerMTok: 0 }, [models.large]: { inputPerMTok: 1, outputPerMTok: 0 } },
      elevenlabs: { per1kChars: 0 }, fargate: { vcpuHour: 0, gbHour: 0 }, lambda: { perRequest: 0, perGbSecond: 0 },
    };
    let now = T0;
    const meter = new CostMeter({ prices, startedAt: T0, stt: 'nova' });
    const planner = new TurnPlanner(meter, { capUsd: 0.25, router: { models }, now: () => now });
    const plans: TurnPlan[] = [];
    // The caller is mid-booking: every reply calls a tool, so the router keeps the large model…
    for (let turn = 1; turn <= 5; turn++) {
      now += 10_000;
      const plan = planner.plan({ messages: chat, toolsOffered: 4 });
      plans.push(plan);
      meter.addReply({ model: plan.model, inputTokens: 100_000, outputTokens: 0, ttsChars: 0, wasted: false });
      planner.noteTurn(true);
    }
    // Reply 1 is routine (no tool used yet), then the large model while tools are in use, until the running cost
    // passes $0.25: after reply 3 it is exactly 0.25 (not over), after reply 4 it is 0.35 → reply 5 wraps up, small.
    expect(plans.map((p) => p.tier)).toEqual(['small', 'large', 'large', 'large', 'small']);
    [0, 0.05, 0.15, 0.25, 0.35].forEach((usd, i) => expect(plans[i]!.runningUsd).toBeCloseTo(usd, 12));
    expect(plans.slice(0, 4).every((p) => p.instruction === undefined)).toBe(true);
    expect(plans[4]).toMatchObject({ tier: 'small', reason: 'over-budget', model: models.small, instruction: WRAP_UP_INSTRUCTION });
    expect(withSystemInstruction(chat, plans[4]!.instruction)[0]!.content).toContain('Budget reached');
    expect(planner.split()).toEqual({ small: 2, large: 3, overBudget: 1 });
  });
});
