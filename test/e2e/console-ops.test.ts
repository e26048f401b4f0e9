// The console's reach into a live call, through the local stack: flags for review (the frustration scenario), and
// operator commands on the real Redis channel — take over (<Dial> at the Twilio emulator), hang up, whisper (the next
// reply changes), and malformed commands that change nothing.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorChannel, type ConsoleEvent, type OperatorCommand } from '../../contracts/console';
import type { CallReport } from '../../local/caller/caller';
import { loadScenario, parseScenario } from '../../local/scenarios/scenario';
import { checkExpect, toolCallsSeen, type LocalStack } from '../../local/stack';
import { call, settled, stackFor, storedTurns } from './helpers';

const frustrated = loadScenario('frustrated');

/** A booking call with a quiet stretch after the first answer, for the operator to act in. */
const operated = parseScenario({
  name: 'operated',
  agent: 'booking',
  from: '+15551230008',
  to: '+15550001000',
  steps: [
    { waitForAgent: true },
    { say: 'booking-1', text: "Hi, I'd like to book a haircut for tomorrow." },
    { waitForAgent: true },
    { pause: 3000 },
    { say: 'booking-2', text: 'Ten AM works for me.' },
    { waitForAgent: true },
    { say: 'booking-4', text: "No, that's all. Thanks, bye." },
    { waitForAgent: true },
    { hangup: true },
  ],
  llm: [
    // The whispered instruction reaches the model as a system message; a model that follows it says so.
    { when: { system: 'Operator instruction.*parking is free', lastUser: '\\bten\\b' }, reply: { text: 'Ten AM it is, and parking is free for you today.' } },
    { when: { lastUser: '\\bten\\b' }, reply: { text: 'Ten AM it is.' } },
    { when: { lastUser: 'haircut' }, reply: { text: 'Sure, what time tomorrow?' } },
    { when: { lastUser: 'bye' }, reply: { text: 'Thanks for calling. Goodbye!' } },
    { when: {}, reply: { text: 'Sorry, could you say that again?' } },
  ],
  expect: { heard: ['what time tomorrow', 'goodbye'], transfer: false },
});

const OPERATOR = 'arn:aws:iam::123456789012:user/operator';
const events: ConsoleEvent[] = [];
let stack: LocalStack;
let pub: Redis;
/** When `operate` published its commands (wall clock). */
let publishedAt = 0;

const newSid = () => `CA${randomBytes(16).toString('hex')}`;
const eventsOf = (sid: string) => events.filter((e) => 'callSid' in e && e.callSid === sid);
const updatesOf = (sid: string) => stack.emulators.twilio.requests.filter((r) => r.callSid === sid);

function command(action: OperatorCommand['action']): string {
  return JSON.stringify({ action, by: OPERATOR, connectionId: 'conn-1', at: Date.now() } satisfies OperatorCommand);
}

