// Pins ops/grafana/voice-agent.json to the media service's GET /metrics: every series and label it queries exists, and every family has a panel.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObservability } from '../../fargate/src/observability/instruments';
import { createMediaServer, type MediaServer } from '../../fargate/src/server';
import { testConfig } from '../fargate/fixtures/env';
import { CALL_SID, SUMMARY, T0, TURNS, USAGE } from '../fargate/observability/fixtures';

const ROOT = join(import.meta.dirname, '..', '..');

interface Target { expr: string; refId: string; legendFormat?: string }
interface Panel { id: number; type: string; title: string; datasource?: { type: string; uid: string }; targets?: Target[]; panels?: Panel[]; gridPos: { h: number; w: number; x: number; y: number } }
interface Dashboard { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; type: string; query: unknown }[] } }

const dashboard = JSON.parse(readFileSync(join(ROOT, 'ops', 'grafana', 'voice-agent.json'), 'utf8')) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

/** PromQL functions and aggregations the dashboard may call (a typo in one is caught here, not in Grafana). */
const FUNCTIONS = new Set(['histogram_quantile', 'sum', 'rate', 'increase', 'label_values']);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);

/** The series, labels and functions one PromQL expression uses (string literals, ranges and grouping removed first). */
function promqlParts(expr: string): { series: Set<string>; labels: Set<string>; functions: Set<string> } {
  const series = new Set<string>();
  const labels = new Set<string>();
  const functions = new Set<string>();
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  rest = rest.replace(/\{([^}]*)\}/g, (_, inner: string) => {
    for (const m of inner.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) labels.add(m[1]!);
    return ' ';
  });
  rest = rest.replace(/\[[^\]]*\]/g, ' ');
  rest = rest.replace(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g, (_, inner: string) => {
    for (const l of inner.split(',').map((s) => s.trim()).filter(Boolean)) labels.add(l);
    return ' ';
  });
  for (const m of rest.matchAll(/(?<![\w.$])[a-zA-Z_:][\w:]*/g)) {
    const word = m[0];
    if (KEYWORDS.has(word)) continue;
    if (rest.slice(m.index + word.length).trimStart().startsWith('(')) functions.add(word);
    else series.add(word);
  }
  return { series, labels, functions };
}

/** What GET /metrics exposes: each series name with its label names, and each family with its type. */
function parseExposition(text: string): { series: Map<string, Set<string>>; families: Map<string, string> } {
  const series = new Map<string, Set<string>>();
  const families = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1]!, type[2]!);
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? /.exec(line);
    if (!sample) continue;
    const names = series.get(sample[1]!) ?? new Set<string>();
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_]\w*)="/g)) names.add(m[1]!);
    series.set(sample[1]!, names);
  }
  return { series, families };
}

let exposed: ReturnType<typeof parseExposition>;
const servers: MediaServer[] = [];

beforeAll(async () => {
  // The media service's own wiring (fargate/src/main.ts): createObservability's endpoint on the server's METRICS_PORT,
  // after one full call (every turn, tool, usage and end event), one provider error and one failover, so every family has samples.
  const log = pino({ level: 'silent' });
  const config = testConfig({ METRICS_PORT: '0' });
  const obs = createObservability({ config, emit: () => undefined });
  const media = createMediaServer({ config, log, onCall: async () => undefined, agentFor: () => 'booking', metrics: obs.metrics });
  servers.push(media);
  obs.service.setActiveCalls(() => media.activeCalls());
  const inst = obs.instrumentsFor({ start: { callSid: CALL_SID, startedAt: T0 }, log }, { name: 'booking', stt: 'nova-3', llm: 'small' });
  TURNS.forEach((m, i) => {
    inst.observer.usage(USAGE[i]!);
    for (const t of m.tools) inst.observer.toolCall(t.name, t.ms, t.ok);
    inst.observer.turn(m);
  });
  inst.observer.end(SUMMARY);
  inst.providerError('stt');
  obs.service.providerFailover('deepgram', 'stt');
  obs.service.transcriptWriteErrors(1);
  await media.listen(0);
  const body = await new Promise<string>((resolve, reject) => {
    http.get(`http://127.0.0.1:${media.metricsPort()}/metrics`, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(b) : reject(new Error(`GET /metrics: ${res.statusCode}`))));
    }).on('error', reject);
  });
  exposed = parseExposition(body);
});
afterAll(async () => {
  for (const s of servers) await s.close();
});

