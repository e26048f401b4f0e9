// Operator commands reaching a call: validation against the contract, the task's Redis subscriber (real Redis), the
// desk applying each action once and in order, and a whisper kept in the LLM history across a handover.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorChannel, type ConsoleEvent } from '../../../contracts/console';
import { Conversation, OPERATOR_NOTE } from '../../../fargate/src/call/conversation';
import { EscalationPolicy } from '../../../fargate/src/call/escalation';
import { OperatorDesk, parseOperatorCommand } from '../../../fargate/src/call/operator';
import { Recording } from '../../../fargate/src/call/recording';
import type { CallObserver } from '../../../fargate/src/observability/observer';
import { OperatorBus } from '../../../fargate/src/operator-bus';

const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const log = pino({ level: 'silent' });
const sid = () => `CA${randomBytes(16).toString('hex')}`;
const cmd = (action: Record<string, unknown>) => JSON.stringify({ action, by: 'arn:aws:iam::1:user/op', connectionId: 'c1', at: 1 });
const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('parseOperatorCommand', () => {
  const me = sid();
  it.each([
    [cmd({ action: 'hang-up', id: 'a', callSid: me }), true, ''],
    [cmd({ action: 'take-over', id: 'a', callSid: me, to: '+15550009999' }), true, ''],
    [cmd({ action: 'whisper', id: 'a', callSid: me, text: 'Offer the 10 AM slot.' }), true, ''],
    ['{"action":', false, 'not JSON'],
    [cmd({ action: 'take-over', id: 'a', callSid: me, to: '0800 123' }), false, 'E.164'],
    [cmd({ action: 'whisper', id: 'a', callSid: me, text: '' }), false, 'text'],
    [cmd({ action: 'explode', id: 'a', callSid: me }), false, 'action'],
    [JSON.stringify({ action: { action: 'hang-up', id: 'a', callSid: me } }), false, 'by'],
    [cmd({ action: 'hang-up', id: 'a', callSid: sid() }), false, 'another call'],
  ])('%s → ok %s', (raw, ok, error) => {
    const r = parseOperatorCommand(raw, me);
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.error).toContain(error);
  });
});

/** A task's subscriber bus and a publishing client on the real Redis, for one describe block. */
function realBus(): () => { bus: OperatorBus; pub: Redis } {
  let bus: OperatorBus;
  let pub: Redis;
  beforeAll(async () => {
    bus = await OperatorBus.open(url, log);
    pub = new Redis(url);
  });
  afterAll(async () => {
    pub.disconnect();
    await bus.close();
  });
  return () => ({ bus, pub });
}

describe('OperatorBus (real Redis)', () => {
  const redis = realBus();
  let bus: OperatorBus;
  let pub: Redis;
  beforeAll(() => void ({ bus, pub } = redis()));

  it('subscribes a call\'s channel, delivers its messages only, and unsubscribes when the last handler goes', async () => {
    const a = sid();
    const b = sid();
    const got: string[] = [];
    const offA1 = await bus.subscribe(a, (m) => got.push(`a1:${m}`));
    const offA2 = await bus.subscribe(a, (m) => got.push(`a2:${m}`));
    const offB = await bus.subscribe(b, (m) => got.push(`b:${m}`));
    expect(await pub.publish(operatorChannel(a), 'x')).toBe(1);
    await until(() => got.length === 2);
    expect(got.sort()).toEqual(['a1:x', 'a2:x']);
    await offA1();
    expect(await pub.publish(operatorChannel(a), 'y')).toBe(1);
    await offA2();
    await offA2(); // idempotent
    expect(await pub.publish(operatorChannel(a), 'z')).toBe(0);
    expect(bus.channels()).toEqual([operatorChannel(b)]);
    await offB();
    expect(await pub.publish(operatorChannel(b), 'z')).toBe(0);
  });
});

