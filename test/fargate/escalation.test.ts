// Escalation policy: requests for a person, failed turns in a row, low confidence; TwiML and handoff summary.
import { describe, expect, it } from 'vitest';
import { asksForHuman, EscalationPolicy, parsePaymentArgs, paymentTwiml, summarizeForHandoff, transferTwiml } from '../../fargate/src/call/escalation';
import { verifyPayToken } from '../../fargate/src/telephony/pay';

describe('asksForHuman', () => {
  it.each([
    ['Can I talk to a human?', true], ['I want to speak with a real person please', true], ['Representative.', true],
    ['connect me to an agent', true], ['transfer me to someone', true], ['let me speak to the manager', true],
    ['I would like to book a haircut', false], ['the person who cut my hair was great', false], ['my agent number is 5', false],
  ])('%j → %s', (text, expected) => expect(asksForHuman(text)).toBe(expected));
});

describe('EscalationPolicy', () => {
  const ok = { confidence: 0.9, toolFailed: false, agentText: 'You are booked.' };
  it('hands off before the LLM when the caller asks for a person', () => {
    expect(new EscalationPolicy().beforeReply('Can I speak to a person?')).toBe('asked-for-human');
    expect(new EscalationPolicy().beforeReply('Book me in for ten')).toBeUndefined();
  });

  it('escalates after three failed turns in a row, and a good turn resets the count', () => {
    const p = new EscalationPolicy();
    const misunderstood = { ...ok, agentText: "Sorry, could you say that again?" };
    expect(p.afterReply(misunderstood)).toBeUndefined();
    expect(p.afterReply({ ...ok, toolFailed: true })).toBeUndefined();
    expect(p.afterReply(ok)).toBeUndefined();
    expect(p.afterReply(misunderstood)).toBeUndefined();
    expect(p.afterReply(misunderstood)).toBeUndefined();
    expect(p.afterReply({ ...ok, toolFailed: true })).toBe('repeated-failures');
  });

  it('names low confidence when every failed turn was a poorly heard one', () => {
    const p = new EscalationPolicy({ maxFailedTurns: 2, minConfidence: 0.5 });
    expect(p.afterReply({ ...ok, confidence: 0.3 })).toBeUndefined();
    expect(p.afterReply({ ...ok, confidence: 0.2 })).toBe('low-confidence');
  });
});

describe('TwiML and summary', () => {
  it('dials the transfer number and sends payments to <Pay> with an action on the public URL that binds call and amount', () => {
    expect(transferTwiml('+15557654321')).toContain('<Dial timeout="20"><Number>+15557654321</Number></Dial>');
    const key = 'k'.repeat(32);
    const pay = paymentTwiml({ PUBLIC_URL: 'https://Voice-ALB.example.com', STREAM_TOKEN_KEY: key }, 'CA1', '25.00');
    expect(pay).toContain('<Pay');
    expect(pay).toContain('chargeAmount="25.00"');
    const action = /action="([^"]+)"/.exec(pay)![1]!.replaceAll('&amp;', '&');
    // The host stays as written (Twilio signs the URL it calls), and the token verifies only for this call.
    expect(action.startsWith('https://Voice-ALB.example.com/pay-result?pay=')).toBe(true);
    const token = new URL(action).searchParams.get('pay') ?? undefined;
    expect(verifyPayToken(key, token, 'CA1')).toMatchObject({ ok: true });
    expect(verifyPayToken(key, token, 'CA2').ok).toBe(false);
  });

  it('reads take_payment arguments as a <Pay> amount and refuses unusable ones', () => {
    expect(parsePaymentArgs('{"amount": 25, "description": "deposit"}')).toEqual({ amount: '25.00', description: 'deposit' });
    expect(parsePaymentArgs('{"amount": -3, "description": "x"}')).toBeUndefined();
    expect(parsePaymentArgs('not json')).toBeUndefined();
  });

  it('summarizes the reason, the last things the caller said and the tools used', () => {
    const s = summarizeForHandoff('asked-for-human', [
      { role: 'user', text: 'book a haircut', at: 1 }, { role: 'assistant', text: 'I have nine.', at: 2 }, { role: 'user', text: 'a person please', at: 3 },
    ], ['check_availability', 'check_availability']);
    expect(s).toBe('Escalated: asked-for-human. Caller said: "book a haircut" / "a person please". Tools used: check_availability. Agent last said: "I have nine.".');
  });
});
