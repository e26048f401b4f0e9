// End to end: a local booking call's CloudWatch EMF (per-turn latencies, ToolRoundTrip per tool, CostPerCall with breakdown), the call record's cost, GET-able Prometheus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_METRICS } from '../../fargate/src/observability/metric-names';
import type { CallReport } from '../../local/caller/caller';
import { loadScenario } from '../../local/scenarios/scenario';
import type { LocalStack } from '../../local/stack';
import { call, settled, stackFor } from './helpers';

const booking = loadScenario('booking');
let stack: LocalStack;
let report: CallReport;

beforeAll(async () => {
  stack = await stackFor(booking);
  report = await call(stack, booking);
  await settled(stack, report.callSid);
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('observability of a local call', () => {
  it("writes the call's EMF: per-turn latency arrays, ToolRoundTrip per tool, CostPerCall with its breakdown; callSid only as a property", async () => {
    const docs = stack.emf.map((l) => JSON.parse(l) as Record<string, any>).filter((d) => d.callSid === report.callSid);
    const trace = stack.calls.get(report.callSid)!;
    const heard = trace.turns.filter((t) => !t.discarded && t.voiceToVoiceMs !== undefined);
    expect(heard.length).toBeGreaterThanOrEqual(3);
    for (const d of docs) {
      const dir = d._aws.CloudWatchMetrics[0];
      expect(dir.Namespace).toBe('VoiceAgent');
      expect(dir.Dimensions[0][0]).toBe('Stage');
      expect(dir.Dimensions.flat()).not.toContain('callSid');
      for (const m of dir.Metrics) expect(m.Unit).toBe(ALL_METRICS[m.Name as keyof typeof ALL_METRICS]);
    }
    const v2v = docs.flatMap((d) => (d.VoiceToVoice === undefined ? [] : [d.VoiceToVoice].flat()));
    expect(v2v).toEqual(heard.map((t) => t.voiceToVoiceMs));
    const tools = docs.filter((d) => 'ToolRoundTrip' in d).map((d) => d.Tool);
    expect(tools.sort()).toEqual(['book_appointment', 'check_availability']);
    const end = docs.find((d) => 'CostPerCall' in d)!;
    expect(end.CallDuration).toBeGreaterThan(5);
    expect(end.CostPerCall).toBeGreaterThan(0);
    expect(end.cost.telephony).toBeCloseTo(end.cost.billedMinutes * (0.0085 + 0.0044), 12);
    expect(end.cost.llm).toBeGreaterThan(0);
    expect(end.cost.tts).toBeGreaterThan(0);
    expect(end.cost.tools).toBeGreaterThan(0);
    expect(end.tiers.small + end.tiers.large).toBe(trace.usage.length);
    const record = (await stack.transcript(report.callSid)).find((i) => Number(i.turn) === 0)!;
    expect((record.cost as { total: number }).total).toBe(end.CostPerCall);
  });
});
