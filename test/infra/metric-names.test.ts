// Pins that the metric names the code emits and the names the alarms, dashboard and autoscaling read are the same catalog.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRICES } from '../../lib/config';
import { createObservability } from '../../fargate/src/observability/instruments';
import { ALL_METRICS, METRIC_NAMESPACE } from '../../fargate/src/observability/metric-names';
import { CALL_SID, SUMMARY, T0, TURNS, USAGE } from '../fargate/observability/fixtures';
import { ROOT, resourcesOf, synthStage } from './synth';

const catalog = new Set(Object.keys(ALL_METRICS));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}
const sources = [...tsFiles(path.join(ROOT, 'fargate', 'src')), ...tsFiles(path.join(ROOT, 'lambdas'))].map((file) => ({
  file: path.relative(ROOT, file),
  text: readFileSync(file, 'utf8'),
}));

/** Powertools metrics: every `addMetric(` call names its metric with a string literal (checked below). */
function powertoolsNames(): { names: Set<string>; dynamic: string[] } {
  const names = new Set<string>();
  const dynamic: string[] = [];
  for (const { file, text } of sources) {
    for (const m of text.matchAll(/\baddMetric\(\s*([^,]+),/g)) {
      const literal = /^['"`](\w+)['"`]$/.exec(m[1]!.trim());
      if (literal) names.add(literal[1]!);
      else dynamic.push(`${file}: addMetric(${m[1]}`);
    }
  }
  return { names, dynamic };
}

/** The media service's EMF: everything its emitters write over one full call plus every service event. */
function mediaServiceNames(): Set<string> {
  const lines: string[] = [];
  const obs = createObservability({
    config: { STAGE: 'dev', PRICES_JSON: JSON.stringify(DEFAULT_PRICES), COST_CAP_USD: 0.5, LLM_MODEL_SMALL: 's', LLM_MODEL_LARGE: 'l', MAX_CALLS: 50 },
    emit: (l) => lines.push(l),
  });
  const inst = obs.instrumentsFor({ start: { callSid: CALL_SID, startedAt: T0 }, log: undefined as never }, { name: 'booking', stt: 'nova-3', llm: 'small' });
  TURNS.forEach((m, i) => {
    inst.observer.usage(USAGE[i]!);
    for (const t of m.tools) inst.observer.toolCall(t.name, t.ms, t.ok);
    inst.observer.turn(m);
  });
  inst.observer.end(SUMMARY);
  inst.providerError('stt');
  obs.service.providerFailover('deepgram', 'stt');
  obs.service.transcriptWriteErrors(1);
  obs.service.transcriptQueueOverflow(1);
  obs.service.reportActiveCalls();
  const names = new Set<string>();
  for (const l of lines) {
    const doc = JSON.parse(l) as { _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string; Unit: string }[] }[] } };
    for (const d of doc._aws.CloudWatchMetrics) {
      expect(d.Namespace).toBe(METRIC_NAMESPACE);
      for (const m of d.Metrics) {
        names.add(m.Name);
        expect(m.Unit, m.Name).toBe(ALL_METRICS[m.Name as keyof typeof ALL_METRICS]);
      }
    }
  }
  return names;
}

/** Every VoiceAgent metric the synthesized ServiceStack reads: alarms (plain and math/Insights), dashboard, autoscaling. */
function namesUsedByInfra(template: Record<string, any>): { names: Set<string>; units: [string, string][] } {
  const names = new Set<string>();
  const units: [string, string][] = [];
  const fromExpression = (expr: string) => {
    if (!expr.includes(METRIC_NAMESPACE)) return;
    for (const m of expr.matchAll(/\b(?:SUM|AVG|MAX|MIN|COUNT)\((\w+)\)/g)) names.add(m[1]!);
  };
  const resources = Object.values(template.Resources as Record<string, { Type: string; Properties: any }>);
  for (const r of resources.filter((x) => x.Type === 'AWS::CloudWatch::Alarm').map((x) => x.Properties)) {
    if (r.Namespace === METRIC_NAMESPACE) {
      names.add(r.MetricName);
      if (r.Unit) units.push([r.MetricName, r.Unit]);
    }
    for (const q of r.Metrics ?? []) {
      if (q.MetricStat?.Metric?.Namespace === METRIC_NAMESPACE) names.add(q.MetricStat.Metric.MetricName);
      if (typeof q.Expression === 'string') fromExpression(q.Expression);
    }
  }
  for (const r of resources.filter((x) => x.Type === 'AWS::CloudWatch::Dashboard')) {
    // The body is an Fn::Join of strings and tokens: keep the strings, which hold every metric array and query.
    const body = JSON.stringify(r.Properties.DashboardBody);
    for (const m of body.matchAll(/\[\\"VoiceAgent\\",\\"(\w+)\\"/g)) names.add(m[1]!);
    fromExpression(body.replaceAll('\\"', '"'));
  }
  for (const r of resources.filter((x) => x.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy')) {
    const spec = r.Properties.TargetTrackingScalingPolicyConfiguration?.CustomizedMetricSpecification;
    if (spec?.Namespace === METRIC_NAMESPACE) names.add(spec.MetricName);
  }
  return { names, units };
}

const sorted = (s: Iterable<string>) => [...s].sort();

describe('metric names: code ⇄ catalog ⇄ alarms and dashboard', () => {
  let infra: ReturnType<typeof namesUsedByInfra>;
  let emitted: Set<string>;
  beforeAll(() => {
    const s = synthStage('dev', { bundle: false });
    infra = namesUsedByInfra(s.serviceTemplate.toJSON());
    emitted = new Set([...mediaServiceNames(), ...powertoolsNames().names]);
  }, 300_000);

  it('names every Powertools metric with a string literal, so this scan sees it', () => {
    expect(powertoolsNames().dynamic).toEqual([]);
    expect(powertoolsNames().names.size).toBeGreaterThan(0);
  });

  it('writes EMF envelopes only through the one EMF module', () => {
    const writers = sources.filter((s) => s.text.includes('CloudWatchMetrics')).map((s) => s.file);
    expect(writers).toEqual([path.join('fargate', 'src', 'observability', 'emf.ts')]);
  });

  it('emits no metric the catalog does not know', () => {
    expect(sorted([...emitted].filter((n) => !catalog.has(n)))).toEqual([]);
  });

  it('alarms, graphs and scales only on metrics the code emits', () => {
    expect(infra.names.size).toBeGreaterThanOrEqual(8);
    expect(sorted([...infra.names].filter((n) => !emitted.has(n)))).toEqual([]);
  });

  it('emits every catalog metric (no dead names) and the dashboard/alarms cover the ARCHITECTURE §6 headline metrics', () => {
    expect(sorted([...catalog].filter((n) => !emitted.has(n)))).toEqual([]);
    for (const n of ['VoiceToVoice', 'ToolRoundTrip', 'ToolHandlerTime', 'TranscriptQueueOverflow', 'CostPerCall', 'ProviderErrors', 'ProviderFailover', 'ActiveCalls', 'CallsFailed', 'TranscriptWriteErrors']) expect(infra.names).toContain(n);
  });

  it('alarms in the unit the emitters write (CloudWatch matches units exactly)', () => {
    for (const [name, unit] of infra.units) expect(unit, name).toBe(ALL_METRICS[name as keyof typeof ALL_METRICS]);
  });
});
