// Pins the shared knob helpers: seeded latency distributions, fault budgets, and the ordered delayed sender.
import { describe, expect, it } from 'vitest';
import { createRng, OrderedSender, sampleLatency, takeHttpFault, type FaultKnobs } from '../../../local/emulators/knobs';

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))]!;
}

describe('latency knobs', () => {
  it('fits a lognormal to p50/p95 and reproduces the same draws for the same seed', () => {
    const rng = createRng(42);
    const xs = Array.from({ length: 20000 }, () => sampleLatency({ p50: 200, p95: 500 }, rng));
    expect(quantile(xs, 0.5)).toBeGreaterThan(190);
    expect(quantile(xs, 0.5)).toBeLessThan(210);
    expect(quantile(xs, 0.95)).toBeGreaterThan(470);
    expect(quantile(xs, 0.95)).toBeLessThan(530);
    const a = createRng(7);
    const b = createRng(7);
    expect(Array.from({ length: 5 }, () => sampleLatency({ p50: 100, p95: 300 }, a))).toEqual(Array.from({ length: 5 }, () => sampleLatency({ p50: 100, p95: 300 }, b)));
  });

  it('keeps uniform jitter inside [p50 - (p95 - p50), p95] and passes fixed values through', () => {
    const rng = createRng(1);
    const xs = Array.from({ length: 2000 }, () => sampleLatency({ p50: 100, p95: 150, dist: 'uniform' }, rng));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...xs)).toBeLessThanOrEqual(150);
    expect(sampleLatency(80, rng)).toBe(80);
    expect(sampleLatency(undefined, rng)).toBe(0);
    expect(sampleLatency(-5, rng)).toBe(0);
  });
});

describe('fault budget', () => {
  it('applies an HTTP fault `count` times, then clears it', () => {
    const k: FaultKnobs = { httpError: { status: 429, retryAfter: 1, count: 2 } };
    expect(takeHttpFault(k)?.status).toBe(429);
    expect(takeHttpFault(k)?.retryAfter).toBe(1);
    expect(takeHttpFault(k)).toBeUndefined();
    expect(k.httpError).toBeUndefined();
  });
});

describe('OrderedSender', () => {
  it('never lets a shorter delay overtake an earlier scheduled send', async () => {
    const s = new OrderedSender();
    const out: string[] = [];
    s.schedule(60, () => out.push('slow interim'));
    s.schedule(0, () => out.push('fast final'));
    await s.idle();
    expect(out).toEqual(['slow interim', 'fast final']);
  });
});