describe('OperatorDesk', () => {
  const redis = realBus();
  let bus: OperatorBus;
  let pub: Redis;
  beforeAll(() => void ({ bus, pub } = redis()));

  function desk(callSid: string, outcomes: { takeOver?: boolean } = {}) {
    const applied: string[] = [];
    const recorded: { name: string; id: string; args: Record<string, unknown>; ok: boolean }[] = [];
    const feed: ConsoleEvent[] = [];
    const d = new OperatorDesk({
      callSid, subscriptions: bus, log, now: () => 42, feed: { publish: (e) => void feed.push(e) },
      takeOver: async (to) => {
        applied.push(`take-over ${to}`);
        await new Promise((r) => setTimeout(r, 100));
        return outcomes.takeOver ?? true;
      },
      hangUp: async () => (applied.push('hang-up'), true),
      whisper: (text) => (applied.push(`whisper ${text}`), true),
      record: (name, id, args, ok) => void recorded.push({ name, id, args, ok }),
    });
    return { d, applied, recorded, feed };
  }

  it('applies valid commands in order, once per id, and ignores the rest; each is recorded and announced with its outcome', async () => {
    const callSid = sid();
    const { d, applied, recorded, feed } = desk(callSid, { takeOver: false });
    await d.open();
    const ch = operatorChannel(callSid);
    await pub.publish(ch, 'garbage');
    await pub.publish(ch, cmd({ action: 'whisper', id: 'w1', callSid, text: 'Be brief.' }));
    await pub.publish(ch, cmd({ action: 'whisper', id: 'w1', callSid, text: 'Be brief.' }));
    await pub.publish(ch, cmd({ action: 'take-over', id: 't1', callSid, to: '+15550009999' }));
    await pub.publish(ch, cmd({ action: 'hang-up', id: 'h1', callSid: sid() }));
    await until(() => applied.length === 2);
    // close() waits for the take-over still being applied, so it is recorded before the call record is written.
    await d.close();
    expect(applied).toEqual(['whisper Be brief.', 'take-over +15550009999']);
    expect(recorded.map((r) => [r.name, r.id, r.ok])).toEqual([['operator.whisper', 'w1', true], ['operator.take-over', 't1', false]]);
    expect(recorded[1]!.args).toEqual({ by: 'arn:aws:iam::1:user/op', connectionId: 'c1', to: '+15550009999' });
    expect(feed).toEqual([
      { type: 'operator-action', callSid, action: 'whisper', by: 'arn:aws:iam::1:user/op', ok: true, at: 42 },
      { type: 'operator-action', callSid, action: 'take-over', by: 'arn:aws:iam::1:user/op', ok: false, at: 42 },
    ]);
    expect(await pub.publish(ch, cmd({ action: 'hang-up', id: 'h2', callSid }))).toBe(0);
  });

  it('without a subscriber the desk opens and closes as a no-op', async () => {
    const d = new OperatorDesk({ callSid: sid(), log, now: Date.now, takeOver: async () => true, hangUp: async () => true, whisper: () => true, record: () => undefined });
    await d.open();
    await d.close();
  });
});

describe('a whisper in the conversation', () => {
  const observer: CallObserver = { turn: () => undefined, toolCall: () => undefined, usage: () => undefined, end: () => undefined } as unknown as CallObserver;

  it('is a system note after the history so far, seen by the next request, and kept across a handover', () => {
    const r = new Recording(new Conversation('You are a receptionist.'), observer, () => 1);
    r.user('Hi, I need a haircut.', 0);
    r.whisper('Offer the 10 AM slot first.');
    const note = { role: 'system', content: `${OPERATOR_NOTE} Offer the 10 AM slot first.` };
    expect(r.conversation.messages()).toEqual([{ role: 'system', content: 'You are a receptionist.' }, { role: 'user', content: 'Hi, I need a haircut.' }, note]);
    const h = { v: 1 as const, callSid: 'CA1', agent: 'booking', reason: 'migrate' as const, startedAt: 0, sttSeconds: 0, ...r.snapshot() };
    const resumed = Recording.resume(JSON.parse(JSON.stringify(h)), observer, () => 2);
    expect(resumed.conversation.messages()).toContainEqual(note);
  });
});

describe('frustration in the escalation policy', () => {
  it('a frustrated caller is escalated after the reply, with reason frustration; otherwise the policy is unchanged', () => {
    const p = new EscalationPolicy();
    expect(p.afterReply({ confidence: 0.98, toolFailed: false, agentText: 'We open at nine.' })).toBeUndefined();
    expect(p.afterReply({ confidence: 0.98, toolFailed: false, agentText: 'We open at nine.', frustrated: false })).toBeUndefined();
    expect(p.afterReply({ confidence: 0.98, toolFailed: false, agentText: 'We open at nine.', frustrated: true })).toBe('frustration');
  });
});
