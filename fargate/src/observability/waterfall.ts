// The per-turn latency waterfall (speech end → STT final → LLM first token → first clause → TTS first byte → first audio out): pure formatters.
import type { TurnMeasures } from '../reply';

/** The stages of a turn, in order, with the TurnMeasures stamp that ends each. */
export const WATERFALL_STAGES = [
  { key: 'sttFinal', label: 'stt-final', bar: 'S', at: (m: TurnMeasures) => m.sttFinalAt },
  { key: 'llmFirstToken', label: 'llm-1st-tok', bar: 'L', at: (m: TurnMeasures) => m.llmFirstTokenAt },
  { key: 'firstClause', label: '1st-clause', bar: 'C', at: (m: TurnMeasures) => m.firstClauseAt },
  { key: 'ttsFirstByte', label: 'tts-1st-byte', bar: 'T', at: (m: TurnMeasures) => m.ttsFirstByteAt },
  { key: 'firstAudioOut', label: 'audio-out', bar: 'A', at: (m: TurnMeasures) => m.firstAudioAt },
] as const;

export type WaterfallStage = (typeof WATERFALL_STAGES)[number]['key'];

/** One turn's waterfall: each stage's delta from the previous stamp that exists, ms (undefined when not reached). */
export interface WaterfallRow {
  turn: number;
  replyId: string;
  /** The stamp the deltas start from: the caller's last word, else the STT final, else the reply start. */
  origin: 'speechEnd' | 'sttFinal' | 'replyStart';
  deltas: Partial<Record<WaterfallStage, number>>;
  /** Origin → first audio out, ms (VoiceToVoice when the origin is the speech end). */
  totalMs?: number;
  tools: TurnMeasures['tools'];
  flags: string[];
}

/** The deltas of one turn (pure; what the per-turn pino line carries). */
export function waterfallRow(m: TurnMeasures): WaterfallRow {
  const origin: WaterfallRow['origin'] = m.speechEndAt !== undefined ? 'speechEnd' : m.sttFinalAt !== undefined ? 'sttFinal' : 'replyStart';
  const start = m.speechEndAt ?? m.sttFinalAt ?? m.replyStartedAt;
  const deltas: WaterfallRow['deltas'] = {};
  const flags = [m.interrupted && 'interrupted', m.speculative && 'speculative', m.discarded && 'discarded'].filter((f): f is string => !!f);
  let prev = start;
  for (const s of WATERFALL_STAGES) {
    const t = s.at(m);
    if (t === undefined || (s.key === 'sttFinal' && origin !== 'speechEnd')) continue;
    if (t < prev) {
      // Out of order: the first audio frame was a cached filler played before a slow tool, ahead of the reply's TTS.
      flags.push(s.key === 'firstAudioOut' ? 'filler first' : `${s.label} out of order`);
      continue;
    }
    deltas[s.key] = Math.round(t - prev);
    prev = t;
  }
  return {
    turn: m.turn, replyId: m.replyId, origin, deltas,
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
    const bar = WATERFALL_STAGES.map((s) => s.bar.repeat(Math.round(Math.max(0, r.deltas[s.key] ?? 0) / scale))).join('');
    const tools = r.tools.length ? `  tools: ${r.tools.map((t) => `${t.name} ${Math.round(t.ms)}ms${t.ok ? '' : ' FAILED'}`).join(', ')}` : '';
    const flags = r.flags.length ? `  [${r.flags.join(', ')}]` : '';
    const from = r.origin === 'speechEnd' ? '' : ` (from ${r.origin})`;
    out.push(`${line([r.replyId, ...WATERFALL_STAGES.map((s, i) => num(r.deltas[s.key], widths[i + 1]!)), num(r.totalMs, widths.at(-1)!)])}  | ${bar}${from}${tools}${flags}`);
  }
  return out.join('\n');
}
