// Adaptive turn-taking end to end: a caller who pauses after "and" is not cut off, and a tracking number read in groups is taken whole.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallReport } from '../../local/caller/caller';
import { loadScenario } from '../../local/scenarios/scenario';
import { checkExpect, toolCallsSeen, type LocalStack } from '../../local/stack';
import { call, settled, stackFor, storedTurns } from './helpers';

// Needs agents `booking-adaptive` (+15550001007) and `shipment-adaptive` (+15550002001) with `endpointing: 'adaptive'`,
// and the call loop telling the detector what the agent said (setAgentContext) so the digits ask is known.
const pause = loadScenario('pause-adaptive');
const digits = loadScenario('digits-adaptive');

describe.each([
  { scenario: pause, cutReply: 'What else would you like', whole: 'haircut and a beard trim on friday' },
  { scenario: digits, cutReply: 'looks too short', whole: 'v a 1 0 0 2' },
])('adaptive turn-taking: $scenario.name', ({ scenario, cutReply, whole }) => {
  let stack: LocalStack;
  let report: CallReport;

  beforeAll(async () => {
    stack = await stackFor(scenario);
    report = await call(stack, scenario);
    await settled(stack, report.callSid);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('meets the scenario expectations', () => {
    expect(checkExpect(scenario, report, toolCallsSeen(stack))).toEqual([]);
  });

  it('never answers the half turn: the caller hears no reply to the words before the pause', () => {
    expect(report.heard.toLowerCase()).not.toContain(cutReply.toLowerCase());
    expect(report.heard.toLowerCase()).not.toContain('could you say that again');
  });

  it('stores the turn whole, as one user message', async () => {
    const turns = await storedTurns(stack, report.callSid);
    const users = turns.filter((t) => t.role === 'user').map((t) => t.text.toLowerCase().replace(/[^a-z0-9 ]/g, ''));
    expect(users.some((u) => u.includes(whole.replace(/[^a-z0-9 ]/g, '')))).toBe(true);
    expect(turns.filter((t) => t.role === 'assistant' && t.interrupted)).toEqual([]);
  });
});
