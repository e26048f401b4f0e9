// End to end through the whole local stack (real Redis, dynalite, emulators, SDKs, simulated caller): booking, human handoff, keypad, thinking pause.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../fargate/src/store/dynamo';
import { DynamoBusinessData } from '../../lambdas/shared/dynamo-business-data';
import { localDate } from '../../lambdas/shared/dates';
import type { CallReport } from '../../local/caller/caller';
import { loadScenario, type Scenario } from '../../local/scenarios/scenario';
import { checkExpect, SEED_BUDGET, toolCallsSeen, type LocalStack } from '../../local/stack';
import { call, settled, stackFor, storedTurns } from './helpers';

const booking = loadScenario('booking');
const human = loadScenario('human');
const keypad = loadScenario('keypad');
const pause = loadScenario('pause');
/** The same thinking pause on the aggressive (300 ms) profile. */
const pauseQuick: Scenario = { ...pause, name: 'pause-quick', agent: 'booking-quick', to: '+15550001001' };

/** The LLM provider is down (503 on every request, retries included). */
const llmDown: Scenario = {
  ...booking,
  name: 'llm-down',
  steps: [{ waitForAgent: true }, { say: 'booking-2', text: 'Ten AM works for me.' }, { waitForAgent: true }, { hangup: true }],
};

/** The model itself decides: a transfer tool call, and (another call) a payment handed to Twilio <Pay>. */
const firstTurn = [{ waitForAgent: true as const }, { say: 'booking-1', text: "Hi, I'd like to book a haircut for tomorrow." }, { waitForAgent: true as const }, { hangup: true as const }];
const toolTransfer: Scenario = {
  ...booking,
  name: 'tool-transfer',
  steps: firstTurn,
  llm: [{ when: { lastUser: 'haircut' }, reply: { toolCall: { name: 'transfer_to_human', arguments: { reason: 'wants a stylist to call back' } } } }],
  expect: { transfer: true },
};
const payment: Scenario = {
  ...booking,
  name: 'payment',
  steps: firstTurn,
  llm: [{ when: { lastUser: 'haircut' }, reply: { toolCall: { name: 'take_payment', arguments: { amount: 20, description: 'haircut deposit' } } } }],
  expect: { transfer: true },
};

const stacks: LocalStack[] = [];
const reports = new Map<string, { stack: LocalStack; report: CallReport }>();

beforeAll(async () => {
  // Independent calls run concurrently, each scenario on its own stack (emulator scripts and rules are per stack).
  await Promise.all(
    [booking, human, keypad, pause, pauseQuick, llmDown, toolTransfer, payment].map(async (s) => {
      const stack = await stackFor(s, s === llmDown ? { knobs: { ...SEED_BUDGET, llm: { ttftMs: 150, failNext: { status: 503, count: 100 } } } } : {});
      stacks.push(stack);
      const report = await call(stack, s);
      await settled(stack, report.callSid);
      reports.set(s.name, { stack, report });
    }),
  );
}, 180_000);

afterAll(async () => {
  await Promise.all(stacks.map((s) => s.close()));
});