describe('the Grafana dashboard (ops/grafana/voice-agent.json)', () => {
  it('queries only series the media service exposes on GET /metrics, with labels those series carry', () => {
    expect(queries.length).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const q of queries) {
      const parts = promqlParts(q.expr);
      if (parts.series.size === 0) problems.push(`${q.panel} ${q.refId}: no series in ${q.expr}`);
      const labels = new Set<string>();
      for (const s of parts.series) {
        const l = exposed.series.get(s);
        if (!l) problems.push(`${q.panel} ${q.refId}: ${s} is not on /metrics`);
        else l.forEach((x) => labels.add(x));
      }
      for (const l of parts.labels) if (!labels.has(l)) problems.push(`${q.panel} ${q.refId}: label ${l} is on none of ${[...parts.series].join(', ')}`);
      for (const f of parts.functions) if (!FUNCTIONS.has(f)) problems.push(`${q.panel} ${q.refId}: unknown function ${f}`);
    }
    expect(problems).toEqual([]);
  });

  it('the stage variable lists a label of a series that is always exposed', () => {
    const stage = dashboard.templating.list.find((v) => v.name === 'stage')!;
    const m = /^label_values\((\w+),\s*(\w+)\)$/.exec((stage.query as { query: string }).query);
    expect(m, 'label_values(metric, label)').not.toBeNull();
    expect(exposed.series.get(m![1]!)?.has(m![2]!)).toBe(true);
  });

  it('has a panel for every metric family on /metrics, and p50 and p95 of every histogram from the rate of its buckets', () => {
    const queried = new Set(queries.flatMap((q) => [...promqlParts(q.expr).series]));
    const missing: string[] = [];
    for (const [family, type] of exposed.families) {
      const names = type === 'histogram' ? [`${family}_bucket`, `${family}_sum`, `${family}_count`] : [family];
      if (!names.some((n) => queried.has(n))) missing.push(family);
      if (type !== 'histogram') continue;
      for (const p of ['0.5', '0.95']) {
        const re = new RegExp(`histogram_quantile\\(${p.replace('.', '\\.')}, sum by \\(le[^)]*\\) \\(rate\\(${family}_bucket\\{`);
        if (!queries.some((q) => re.test(q.expr))) missing.push(`${family} p${Number(p) * 100}`);
      }
    }
    expect([...exposed.families.keys()]).toEqual(expect.arrayContaining(['voiceagent_voice_to_voice_seconds', 'voiceagent_cost_per_call_usd', 'voiceagent_active_calls']));
    expect(missing).toEqual([]);
  });

  it('is importable as is: unique panel ids and refIds, the Prometheus data source as a variable, panels on the 24-column grid', () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      const refs = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refs).size, p.title).toBe(refs.length);
    }
  });
});

describe('promqlParts', () => {
  it('separates series, labels and functions', () => {
    const p = promqlParts('histogram_quantile(0.95, sum by (le, tool) (rate(voiceagent_tool_round_trip_seconds_bucket{stage=~"$stage"}[$__rate_interval]))) / 60');
    expect([...p.series]).toEqual(['voiceagent_tool_round_trip_seconds_bucket']);
    expect([...p.labels].sort()).toEqual(['le', 'stage', 'tool']);
    expect([...p.functions].sort()).toEqual(['histogram_quantile', 'rate', 'sum']);
  });
});
