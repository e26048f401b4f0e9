// Pins the cost meter: exact dollars for a fixed usage vector, Twilio's whole-minute rounding, the running meter, PRICES_JSON.
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICES, type PriceTable } from '../../../lib/config';
import { billedMinutes, CostMeter, costOf, loadPriceTable, PriceTableError, type CallUsage } from '../../../fargate/src/observability/cost-meter';
import { SUMMARY, T0, TURNS, USAGE } from './fixtures';

/** Round prices so expected dollars can be written out by hand. */
const PRICES: PriceTable = {
  pricesAsOf: '2026-01-01',
  twilio: { inboundPerMin: 0.01, mediaStreamsPerMin: 0.004 },
  deepgram: { nova3PerMin: 0.006, fluxPerMin: 0.012 },
  llm: { small: { inputPerMTok: 0.1, outputPerMTok: 0.4 }, large: { inputPerMTok: 1, outputPerMTok: 2 } },
  elevenlabs: { per1kChars: 0.05 },
  fargate: { vcpuHour: 0.036, gbHour: 0.0036 },
  lambda: { perRequest: 0.0000002, perGbSecond: 0.00001 },
};

const usage = (over: Partial<CallUsage> = {}): CallUsage => ({
  durationMs: 0, sttSeconds: 0, stt: 'nova', llm: {}, wastedLlm: {}, ttsChars: 0, tools: { count: 0, totalMs: 0 }, ...over,
});

describe('cost meter', () => {
  it('prices a fixed usage vector to the exact dollar, component by component', () => {
    const c = costOf(
      usage({
        durationMs: 90_000, sttSeconds: 89.2, stt: 'nova',
        llm: { small: { inputTokens: 10_000, outputTokens: 500 }, large: { inputTokens: 2_000, outputTokens: 100 } },
        wastedLlm: { small: { inputTokens: 1_000, outputTokens: 0 } },
        ttsChars: 630, tools: { count: 2, totalMs: 199.2 },
      }),
      PRICES,
      { task: { vcpu: 1, memoryGb: 2, callsPerTask: 50 }, tools: { memoryGb: 1 } },
    );
    expect(c.billedMinutes).toBe(2);
    expect(c.telephony).toBeCloseTo(2 * 0.014, 12); // 0.028
    expect(c.stt).toBeCloseTo((90 * 0.006) / 60, 12); // 90 billed seconds (per-second billing, rounded up) = 0.009
    expect(c.llm).toBeCloseTo(0.001 + 0.0002 + 0.002 + 0.0002, 12); // 0.0034
    expect(c.llmWasted).toBeCloseTo(0.0001, 12);
    expect(c.tts).toBeCloseTo(0.0315, 12);
    expect(c.compute).toBeCloseTo((0.025 * (0.036 + 2 * 0.0036)) / 50, 12); // 90 s = 0.025 h → 0.0000216
    expect(c.tools).toBeCloseTo(2 * 0.0000002 + 0.2 * 0.00001, 12); // 200 ms billed → 0.0000024
    expect(c.total).toBeCloseTo(0.028 + 0.009 + 0.0034 + 0.0315 + 0.0000216 + 0.0000024, 12);
    expect(c.unpricedModels).toEqual([]);
    expect(c.pricesAsOf).toBe('2026-01-01');
  });

  it.each([
    [0, 0],
    [1, 1],
    [59_999, 1],
    [60_000, 1],
    [60_001, 2],
    [61_000, 2],
    [120_000, 2],
    [121_000, 3],
  ])('bills a %i ms call as %i Twilio minutes (voice and Media Streams both rounded up)', (ms, minutes) => {
    expect(billedMinutes(ms)).toBe(minutes);
    const c = costOf(usage({ durationMs: ms }), PRICES);
    expect(c.telephony).toBeCloseTo(minutes * (0.01 + 0.004), 12);
  });

  it('costs a 0 s call nothing but its (zero) parts', () => {
    const c = costOf(usage(), PRICES);
    expect(c.total).toBe(0);
    expect(c.billedMinutes).toBe(0);
  });

  it('uses the Flux price for a Flux call and counts an unpriced model at $0, naming it', () => {
    const c = costOf(usage({ sttSeconds: 60, stt: 'flux', llm: { 'mystery/model': { inputTokens: 100, outputTokens: 10 } } }), PRICES);
    expect(c.stt).toBeCloseTo(0.012, 12);
    expect(c.llm).toBe(0);
    expect(c.unpricedModels).toEqual(['mystery/model']);
  });

  it('runs a meter over the realistic call with the default (dated) prices: $0.050453 for 93 s', () => {
    const meter = new CostMeter({ prices: DEFAULT_PRICES, startedAt: T0, stt: 'nova' });
    for (const u of USAGE) meter.addReply(u);
    for (const m of TURNS) for (const t of m.tools) meter.addTool(t.ms);
    const c = meter.final({ endedAt: SUMMARY.endedAt, sttSeconds: SUMMARY.sttSeconds });
    expect(c.pricesAsOf).toBe('2026-11-24');
    expect(c.telephony).toBeCloseTo(0.0258, 12);
    expect(c.stt).toBeCloseTo(0.011935, 12);
    expect(c.llm).toBeCloseTo(0.0011961, 12);
    expect(c.llmWasted).toBeCloseTo(0.0001836, 12);
    expect(c.tts).toBeCloseTo(0.0115, 12);
    expect(c.compute).toBeCloseTo((93 / 3600) * 0.0395 / 50, 12);
    expect(c.tools).toBeCloseTo(0.0000002 + 0.095 * 0.0000133334, 12);
    expect(c.total).toBeCloseTo(0.050452975, 8);
  });

  it('prices the running call by elapsed time: the started Twilio minute is already billed', () => {
    const meter = new CostMeter({ prices: PRICES, startedAt: T0, stt: 'nova' });
    expect(meter.running(T0).total).toBe(0);
    const at1s = meter.running(T0 + 1000);
    expect(at1s.billedMinutes).toBe(1);
    expect(at1s.telephony).toBeCloseTo(0.014, 12);
    expect(at1s.stt).toBeCloseTo(0.006 / 60, 12);
    meter.addReply({ model: 'large', inputTokens: 100_000, outputTokens: 0, ttsChars: 1000, wasted: false });
    const after = meter.running(T0 + 1000);
    expect(after.total - at1s.total).toBeCloseTo(0.1 + 0.05, 12);
  });

  it('loads PRICES_JSON, defaults when absent, and refuses a bad table naming the field', () => {
    expect(loadPriceTable(undefined)).toBe(DEFAULT_PRICES);
    expect(loadPriceTable('')).toBe(DEFAULT_PRICES);
    expect(loadPriceTable(JSON.stringify(PRICES))).toEqual(PRICES);
    expect(() => loadPriceTable('{nope')).toThrow(PriceTableError);
    const bad = { ...PRICES, twilio: { inboundPerMin: -1, mediaStreamsPerMin: 0.004 } };
    expect(() => loadPriceTable(JSON.stringify(bad))).toThrow(/twilio\.inboundPerMin/);
    const { elevenlabs: _, ...missing } = PRICES;
    expect(() => loadPriceTable(JSON.stringify(missing))).toThrow(/elevenlabs/);
  });
});