describe('booking call', () => {
  it('completes: the tools got the right arguments, the appointment exists in dynalite, the caller heard the confirmation', async () => {
    const { stack, report } = reports.get('booking')!;
    expect(checkExpect(booking, report, toolCallsSeen(stack))).toEqual([]);
    const turns = await storedTurns(stack, report.callSid);
    const calls = turns.flatMap((t) => t.toolCalls ?? []);
    expect(calls.map((c) => c.name)).toEqual(['check_availability', 'book_appointment']);
    expect(JSON.parse(calls[1]!.arguments)).toEqual({ service: 'haircut', date: 'tomorrow', time: '10:00' });
    const doc = createDocumentClient({ region: 'us-east-1', endpoint: stack.dynamoEndpoint });
    const data = new DynamoBusinessData(doc, 'business');
    const today = localDate(new Date(), 'America/New_York');
    const bookings = await data.upcomingBookings(booking.from, today);
    doc.destroy();
    expect(bookings).toEqual(expect.arrayContaining([expect.objectContaining({ service: 'haircut', time: '10:00', status: 'booked' })]));
    expect(report.heard).toContain("you're booked for a haircut tomorrow at 10 am");
  });

  it('stores each heard turn in order, starting with the cached greeting', async () => {
    const { stack, report } = reports.get('booking')!;
    const turns = await storedTurns(stack, report.callSid);
    expect(turns.map((t) => t.role)).toEqual(['assistant', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    expect(turns[0]!.text).toBe('Hi, thanks for calling Bright Cuts. How can I help you today?');
    expect(turns.filter((t) => t.role === 'user').map((t) => t.text)).toEqual(booking.steps.flatMap((s) => ('say' in s ? [s.text] : [])));
    const trace = stack.calls.get(report.callSid)!;
    expect(trace.summary!.greetingMs).toBeDefined();
  });
});

describe('asking for a human', () => {
  it('says the handoff line, updates the live call with <Dial> at the Twilio REST emulator, and stores a summary', async () => {
    const { stack, report } = reports.get('human')!;
    expect(checkExpect(human, report, toolCallsSeen(stack))).toEqual([]);
    const update = stack.emulators.twilio.requests.find((r) => r.callSid === report.callSid);
    expect(update?.params.Twiml).toContain('<Dial timeout="20"><Number>+15557654321</Number></Dial>');
    expect(report.heard).toContain('let me connect you with a member of our team');
    const record = (await stack.transcript(report.callSid)).find((i) => Number(i.turn) === 0)!;
    expect(record.escalated).toBe(true);
    expect(String(record.summary)).toContain('Escalated: asked-for-human.');
  });
});

describe('keypad input', () => {
  it('reaches the conversation as "[keypad] digits" and drives the tool call', async () => {
    const { stack, report } = reports.get('keypad')!;
    expect(checkExpect(keypad, report, toolCallsSeen(stack))).toEqual([]);
    const turns = await storedTurns(stack, report.callSid);
    expect(turns.some((t) => t.role === 'user' && t.text === '[keypad] 1002')).toBe(true);
  });
});

describe('thinking pause', () => {
  const userMessages = (stack: LocalStack) =>
    stack.emulators.llm.requests.map((r) => (r.body.messages as { role: string; content: string }[]).filter((m) => m.role === 'user').map((m) => m.content));

  it('the conservative profile waits through a 600 ms pause and answers the whole sentence', () => {
    const { stack, report } = reports.get('pause')!;
    expect(checkExpect(pause, report, toolCallsSeen(stack))).toEqual([]);
    // Every LLM request saw the caller's complete sentence: it was never answered half-way.
    expect(userMessages(stack).every((u) => u.join(' ').includes("I'd like to book... a haircut on Friday."))).toBe(true);
  });

  it('the aggressive profile cuts the caller off after the first half', () => {
    const { stack } = reports.get('pause-quick')!;
    expect(userMessages(stack)[0]).toEqual(["I'd like to book..."]);
  });
});

describe('a provider failing mid-call', () => {
  it('apologises from cached audio and hands the caller to a person', async () => {
    const { stack, report } = reports.get('llm-down')!;
    expect(report.heard).toContain('sorry, i am having trouble on my end.');
    expect(report.heard).toContain('let me connect you with a member of our team');
    const update = stack.emulators.twilio.requests.find((r) => r.callSid === report.callSid);
    expect(update?.params.Twiml).toContain('<Number>+15557654321</Number>');
    const record = (await stack.transcript(report.callSid)).find((i) => Number(i.turn) === 0)!;
    expect(String(record.summary)).toContain('Escalated: provider-failure.');
    expect(stack.calls.get(report.callSid)!.summary!.failed).toBe(true);
  });

  it('stores the apology and handoff lines the caller heard as assistant turns, after the caller\'s last words', async () => {
    const { stack, report } = reports.get('llm-down')!;
    const turns = await storedTurns(stack, report.callSid);
    const tail = turns.slice(-3).map((t) => [t.role, t.text]);
    expect(tail).toEqual([
      ['user', 'Ten AM works for me.'],
      ['assistant', 'Sorry, I am having trouble on my end.'],
      ['assistant', 'Sure, let me connect you with a member of our team.'],
    ]);
  });
});

describe('after <Pay>', () => {
  it('Twilio\'s action opens a stream that takes the same conversation up and says the outcome; one transcript, one record', async () => {
    const { stack, report } = reports.get('payment')!;
    const twiml = stack.emulators.twilio.requests.find((r) => r.callSid === report.callSid)!.params.Twiml ?? '';
    const action = /action="([^"]+)"/.exec(twiml)![1]!.replaceAll('&amp;', '&');
    // What Twilio POSTs to the <Pay action> when card capture ends (its Result and PaymentConfirmationCode).
    const after: Scenario = { ...booking, name: 'after-pay', steps: [{ waitForAgent: true }, { hangup: true }], expect: {} };
    const resumed = await call(stack, after, { twimlUrl: action, callSid: report.callSid, parameters: { Result: 'success', PaymentConfirmationCode: 'ch_a9dc62' } });
    expect(resumed.heard).toContain('your payment of 20.00 went through.');
    await new Promise((r) => setTimeout(r, 500));
    const items = (await stack.transcript(report.callSid)).filter((i) => Number(i.turn) > 0);
    expect(items.map((i) => Number(i.turn))).toEqual(items.map((_, i) => i + 1));
    const texts = items.map((i) => String(i.text));
    expect(texts.indexOf('I will pass you to our secure payment line now.')).toBeLessThan(texts.findIndex((t) => t.startsWith('Your payment of 20.00 went through.')));
    // No greeting again: the resumed stream is the same call.
    expect(texts.filter((t) => t.startsWith('Hi, thanks for calling Bright Cuts'))).toHaveLength(1);
  });
});

