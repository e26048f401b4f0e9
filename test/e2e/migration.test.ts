// A deploy drops no call: SIGTERM the task holding a live booking call, and the call moves to the other task behind
// the load balancer (hold line, handover in Redis, fresh <Connect><Stream>), finishing with one transcript and one cost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallReport } from '../../local/caller/caller';
import { loadScenario } from '../../local/scenarios/scenario';
import { checkExpect, toolCallsSeen, type LocalStack } from '../../local/stack';
import { call, stackFor, storedTurns } from './helpers';

const booking = loadScenario('booking');
let stack: LocalStack;
let report: CallReport;
let killed: number;

beforeAll(async () => {
  stack = await stackFor(booking, { media: 'child', tasks: 2, scriptCursor: 'emulator', env: { DRAIN_SECONDS: '30' } });
  const placed = call(stack, booking);
  // After the caller's first answer, the task carrying the /media socket is told to go, as ECS does at a deploy.
  const until = Date.now() + 60_000;
  while (stack.emulators.llm.requests.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const holder = [...stack.balancer!.open()].find(([, n]) => n > 0)![0];
  const task = stack.tasks.find((t) => t.port === holder)!;
  killed = holder;
  task.child.kill('SIGTERM');
  report = await placed;
  // The second stream's task writes the call record when the call ends.
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const record = (await stack.transcript(report.callSid)).find((i) => Number(i.turn) === 0);
    if (record?.endedAt) break;
    await new Promise((r) => setTimeout(r, 100));
  }
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

describe('a task told to stop mid-call', () => {
  it('moves the call: the caller completes the booking on the other task', () => {
    expect(report.migrations).toHaveLength(1);
    expect(report.migrations[0]!.reconnectedAt).toBeDefined();
    expect(checkExpect(booking, report, toolCallsSeen(stack))).toEqual([]);
    expect(report.heard).toContain('one moment, please.');
    expect(report.heard).toContain('thanks for waiting.');
    expect(stack.balancer!.healthy()).not.toContain(killed);
    // What the caller lived through; a figure for the notes, not a timing assertion.
    console.log(`migration: agent silence across the move ${report.migrations[0]!.gapMs} ms`);
  });

  it('stores one transcript: turn numbers run on without gaps or repeats, the hold and resume lines included', async () => {
    const turns = await storedTurns(stack, report.callSid);
    const items = (await stack.transcript(report.callSid)).filter((i) => Number(i.turn) > 0).map((i) => Number(i.turn));
    expect(items).toEqual(items.map((_, i) => i + 1));
    const texts = turns.map((t) => t.text);
    expect(texts).toContain('One moment, please.');
    expect(texts).toContain('Thanks for waiting.');
    expect(texts.filter((t) => t === "Hi, I'd like to book a haircut for tomorrow.")).toHaveLength(1);
    expect(turns.at(-1)!.text).toContain('Goodbye');
  });

  it('writes one call record, with the cost of the whole call from its first start', async () => {
    const records = (await stack.transcript(report.callSid)).filter((i) => Number(i.turn) === 0);
    expect(records).toHaveLength(1);
    const record = records[0]!;
    expect(record.endedAt).toBeDefined();
    expect(record.endReason).toBeUndefined();
    const cost = record.cost as { total: number; llm: number; billedMinutes: number } | undefined;
    expect(cost?.total).toBeGreaterThan(0);
    expect(cost?.llm).toBeGreaterThan(0);
    // The call lasted from the first stream's start, not from the move.
    const ms = (v: unknown) => (typeof v === 'number' ? v : Date.parse(String(v)));
    expect(ms(record.endedAt) - ms(record.startedAt)).toBeGreaterThan(report.migrations[0]!.redirectedAt);
  });
});
