// Pins one call's EMF output: namespace, dimensions (Stage; Tool), units from the catalog, per-turn arrays, per-call figures and the cost breakdown.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_PRICES } from '../../../lib/config';
import { createCallMetrics } from '../../../fargate/src/observability/call-metrics';
import { CostMeter } from '../../../fargate/src/observability/cost-meter';
import { emfDocuments, MAX_VALUES } from '../../../fargate/src/observability/emf';
import { ALL_METRICS } from '../../../fargate/src/observability/metric-names';
import { CALL_SID, parseLines, SUMMARY, T0, TURNS, USAGE } from './fixtures';

/** Plays the fixture call into a fresh metrics observer the way call.ts does (usage, tool calls, turn, per reply; end). */
function playCall(opts: { flushIntervalMs?: number } = {}) {
  const lines: string[] = [];
  const meter = new CostMeter({ prices: DEFAULT_PRICES, startedAt: T0, stt: 'nova' });
  const metrics = createCallMetrics({
    stage: 'prod', callSid: CALL_SID, agent: 'booking', emit: (l) => lines.push(l), now: () => SUMMARY.endedAt,
    cost: (s) => meter.final({ endedAt: s.endedAt, sttSeconds: s.sttSeconds }),
    tiers: () => ({ small: 3, large: 1, overBudget: 0 }),
    ...opts,
  });
  TURNS.forEach((m, i) => {
    meter.addReply(USAGE[i]!);
    metrics.usage(USAGE[i]!);
    for (const t of m.tools) {
      meter.addTool(t.ms);
      metrics.toolCall(t.name, t.ms, t.ok);
    }
    metrics.turn(m);
  });
  metrics.end(SUMMARY);
  return { lines, docs: parseLines(lines), meter };
}

const directive = (doc: Record<string, any>) => doc._aws.CloudWatchMetrics[0];
const names = (doc: Record<string, any>) => directive(doc).Metrics.map((m: { Name: string }) => m.Name);

afterEach(() => {
  vi.useRealTimers();
});