describe('tools the pipeline runs itself', () => {
  it('transfer_to_human from the model: handoff line, then <Dial>, summary names the tool', async () => {
    const { stack, report } = reports.get('tool-transfer')!;
    expect(report.heard).toContain('let me connect you with a member of our team');
    const update = stack.emulators.twilio.requests.find((r) => r.callSid === report.callSid);
    expect(update?.params.Twiml).toContain('<Number>+15557654321</Number>');
    const record = (await stack.transcript(report.callSid)).find((i) => Number(i.turn) === 0)!;
    expect(String(record.summary)).toContain('Escalated: tool-requested.');
  });

  it('take_payment hands the call to Twilio <Pay> with the amount and a call-bound action URL on PUBLIC_URL', async () => {
    const { stack, report } = reports.get('payment')!;
    expect(report.heard).toContain('i will pass you to our secure payment line now.');
    const turns = await storedTurns(stack, report.callSid);
    expect(turns).toContainEqual(expect.objectContaining({ role: 'assistant', text: 'I will pass you to our secure payment line now.' }));
    const twiml = stack.emulators.twilio.requests.find((r) => r.callSid === report.callSid)?.params.Twiml ?? '';
    expect(twiml).toContain('<Pay ');
    expect(twiml).toContain('chargeAmount="20.00"');
    // The action carries a token binding this call and the amount (telephony/pay.ts), so /pay-result trusts no parameter.
    expect(twiml).toContain(`action="${stack.config.PUBLIC_URL}/pay-result?pay=`);
    // No card field ever went to the model: take_payment has none, and the caller's digits go to Twilio directly.
    expect(JSON.stringify(stack.emulators.llm.requests.map((r) => r.body.messages))).not.toMatch(/\d{13,19}/);
  });
});
