// The per-turn latency waterfall (speech end → STT final → LLM first token → first clause → TTS first byte → first audio out, in the order they happened): pure formatters.
import type { TurnMeasures } from './observer';

/** The stages of a turn, in order, with the TurnMeasures stamp that ends each. */
export const WATERFALL_STAGES = [
  { key: 'sttFinal', label: 'stt-final', bar: 'S', at: (m: TurnMeasures) => m.sttFinalAt },
  { key: 'llmFirstToken', label: 'llm-1st-tok', bar: 'L', at: (m: TurnMeasures) => m.llmFirstTokenAt },
  { key: 'firstClause', label: '1st-clause', bar: 'C', at: (m: TurnMeasures) => m.firstClauseAt },
  { key: 'ttsFirstByte', label: 'tts-1st-byte', bar: 'T', at: (m: TurnMeasures) => m.ttsFirstByteAt },
  { key: 'firstAudioOut', label: 'audio-out', bar: 'A', at: (m: TurnMeasures) => m.firstAudioAt },
] as const;

export type WaterfallStage = (typeof WATERFALL_STAGES)[number]['key'];

/** One turn's waterfall: each stage's delta from the stamp just before it in time, ms (undefined when not reached). */
export interface WaterfallRow {
  turn: number;
  replyId: string;
  /** The stamp the deltas start from: the caller's last word, else the STT final, else the reply start. */
  origin: 'speechEnd' | 'sttFinal' | 'replyStart';
  deltas: Partial<Record<WaterfallStage, number>>;
  /** The stages reached, in the order they happened (a speculative reply's LLM and TTS can come before the STT final). */
  order: WaterfallStage[];
  /** Speculative overlap: how long the reply (LLM, clause, TTS) had been running when the STT final came, ms. */
  overlapMs?: number;
  /** Origin → first audio out, ms (VoiceToVoice when the origin is the speech end). */
  totalMs?: number;
  tools: TurnMeasures['tools'];
  flags: string[];
}

/**
 * The deltas of one turn (pure; what the per-turn pino line carries). Stages are taken in the order they happened,
 * so a reply that ran before the STT final (speculation) shows as overlap, never as a gap or a negative stage; a
 * first audio frame ahead of the reply's own TTS is a cached filler and is flagged instead.
 */
export function waterfallRow(m: TurnMeasures): WaterfallRow {
  const origin: WaterfallRow['origin'] = m.speechEndAt !== undefined ? 'speechEnd' : m.sttFinalAt !== undefined ? 'sttFinal' : 'replyStart';
  const start = m.speechEndAt ?? m.sttFinalAt ?? m.replyStartedAt;
  const flags = [m.interrupted && 'interrupted', m.speculative && 'speculative', m.discarded && 'discarded'].filter((f): f is string => !!f);
  const stamps = WATERFALL_STAGES.map((s) => ({ key: s.key, t: s.at(m) })).filter(
    (s): s is { key: WaterfallStage; t: number } => s.t !== undefined && s.t >= start && !(s.key === 'sttFinal' && origin !== 'speechEnd'),
  );
  const replyWork = stamps.filter((s) => s.key === 'llmFirstToken' || s.key === 'firstClause' || s.key === 'ttsFirstByte').map((s) => s.t);
  const audio = stamps.find((s) => s.key === 'firstAudioOut');
  const filler = audio !== undefined && replyWork.some((t) => t > audio.t);
  if (filler) flags.push('filler first');
  const timeline = stamps.filter((s) => !(filler && s.key === 'firstAudioOut')).sort((a, b) => a.t - b.t);
  const deltas: WaterfallRow['deltas'] = {};
  let prev = start;
  for (const s of timeline) {
    deltas[s.key] = Math.round(s.t - prev);
    prev = s.t;
  }
  const stt = stamps.find((s) => s.key === 'sttFinal');
  const firstWork = Math.min(...replyWork, ...(m.replyStartedAt >= start ? [m.replyStartedAt] : []));
  const overlapMs = stt && firstWork < stt.t ? Math.round(stt.t - firstWork) : undefined;
  if (overlapMs !== undefined && replyWork.some((t) => t < stt!.t)) flags.push(`overlap ${overlapMs} ms`);
  return {
    turn: m.turn, replyId: m.replyId, origin, deltas, order: timeline.map((s) => s.key),
    ...(overlapMs !== undefined ? { overlapMs } : {}),
    totalMs: m.firstAudioAt === undefined ? undefined : Math.round(m.firstAudioAt - start),
    tools: m.tools, flags,
  };
}

const num = (v: number | undefined, w: number) => (v === undefined ? '-' : String(v)).padStart(w);

/**
 * A readable table, one row per reply: the delta of each stage (ms after the previous one), the total to the first
 * audio frame, and a bar where each character is `scale` ms (S stt-final, L llm first token, C first clause,
 * T tts first byte, A audio out), then tools and flags. Used by `npm start` and in logs.
 */
export function formatWaterfall(turns: TurnMeasures[]): string {
  const rows = turns.map(waterfallRow);
  const widest = Math.max(0, ...rows.map((r) => Object.values(r.deltas).reduce((a, b) => a + Math.max(0, b ?? 0), 0)));
  // 50 characters for the slowest turn, never finer than 10 ms per character.
  const scale = Math.max(10, Math.ceil(widest / 50 / 10) * 10);
  const header = ['reply', ...WATERFALL_STAGES.map((s) => s.label), 'total'];
  const widths = header.map((h) => Math.max(h.length, 5));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [`${line(header)}  | each char = ${scale} ms`];
  for (const r of rows) {
    // The bar follows time: with speculation L, C and T come before S, and the S lane below shows the overlap.
    const letter = (k: WaterfallStage) => WATERFALL_STAGES.find((s) => s.key === k)!.bar;
    const bar = r.order.map((k) => letter(k).repeat(Math.round(Math.max(0, r.deltas[k] ?? 0) / scale))).join('');
    const tools = r.tools.length ? `  tools: ${r.tools.map((t) => `${t.name} ${Math.round(t.ms)}ms${t.ok ? '' : ' FAILED'}`).join(', ')}` : '';
    const flags = r.flags.length ? `  [${r.flags.join(', ')}]` : '';
    const from = r.origin === 'speechEnd' ? '' : ` (from ${r.origin})`;
    const row = line([r.replyId, ...WATERFALL_STAGES.map((s, i) => num(r.deltas[s.key], widths[i + 1]!)), num(r.totalMs, widths.at(-1)!)]);
    out.push(`${row}  | ${bar}${from}${tools}${flags}`);
    if (r.overlapMs !== undefined && r.order[0] !== 'sttFinal') {
      const sttMs = r.order.slice(0, r.order.indexOf('sttFinal') + 1).reduce((a, k) => a + (r.deltas[k] ?? 0), 0);
      const lane = `stt-final ${sttMs} ms after the last word, the reply already running`;
      out.push(`${''.padEnd(row.length)}  | ${'s'.repeat(Math.round(sttMs / scale))}  (${lane})`);
    }
  }
  return out.join('\n');
}
