// Pins the task's observability end to end: per-call instruments (meter → guardrail → router → EMF/Prometheus), service metrics, GET /metrics on the real media server.
import http from 'node:http';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_PRICES } from '../../../lib/config';
import { createObservability } from '../../../fargate/src/observability/instruments';
import { combineObservers } from '../../../fargate/src/observability/observers';
import { promName } from '../../../fargate/src/observability/prometheus';
import { WRAP_UP_INSTRUCTION, type TurnPlan } from '../../../fargate/src/observability/router';
import type { CallObserver } from '../../../fargate/src/observability/observer';
import { createMediaServer, type MediaServer } from '../../../fargate/src/server';
import { testConfig } from '../fixtures/env';
import { CALL_SID, parseLines, playFixtureCall, SUMMARY, T0, TURNS, USAGE } from './fixtures';

const log = pino({ level: 'silent' });
const chat = [{ role: 'system' as const, content: 'You book haircuts.' }, { role: 'user' as const, content: 'Hi' }];
const servers: MediaServer[] = [];

afterEach(() => {
  vi.useRealTimers();
});
afterAll(async () => {
  for (const s of servers) await s.close();
});

function setup(env: Record<string, string> = {}) {
  const lines: string[] = [];
  let now = T0;
  const obs = createObservability({ config: testConfig({ STAGE: 'staging', MAX_CALLS: '50', ...env }), emit: (l) => lines.push(l), now: () => now });
  return { obs, lines, clock: { set: (t: number) => (now = t) } };
}

