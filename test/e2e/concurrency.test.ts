// Fifty concurrent booking calls on one local stack: every call completes, each transcript is its own, the slot goes to exactly one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../fargate/src/store/dynamo';
import { localDate } from '../../lambdas/shared/dates';
import { DynamoBusinessData } from '../../lambdas/shared/dynamo-business-data';
import type { CallReport } from '../../local/caller/caller';
import { loadScenario, type Scenario } from '../../local/scenarios/scenario';
import type { LocalStack } from '../../local/stack';
import { call, settled, stackFor, storedTurns } from './helpers';

const CALLS = 50;
const booking = loadScenario('booking');
/** Caller i calls from its own number, so each booking attempt is a different customer. */
const scenarioFor = (i: number): Scenario => ({ ...booking, from: `+1555990${String(1000 + i).slice(-4)}` });
const saidByCaller = booking.steps.flatMap((s) => ('say' in s ? [s.text] : []));

let stack: LocalStack;
let reports: CallReport[] = [];

beforeAll(async () => {
  stack = await stackFor(booking);
  // Staggered starts (Twilio does not connect 50 calls in the same millisecond).
  reports = await Promise.all(
    Array.from({ length: CALLS }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 40));
      return call(stack, scenarioFor(i));
    }),
  );
  await Promise.all(reports.map((r) => settled(stack, r.callSid, 30_000)));
}, 240_000);

afterAll(async () => {
  await stack?.close();
});

describe(`${CALLS} concurrent booking calls`, () => {
  it('all complete every step and hear the agent answer each turn', () => {
    expect(reports.filter((r) => !r.ok).map((r) => r.turns.filter((t) => !t.ok).map((t) => t.error))).toEqual([]);
    for (const r of reports) expect(r.heard).toContain('goodbye');
  });

  it('store one separate, complete transcript per call', async () => {
    const sids = new Set(reports.map((r) => r.callSid));
    expect(sids.size).toBe(CALLS);
    for (const r of reports) {
      const turns = await storedTurns(stack, r.callSid);
      expect(turns.filter((t) => t.role === 'user').map((t) => t.text)).toEqual(saidByCaller);
      expect(turns.filter((t) => t.role === 'assistant')).toHaveLength(5);
      const calls = turns.flatMap((t) => t.toolCalls ?? []).map((c) => c.name);
      expect(calls).toEqual(['check_availability', 'book_appointment']);
    }
  });

  it('never double-book the contested 10 AM slot, and a caller told "booked" holds it', async () => {
    // Everyone asks for the same slot: at most one claim may win (a conditional write), and exactly the callers
    // who heard a confirmation hold a booking. (Under a saturated host a claim may time out; then nobody wins.)
    const heardBooked = reports.filter((r) => r.heard.includes("you're booked"));
    const doc = createDocumentClient({ region: 'us-east-1', endpoint: stack.dynamoEndpoint });
    const data = new DynamoBusinessData(doc, 'business');
    const today = localDate(new Date(), 'America/New_York');
    const holders: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const b = await data.upcomingBookings(scenarioFor(i).from, today);
      if (b.some((x) => x.service === 'haircut' && x.time === '10:00' && x.status === 'booked')) holders.push(i);
    }
    doc.destroy();
    expect(holders.length).toBeLessThanOrEqual(1);
    // Whoever heard a confirmation holds the slot. (The converse can fail on a saturated host: a claim that lands
    // after the tool's deadline is reported to the caller as not booked — see the report.)
    for (const r of heardBooked) expect(holders).toContain(reports.indexOf(r));
    expect(heardBooked.length).toBeLessThanOrEqual(1);
    expect(reports.filter((r) => r.heard.includes('that time is no longer free')).length).toBeGreaterThanOrEqual(CALLS - 1 - reports.filter((r) => !r.heard.includes('shall i book it')).length);
  });
});
