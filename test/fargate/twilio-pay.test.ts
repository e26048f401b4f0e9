// Pins the <Pay> round trip: the action URL's token binds callSid, amount and expiry; payOutcome reads Twilio's Result and speaks it.
import { describe, expect, it } from 'vitest';
import { payActionUrl, payOutcome, payOutcomeFromStream, verifyPayToken } from '../../fargate/src/telephony/pay';

const KEY = 'k'.repeat(40);
const CALL = 'CA' + '1'.repeat(32);
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const tokenOf = (url: string) => new URL(url).searchParams.get('pay') ?? undefined;

describe('pay action token', () => {
  it('binds callSid, amount and currency, and expires', () => {
    const url = payActionUrl('https://Voice.example.test/', KEY, { callSid: CALL, amount: '42.50' }, 900, T0);
    expect(url.startsWith('https://Voice.example.test/pay-result?pay=')).toBe(true);
    expect(verifyPayToken(KEY, tokenOf(url), CALL, T0 + 1000)).toEqual({ ok: true, claims: { callSid: CALL, amount: '42.50', currency: 'usd' } });
    expect(verifyPayToken(KEY, tokenOf(url), CALL, T0 + 900_000)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyPayToken(KEY, tokenOf(url), 'CA' + '2'.repeat(32), T0)).toEqual({ ok: false, reason: 'other-call' });
  });

  it('refuses a token with a changed amount, another key, or none', () => {
    const token = tokenOf(payActionUrl('https://v.test', KEY, { callSid: CALL, amount: '42.50' }, 900, T0))!;
    const [body, mac] = token.split('.');
    const richer = Buffer.from(JSON.stringify([CALL, '4250.00', 'usd', JSON.parse(Buffer.from(body!, 'base64url').toString())[3]])).toString('base64url');
    expect(verifyPayToken(KEY, `${richer}.${mac}`, CALL, T0)).toEqual({ ok: false, reason: 'forged' });
    expect(verifyPayToken('x'.repeat(40), token, CALL, T0)).toEqual({ ok: false, reason: 'forged' });
    expect(verifyPayToken(KEY, undefined, CALL, T0)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyPayToken(KEY, 'garbage', CALL, T0)).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('payOutcome', () => {
  it('success: paid, with the amount and the end of the confirmation code in the sentence', () => {
    const o = payOutcome({ Result: 'success', PaymentConfirmationCode: 'ch_a9dc6297cd1a' }, '42.50');
    expect(o).toMatchObject({ ok: true, result: 'success', confirmation: 'ch_a9dc6297cd1a' });
    expect(o.sentence).toBe('Your payment of 42.50 went through. Your confirmation code is the one ending in 9 7 c d 1 a.');
  });

  it('every other Result, known or not, is a failure the caller is told about; nothing from the request is echoed', () => {
    expect(payOutcome({ Result: 'caller-interrupted' })).toMatchObject({ ok: false, sentence: 'The card entry was cancelled, so nothing was charged.' });
    expect(payOutcome({ Result: 'payment-connector-error' }).ok).toBe(false);
    expect(payOutcome({ Result: 'brand-new-result' })).toMatchObject({ ok: false, result: 'brand-new-result', sentence: 'The payment did not go through, so nothing was charged.' });
    expect(payOutcome({ Result: '<Say>free</Say>' })).toMatchObject({ ok: false, result: 'unknown' });
    expect(payOutcome({})).toMatchObject({ ok: false, result: 'unknown' });
  });

  it('reads the outcome back from the resumed stream\'s Parameters', () => {
    expect(payOutcomeFromStream({ agent: 'booking' })).toBeUndefined();
    expect(payOutcomeFromStream({ payResult: 'success', payAmount: '10.00' })).toMatchObject({ ok: true, sentence: 'Your payment of 10.00 went through.' });
  });
});
