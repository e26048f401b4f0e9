// Pins the shared knob helpers: seeded latency distributions, fault budgets, the ordered delayed sender and the stream pacer.
import { describe, expect, it } from 'vitest';
import { createRng, OrderedSender, pacer, sampleLatency, takeHttpFault, type FaultKnobs, type PaceClock } from '../../../local/emulators/knobs';

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

describe('pacer', () => {
  /** A clock whose timers fire `lateMs` after they were due, as Node's do under load. */
  function lateClock(lateMs: number): PaceClock & { t: number } {
    const clock = { t: 0, now: () => clock.t, sleep: async (ms: number) => void (clock.t += ms + lateMs) };
    return clock;
  }

  it('keeps the stream at its rate when every timer fires late', async () => {
    const clock = lateClock(0.5);
    const due = pacer(1, clock);
    for (let i = 1; i < 150; i++) await due(i);
    // 149 gaps of 1 ms: one sleep per item would take 149 × 1.5 ms; deadlines lose at most one late firing.
    expect(clock.t).toBeGreaterThanOrEqual(149);
    expect(clock.t).toBeLessThanOrEqual(149.5);
  });

  it('sends an item that is already late at once, and never before it is due', async () => {
    const clock = lateClock(0);
    const due = pacer(10, clock);
    clock.t = 35; // the consumer was busy: items 1–3 are overdue
    for (const i of [1, 2, 3]) await due(i);
    expect(clock.t).toBe(35);
    await due(4);
    expect(clock.t).toBe(40);
  });
});