describe('observability instruments', () => {
  it('meters a call through its observer and hands the same cost to the call record and to CostPerCall', () => {
    const { obs, lines } = setup();
    const inst = obs.instrumentsFor({ start: { callSid: CALL_SID, startedAt: T0 }, log }, { name: 'booking', stt: 'nova-3', llm: 'small' });
    TURNS.forEach((m, i) => {
      inst.observer.usage(USAGE[i]!);
      for (const t of m.tools) inst.observer.toolCall(t.name, t.ms, t.ok);
      inst.observer.turn(m);
    });
    const cost = inst.cost({ endedAt: SUMMARY.endedAt, sttSeconds: SUMMARY.sttSeconds });
    inst.observer.end(SUMMARY);
    expect(obs.prices).toBe(DEFAULT_PRICES);
    expect(cost.total).toBeCloseTo(0.050452975, 8);
    const call = parseLines(lines).find((d) => 'CostPerCall' in d)!;
    expect(call.CostPerCall).toBe(cost.total);
    expect(call.cost).toEqual(cost);
    expect(call.Stage).toBe('staging');
    expect(call.VoiceToVoice).toEqual([640, 1100, 700]);
  });

  it('moves a call over COST_CAP_USD to the small model with the wrap-up instruction and reports the tier split', () => {
    // Cap $0.05: the 93 s fixture call's telephony alone is $0.0258 after its second minute starts.
    const { obs, lines, clock } = setup({ COST_CAP_USD: '0.05' });
    const inst = obs.instrumentsFor({ start: { callSid: CALL_SID, startedAt: T0 }, log }, { name: 'booking', stt: 'nova-3', llm: 'small' });
    const plans: TurnPlan[] = [];
    clock.set(T0 + 5_000);
    plans.push(inst.planTurn({ messages: chat, toolsOffered: 4 }));
    inst.observer.usage({ model: plans[0]!.model, inputTokens: 2000, outputTokens: 40, ttsChars: 60, wasted: false });
    inst.observer.toolCall('check_availability', 90, true);
    inst.observer.turn({ ...TURNS[1]!, turn: 1 });
    clock.set(T0 + 15_000);
    plans.push(inst.planTurn({ messages: chat, toolsOffered: 4 }));
    // A long, expensive reply on the large model (400k input tokens = $0.06) pushes the call past the cap…
    inst.observer.usage({ model: plans[1]!.model, inputTokens: 400_000, outputTokens: 100, ttsChars: 200, wasted: false });
    inst.observer.turn({ ...TURNS[0]!, turn: 2 });
    clock.set(T0 + 25_000);
    plans.push(inst.planTurn({ messages: chat, toolsOffered: 4 }));
    expect(plans.map((p) => [p.tier, p.reason])).toEqual([['small', 'routine'], ['large', 'tool-follow-up'], ['small', 'over-budget']]);
    expect(plans[0]!.model).toBe('openai/gpt-oss-20b');
    expect(plans[1]!.model).toBe('openai/gpt-oss-120b');
    expect(plans[2]!.instruction).toBe(WRAP_UP_INSTRUCTION);
    expect(plans[2]!.runningUsd).toBeGreaterThan(0.05);
    inst.observer.end({ ...SUMMARY, endedAt: T0 + 30_000, sttSeconds: 30 });
    const call = parseLines(lines).find((d) => 'CostPerCall' in d)!;
    expect(call.tiers).toEqual({ small: 2, large: 1, overBudget: 1 });
  });

  it('keeps a large profile on the large model until the budget is spent', () => {
    const { obs } = setup();
    const inst = obs.instrumentsFor({ start: { callSid: CALL_SID, startedAt: T0 }, log }, { name: 'x', stt: 'flux-general-en', llm: 'large' });
    expect(inst.planTurn({ messages: chat, toolsOffered: 0 })).toMatchObject({ tier: 'large', reason: 'profile' });
  });

  it('refuses a bad PRICES_JSON at boot', () => {
    expect(() => setup({ PRICES_JSON: '{"pricesAsOf":"2026-01-01"}' })).toThrow(/PRICES_JSON is not a price table/);
  });

  it('writes ProviderErrors with dimensions [Stage, Provider] and TranscriptWriteErrors with [Stage]', () => {
    const { obs, lines } = setup();
    const inst = obs.instrumentsFor({ start: { callSid: CALL_SID, startedAt: T0 }, log }, { name: 'booking', stt: 'nova-3', llm: 'small' });
    inst.providerError('TTS');
    obs.service.transcriptWriteErrors(3);
    obs.service.transcriptWriteErrors(0);
    const docs = parseLines(lines);
    expect(docs).toHaveLength(2);
    expect(docs[0]!._aws.CloudWatchMetrics[0]).toEqual({ Namespace: 'VoiceAgent', Dimensions: [['Stage', 'Provider']], Metrics: [{ Name: 'ProviderErrors', Unit: 'Count' }] });
    expect(docs[0]).toMatchObject({ Stage: 'staging', Provider: 'tts', ProviderErrors: 1 });
    expect(docs[1]!._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Stage']]);
    expect(docs[1]!.TranscriptWriteErrors).toBe(3);
  });

  it('reports ActiveCalls once per minute at mid-minute, even at zero', () => {
    vi.useFakeTimers({ now: T0 + 10_000 });
    const lines: string[] = [];
    const obs = createObservability({ config: testConfig(), emit: (l) => lines.push(l) });
    let active = 0;
    obs.service.setActiveCalls(() => active);
    const stop = obs.service.startActiveCallsReporter();
    vi.advanceTimersByTime(19_999);
    expect(lines).toHaveLength(0);
    vi.advanceTimersByTime(1);
    active = 7;
    vi.advanceTimersByTime(60_000);
    stop();
    vi.advanceTimersByTime(180_000);
    const docs = parseLines(lines);
    expect(docs.map((d) => d.ActiveCalls)).toEqual([0, 7]);
    expect(docs.map((d) => d._aws.Timestamp)).toEqual([T0 + 30_000, T0 + 90_000]);
    expect(docs[0]!._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: 'ActiveCalls', Unit: 'Count' }]);
  });

  it('serves the same metrics on GET /metrics of the media server: latency and cost histograms, tools by label, active calls', async () => {
    const { obs } = setup();
    const media = createMediaServer({ config: testConfig({ METRICS_PORT: '0' }), log, onCall: async () => undefined, agentFor: () => 'booking', metrics: obs.metrics });
    servers.push(media);
    obs.service.setActiveCalls(() => media.activeCalls() + 2);
    playFixtureCall(obs, log, 'llm');
    await media.listen(0);
    // Prometheus is served on the internal METRICS_PORT only, never on the public listener.
    const { status, type, body } = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      http.get(`http://127.0.0.1:${media.metricsPort()}/metrics`, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body: b }));
      }).on('error', reject);
    });
    expect(status).toBe(200);
    expect(type).toContain('text/plain');
    const v2v = promName('VoiceToVoice');
    expect(v2v).toBe('voiceagent_voice_to_voice_seconds');
    expect(body).toContain(`${v2v}_count{stage="staging"} 3`);
    expect(body).toContain(`${v2v}_bucket{le="0.05",stage="staging"} 0`);
    expect(body).toContain(`${v2v}_bucket{le="0.8",stage="staging"} 2`);
    expect(body).toContain(`${v2v}_bucket{le="3",stage="staging"} 3`);
    expect(body).toContain(`${promName('ToolRoundTrip')}_count{stage="staging",tool="check_availability"} 1`);
    expect(body).toContain(`${promName('CostPerCall')}_count{stage="staging"} 1`);
    expect(body).toContain(`${promName('CostPerCall')}_bucket{le="0.05",stage="staging"} 0`);
    expect(body).toContain(`${promName('CostPerCall')}_bucket{le="0.075",stage="staging"} 1`);
    expect(body).toContain(`${promName('Interruptions')}{stage="staging"} 1`);
    expect(body).toContain(`${promName('ActiveCalls')}{stage="staging"} 2`);
    expect(body).toContain(`${promName('ProviderErrors')}{provider="llm",stage="staging"} 1`);
  });
});

describe('combineObservers', () => {
  it('forwards every event to each observer in order, and one that throws does not stop the others', () => {
    const seen: string[] = [];
    const rec = (tag: string): CallObserver => ({
      turn: (m) => seen.push(`${tag}:turn:${m.turn}`),
      toolCall: (n) => seen.push(`${tag}:tool:${n}`),
      usage: (u) => seen.push(`${tag}:usage:${u.model}`),
      end: (s) => seen.push(`${tag}:end:${s.turns}`),
    });
    const broken: CallObserver = { turn: () => { throw new Error('boom'); }, toolCall: () => { throw new Error('boom'); }, usage: () => {}, end: () => {} };
    const all = combineObservers(rec('a'), undefined, broken, rec('b'));
    all.turn(TURNS[0]!);
    all.toolCall('check_availability', 1, true);
    all.usage(USAGE[0]!);
    all.end(SUMMARY);
    expect(seen).toEqual([
      'a:turn:1', 'b:turn:1', 'a:tool:check_availability', 'b:tool:check_availability',
      'a:usage:openai/gpt-oss-20b', 'b:usage:openai/gpt-oss-20b', 'a:end:4', 'b:end:4',
    ]);
  });
});