/** Waits until the call has answered `n` caller turns (the agent's reply was heard). */
async function answered(sid: string, n: number, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while ((stack.calls.get(sid)?.turns.filter((t) => !t.discarded).length ?? 0) < n) {
    if (Date.now() > until) throw new Error(`call ${sid} did not answer ${n} turns within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Places the operated call and, once the first answer was heard, publishes `messages` on its channel. */
async function operate(messages: (sid: string) => string[]): Promise<{ sid: string; report: CallReport; receivers: number[] }> {
  const sid = newSid();
  stack.emulators.setScenario(operated);
  const placed = call(stack, operated, { callSid: sid });
  await answered(sid, 1);
  const receivers: number[] = [];
  publishedAt = Date.now();
  for (const m of messages(sid)) receivers.push(await pub.publish(operatorChannel(sid), m));
  const report = await placed;
  await settled(stack, sid);
  return { sid, report, receivers };
}

beforeAll(async () => {
  stack = await stackFor(frustrated, { liveFeed: { publish: (e) => void events.push(e) } });
  pub = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
}, 60_000);

afterAll(async () => {
  pub?.disconnect();
  await stack?.close();
});

describe('flags for review', () => {
  it('a caller who repeats themselves and complains raises the frustration flag once, then goes to a person', async () => {
    const sid = newSid();
    stack.emulators.setScenario(frustrated);
    const report = await call(stack, frustrated, { callSid: sid });
    await settled(stack, sid);
    const flags = eventsOf(sid).filter((e) => e.type === 'flag');
    expect(flags).toEqual([
      { type: 'flag', callSid: sid, at: expect.any(Number), flag: { kind: 'frustration', recommended: 'take-over', detail: expect.stringContaining('repeated themselves') } },
    ]);
    // The console is told why the call goes to a person.
    expect(eventsOf(sid).filter((e) => e.type === 'escalation')).toEqual([{ type: 'escalation', callSid: sid, reason: 'frustration', at: expect.any(Number) }]);
    // The flag came with the second caller turn (repeat + "I said"), before the third.
    expect(checkExpect(frustrated, report, toolCallsSeen(stack))).toEqual([]);
    expect(report.transferred).toContain('+15557654321');
    const record = (await stack.transcript(sid)).find((i) => Number(i.turn) === 0);
    expect(String(record?.summary)).toMatch(/^Escalated: frustration\./);
    const noted = (await storedTurns(stack, sid)).flatMap((t) => t.toolCalls ?? []).map((c) => c.name);
    expect(noted).toContain('flag.frustration');
  }, 90_000);
});

describe('operator actions on the Redis channel', () => {
  it('take-over transfers the call to the operator\'s number with the summary, and is recorded and announced', async () => {
    const { sid, report, receivers } = await operate((sid) => [command({ action: 'take-over', id: 'take-1', callSid: sid, to: '+15550009999' })]);
    expect(receivers).toEqual([1]);
    const dial = updatesOf(sid).map((u) => u.params.Twiml ?? '');
    expect(dial).toHaveLength(1);
    expect(dial[0]).toMatch(/<Dial[^>]*>\s*<Number>\+15550009999<\/Number>\s*<\/Dial>/);
    expect(report.transferred).toContain('+15550009999');
    expect(report.heard).toContain('let me connect you');
    expect(eventsOf(sid).filter((e) => e.type === 'operator-action')).toEqual([
      { type: 'operator-action', callSid: sid, action: 'take-over', by: OPERATOR, ok: true, at: expect.any(Number) },
    ]);
    const record = (await stack.transcript(sid)).find((i) => Number(i.turn) === 0);
    expect(record?.escalated).toBe(true);
    expect(String(record?.summary)).toMatch(/^Escalated: operator\. Caller said: "Hi, I'd like to book a haircut for tomorrow\."\./);
    const noted = (await storedTurns(stack, sid)).flatMap((t) => t.toolCalls ?? []).find((c) => c.name === 'operator.take-over');
    // The transcript writer redacts the number like any phone number in stored arguments.
    expect(JSON.parse(noted!.arguments)).toMatchObject({ by: OPERATOR, to: '[phone]' });
    expect(noted).toMatchObject({ ok: true });
    // UNSUBSCRIBE at the call's end: nobody listens on the channel any more.
    expect(await pub.publish(operatorChannel(sid), command({ action: 'hang-up', id: 'late', callSid: sid }))).toBe(0);
  }, 90_000);

  it('hang-up ends the call through Twilio (Status=completed) before the caller finished', async () => {
    const { sid, report } = await operate((sid) => [command({ action: 'hang-up', id: 'hang-1', callSid: sid })]);
    expect(updatesOf(sid).map((u) => u.params.Status)).toEqual(['completed']);
    // A figure for the notes, not a timing assertion: PUBLISH to Twilio's hang-up request.
    console.log(`operator hang-up: PUBLISH → Twilio Status=completed ${updatesOf(sid)[0]!.at - publishedAt} ms`);
    expect(report.completed).toBe(false);
    expect(report.heard).not.toContain('ten am it is');
    expect(stack.calls.get(sid)?.summary?.escalated).toBe(false);
    expect(eventsOf(sid).filter((e) => e.type === 'operator-action').map((e) => [e.type === 'operator-action' && e.action, e.type === 'operator-action' && e.ok])).toEqual([['hang-up', true]]);
  }, 90_000);

  it('whisper changes the agent\'s next reply, without being spoken', async () => {
    const { sid, report } = await operate((sid) => [command({ action: 'whisper', id: 'w-1', callSid: sid, text: 'Tell the caller parking is free today.' })]);
    expect(checkExpect(operated, report, toolCallsSeen(stack))).toEqual([]);
    expect(report.heard).toContain('parking is free for you today');
    expect(report.heard).not.toContain('operator instruction');
    expect(updatesOf(sid)).toEqual([]);
    expect(eventsOf(sid).filter((e) => e.type === 'operator-action').map((e) => e.type === 'operator-action' && e.ok)).toEqual([true]);
    const noted = (await storedTurns(stack, sid)).flatMap((t) => t.toolCalls ?? []).find((c) => c.name === 'operator.whisper');
    expect(JSON.parse(noted!.arguments)).toMatchObject({ text: 'Tell the caller parking is free today.' });
  }, 90_000);

  it('malformed commands, a command for another call and a replayed id are ignored: the call goes on unchanged', async () => {
    const other = newSid();
    const { sid, report, receivers } = await operate((sid) => [
      'not json',
      JSON.stringify({ action: { action: 'take-over', id: 'x', callSid: sid, to: '555' }, by: OPERATOR, connectionId: 'c', at: 1 }),
      JSON.stringify({ action: { action: 'explode', id: 'x', callSid: sid }, by: OPERATOR, connectionId: 'c', at: 1 }),
      command({ action: 'hang-up', id: 'other', callSid: other }),
      command({ action: 'whisper', id: 'w-2', callSid: sid, text: 'Say nothing special.' }),
      command({ action: 'hang-up', id: 'w-2', callSid: sid }),
    ]);
    expect(receivers).toEqual([1, 1, 1, 1, 1, 1]);
    expect(checkExpect(operated, report, toolCallsSeen(stack))).toEqual([]);
    expect(report.completed).toBe(true);
    // Without the parking whisper the model answers as scripted.
    expect(report.heard).toContain('ten am it is.');
    expect(report.heard).not.toContain('parking');
    expect(updatesOf(sid)).toEqual([]);
    // Only the one valid command was applied; its replayed id was not.
    expect(eventsOf(sid).filter((e) => e.type === 'operator-action').map((e) => e.type === 'operator-action' && e.action)).toEqual(['whisper']);
  }, 90_000);
});

describe('the budget guardrail', () => {
  let capped: LocalStack;
  const flagged: ConsoleEvent[] = [];
  const booking = loadScenario('booking');

  beforeAll(async () => {
    // A cap the call passes within its first second (telephony alone bills by the elapsed minute).
    capped = await stackFor(booking, { env: { COST_CAP_USD: '0.0001' }, liveFeed: { publish: (e) => void flagged.push(e) } });
  }, 60_000);
  afterAll(async () => {
    await capped?.close();
  });

  it('raises the guardrail flag once, with review-after, and the call goes on to wrap up', async () => {
    const sid = newSid();
    const report = await call(capped, booking, { callSid: sid });
    await settled(capped, sid);
    const flags = flagged.filter((e) => e.type === 'flag' && e.callSid === sid);
    expect(flags).toEqual([{ type: 'flag', callSid: sid, at: expect.any(Number), flag: { kind: 'guardrail', recommended: 'review-after', detail: expect.stringMatching(/passed the cap of 0\.0001 USD/) } }]);
    expect(report.turns.filter((t) => !t.ok)).toEqual([]);
    const noted = (await storedTurns(capped, sid)).flatMap((t) => t.toolCalls ?? []).map((c) => c.name);
    expect(noted.filter((n) => n.startsWith('flag.'))).toEqual(['flag.guardrail']);
  }, 90_000);
});
