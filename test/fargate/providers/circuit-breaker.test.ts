// Circuit breaker: opens after N consecutive failures, lets one half-open probe through after the open period, closes on success.
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../../fargate/src/providers/circuit-breaker';

function clocked(opts: { failureThreshold?: number; openMs?: number } = {}) {
  let t = 1_000;
  const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 10_000, ...opts, now: () => t });
  return { breaker, advance: (ms: number) => (t += ms) };
}

describe('CircuitBreaker', () => {
  it('stays closed below the failure threshold and a success resets the count', () => {
    const { breaker } = clocked();
    breaker.failure();
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
    expect(breaker.allow()).toBe(true);
  });

  it('opens after N consecutive failures and keeps new calls off the provider', () => {
    const { breaker, advance } = clocked();
    for (let i = 0; i < 3; i++) breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.allow()).toBe(false);
    advance(9_999);
    expect(breaker.allow()).toBe(false);
  });

  it('goes half-open after the open period and lets exactly one probe through', () => {
    const { breaker, advance } = clocked();
    for (let i = 0; i < 3; i++) breaker.failure();
    advance(10_000);
    expect(breaker.state).toBe('half-open');
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
  });

  it('closes when the half-open probe succeeds', () => {
    const { breaker, advance } = clocked();
    for (let i = 0; i < 3; i++) breaker.failure();
    advance(10_000);
    breaker.allow();
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(true);
  });

  it('re-opens for another full period when the half-open probe fails', () => {
    const { breaker, advance } = clocked();
    for (let i = 0; i < 3; i++) breaker.failure();
    advance(10_000);
    breaker.allow();
    breaker.failure();
    expect(breaker.state).toBe('open');
    advance(9_999);
    expect(breaker.allow()).toBe(false);
    advance(1);
    expect(breaker.allow()).toBe(true);
  });

  it('refuses a threshold that could never open', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(/failureThreshold/);
  });
});