describe('call metrics (EMF)', () => {
  it('writes the turn values as arrays and the per-call figures in one document with namespace VoiceAgent and dimension Stage only', () => {
    const { docs } = playCall();
    const call = docs.find((d) => 'CostPerCall' in d)!;
    expect(call).toBeDefined();
    expect(call._aws.Timestamp).toBe(SUMMARY.endedAt);
    expect(directive(call).Namespace).toBe('VoiceAgent');
    expect(directive(call).Dimensions).toEqual([['Stage']]);
    expect(call.Stage).toBe('prod');
    // Discarded speculative reply 4 reports no latency; replies 1-3 do.
    expect(call.VoiceToVoice).toEqual([640, 1100, 700]);
    expect(call.SttFinalDelay).toEqual([210, 300, 250]);
    expect(call.LlmTimeToFirstToken).toEqual([208, 599, 199]);
    expect(call.TtsTimeToFirstByte).toEqual([150, 140, 180]);
    expect(call.Interruptions).toEqual([0, 0, 1]);
    expect(call.turns).toEqual([1, 2, 3]);
    expect(call.CallDuration).toBe(93);
    expect(call.Escalated).toBe(0);
    expect(call.CallsFailed).toBe(0);
    // Every metric is declared once, with the catalog's unit.
    for (const m of directive(call).Metrics as { Name: keyof typeof ALL_METRICS; Unit: string }[]) expect(m.Unit).toBe(ALL_METRICS[m.Name]);
    expect(names(call).sort()).toEqual(
      ['CallDuration', 'CallsFailed', 'CostPerCall', 'Escalated', 'Interruptions', 'LlmTimeToFirstToken', 'SttFinalDelay', 'TtsTimeToFirstByte', 'VoiceToVoice'].sort(),
    );
  });

  it('emits CostPerCall in USD with its breakdown, the tier split and callSid as properties, never as dimensions', () => {
    const { docs, meter } = playCall();
    const call = docs.find((d) => 'CostPerCall' in d)!;
    const expected = meter.final({ endedAt: SUMMARY.endedAt, sttSeconds: SUMMARY.sttSeconds });
    expect(call.CostPerCall).toBeCloseTo(0.050452975, 8);
    expect(call.CostPerCall).toBe(expected.total);
    expect(call.cost).toMatchObject({ telephony: expected.telephony, stt: expected.stt, llm: expected.llm, tts: expected.tts, compute: expected.compute, tools: expected.tools, billedMinutes: 2 });
    expect(call.tiers).toEqual({ small: 3, large: 1, overBudget: 0 });
    expect(call.callSid).toBe(CALL_SID);
    expect(call.agent).toBe('booking');
    for (const d of docs) expect(directive(d).Dimensions.flat()).not.toContain('callSid');
  });

  it('writes ToolRoundTrip per tool with dimensions [Stage, Tool]', () => {
    const { docs } = playCall();
    const tools = docs.filter((d) => 'ToolRoundTrip' in d);
    expect(tools).toHaveLength(1);
    expect(directive(tools[0]!).Dimensions).toEqual([['Stage', 'Tool']]);
    expect(tools[0]!.Tool).toBe('check_availability');
    expect(tools[0]!.ToolRoundTrip).toBe(95);
    expect(directive(tools[0]!).Metrics).toEqual([{ Name: 'ToolRoundTrip', Unit: 'Milliseconds' }]);
    expect(tools[0]!.callSid).toBe(CALL_SID);
  });

  it('flushes buffered turn values within the interval, so a long call reaches the p95 alarm in time', () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const metrics = createCallMetrics({ stage: 'dev', callSid: CALL_SID, agent: 'booking', emit: (l) => lines.push(l), flushIntervalMs: 10_000, now: () => T0 });
    metrics.turn(TURNS[0]!);
    metrics.turn(TURNS[1]!);
    expect(lines).toHaveLength(0);
    vi.advanceTimersByTime(10_000);
    const [doc] = parseLines(lines);
    expect(doc!.VoiceToVoice).toEqual([640, 1100]);
    expect(doc!.CostPerCall).toBeUndefined();
    metrics.turn(TURNS[2]!);
    metrics.end(SUMMARY);
    const last = parseLines(lines).at(-1)!;
    expect(last.VoiceToVoice).toBe(700);
    expect(last.CallDuration).toBe(93);
    // Without a cost source there is no CostPerCall (never a made-up zero).
    expect('CostPerCall' in last).toBe(false);
    // Nothing after end.
    metrics.turn(TURNS[0]!);
    vi.advanceTimersByTime(20_000);
    expect(lines).toHaveLength(2);
  });

  it('marks an escalated or failed call with 1 so Average is a rate', () => {
    const lines: string[] = [];
    const metrics = createCallMetrics({ stage: 'dev', callSid: CALL_SID, agent: 'booking', emit: (l) => lines.push(l), now: () => T0 });
    metrics.end({ ...SUMMARY, escalated: true, failed: true });
    const [doc] = parseLines(lines);
    expect(doc!.Escalated).toBe(1);
    expect(doc!.CallsFailed).toBe(1);
  });

  it('drops non-finite and negative durations instead of publishing them', () => {
    const lines: string[] = [];
    const metrics = createCallMetrics({ stage: 'dev', callSid: CALL_SID, agent: 'booking', emit: (l) => lines.push(l), now: () => T0 });
    metrics.turn({ ...TURNS[0]!, voiceToVoiceMs: -12, sttFinalDelayMs: Number.NaN });
    metrics.toolCall('check_availability', Number.POSITIVE_INFINITY, true);
    metrics.flush();
    const [doc] = parseLines(lines);
    expect(doc!.VoiceToVoice).toBeUndefined();
    expect(doc!.SttFinalDelay).toBeUndefined();
    expect(doc!.LlmTimeToFirstToken).toBe(208);
    expect(lines).toHaveLength(1);
  });

  it('splits a metric with more than 100 values over several documents (the EMF array limit)', () => {
    const values = Array.from({ length: 230 }, (_, i) => i);
    const docs = emfDocuments({ stage: 'dev', metrics: { VoiceToVoice: values, Interruptions: [1] }, timestamp: T0 });
    expect(docs.map((d) => (d.VoiceToVoice as number[]).length)).toEqual([MAX_VALUES, MAX_VALUES, 30]);
    expect(docs.flatMap((d) => d.VoiceToVoice as number[])).toEqual(values);
    expect(docs.filter((d) => 'Interruptions' in d)).toHaveLength(1);
    expect(emfDocuments({ stage: 'dev', metrics: { VoiceToVoice: [] }, timestamp: T0 })).toEqual([]);
  });
});
