// Pins the stream token: bound to callSid, caller and agent; expiring; forged or malformed tokens refused.
import { describe, expect, it } from 'vitest';
import { claimsFromParameters, signStreamToken, verifyStreamToken } from '../../fargate/src/telephony/stream-token';

const KEY = 'k'.repeat(40);
const claims = { callSid: 'CA' + '1'.repeat(32), caller: '+15551230001', agent: 'booking' };
const T0 = Date.UTC(2026, 10, 24, 9, 0, 0);

describe('stream token', () => {
  it('accepts a fresh token for the same call and reports its expiry', () => {
    const token = signStreamToken(KEY, claims, 60, T0);
    expect(verifyStreamToken(KEY, token, claims, T0 + 1000)).toEqual({ ok: true, expiresAt: T0 + 60_000, nonce: token.split('.')[2] });
  });

  it('refuses a token once its TTL has passed', () => {
    const token = signStreamToken(KEY, claims, 60, T0);
    expect(verifyStreamToken(KEY, token, claims, T0 + 59_999).ok).toBe(true);
    expect(verifyStreamToken(KEY, token, claims, T0 + 60_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a token minted for another callSid, caller or agent', () => {
    const token = signStreamToken(KEY, claims, 60, T0);
    for (const other of [{ callSid: 'CA' + '2'.repeat(32) }, { caller: '+15559999999' }, { agent: 'support' }]) {
      expect(verifyStreamToken(KEY, token, { ...claims, ...other }, T0)).toEqual({ ok: false, reason: 'forged' });
    }
  });

  it('refuses a token signed with another key', () => {
    const token = signStreamToken('x'.repeat(40), claims, 60, T0);
    expect(verifyStreamToken(KEY, token, claims, T0)).toEqual({ ok: false, reason: 'forged' });
  });

  it('refuses a token whose expiry was pushed forward', () => {
    const [v, exp, nonce, mac] = signStreamToken(KEY, claims, 60, T0).split('.');
    const stretched = `${v}.${Number(exp) + 3600}.${nonce}.${mac}`;
    expect(verifyStreamToken(KEY, stretched, claims, T0 + 120_000)).toEqual({ ok: false, reason: 'forged' });
  });

  it('refuses a truncated MAC as forged rather than comparing unequal lengths', () => {
    const token = signStreamToken(KEY, claims, 60, T0);
    expect(verifyStreamToken(KEY, token.slice(0, -4), claims, T0)).toEqual({ ok: false, reason: 'forged' });
  });

  it('calls a missing token missing and a garbled one malformed', () => {
    expect(verifyStreamToken(KEY, undefined, claims, T0)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyStreamToken(KEY, '', claims, T0)).toEqual({ ok: false, reason: 'missing' });
    for (const bad of ['nonsense', 'v1.1.abc', 'v2.soon.abcdefghijklmnop.abc', 'v2.123.abcdefghijklmnop.a+b/', 'v2.123.short.abc', 'v2.123.abcdefghijklmnop.abc.def']) {
      expect(verifyStreamToken(KEY, bad, claims, T0)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('keeps fields apart: moving characters between caller and agent breaks the token', () => {
    const a = { callSid: 'CA1', caller: '+1555', agent: 'x' };
    const token = signStreamToken(KEY, a, 60, T0);
    expect(verifyStreamToken(KEY, token, { callSid: 'CA1', caller: '+155', agent: '5x' }, T0).ok).toBe(false);
  });

  it('gives every minted token its own nonce, so two tokens for one call are two single-use keys', () => {
    const a = verifyStreamToken(KEY, signStreamToken(KEY, claims, 60, T0), claims, T0);
    const b = verifyStreamToken(KEY, signStreamToken(KEY, claims, 60, T0), claims, T0);
    expect(a.ok && b.ok && a.nonce !== b.nonce).toBe(true);
  });

  it('binds extra Parameters (resume, payResult): dropping, adding or changing one breaks the token', () => {
    const resumed = { ...claims, extra: { resume: 'true', payResult: 'success' } };
    const token = signStreamToken(KEY, resumed, 60, T0);
    expect(verifyStreamToken(KEY, token, resumed, T0).ok).toBe(true);
    expect(verifyStreamToken(KEY, token, { ...resumed, extra: { payResult: 'success', resume: 'true' } }, T0).ok).toBe(true);
    const others: Record<string, string>[] = [{ resume: 'true' }, { resume: 'true', payResult: 'failure' }, { resume: 'true', payResult: 'success', x: '1' }];
    for (const extra of others) {
      expect(verifyStreamToken(KEY, token, { ...claims, extra }, T0)).toEqual({ ok: false, reason: 'forged' });
    }
    const params = { agent: claims.agent, caller: claims.caller, resume: 'true', payResult: 'success', token };
    expect(verifyStreamToken(KEY, token, claimsFromParameters(claims.callSid, params), T0).ok).toBe(true);
  });
});
