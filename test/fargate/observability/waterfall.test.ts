// Pins the latency waterfall: stage deltas per turn, the per-turn pino line, and the readable table with bars (for `npm start`).
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { waterfallLogObserver } from '../../../fargate/src/observability/observers';
import { formatWaterfall, waterfallRow } from '../../../fargate/src/observability/waterfall';
import { SUMMARY, TURNS, turnAt } from './fixtures';

describe('latency waterfall', () => {
  it('gives each stage its delta from the previous stamp, and the total to the first audio frame', () => {
    expect(waterfallRow(TURNS[0]!)).toMatchObject({
      origin: 'speechEnd',
      deltas: { sttFinal: 210, llmFirstToken: 210, firstClause: 60, ttsFirstByte: 150, firstAudioOut: 10 },
      totalMs: 640,
      flags: [],
    });
  });

  it('skips a stage that was never reached (a tool-only first LLM round) and measures the next from the last stamp', () => {
    const m = turnAt(1, { speechEnd: 0, sttFinal: 200, start: 200, clause: 900, tts: 1000, audio: 1010 });
    expect(waterfallRow(m).deltas).toEqual({ sttFinal: 200, firstClause: 700, ttsFirstByte: 100, firstAudioOut: 10 });
    const dtmf = turnAt(2, { sttFinal: 0, start: 0, llm: 300, clause: 320, tts: 420, audio: 430 });
    expect(waterfallRow(dtmf)).toMatchObject({ origin: 'sttFinal', deltas: { llmFirstToken: 300 }, totalMs: 430 });
  });

  it('flags a filler that reached the caller before the reply\'s own TTS audio instead of a negative stage', () => {
    const m = turnAt(3, { speechEnd: 0, sttFinal: 680, start: 680, clause: 1090, tts: 1245, audio: 860 }, { tools: [{ name: 'book_appointment', ms: 37, ok: true }] });
    const r = waterfallRow(m);
    expect(r.deltas).toEqual({ sttFinal: 680, firstClause: 410, ttsFirstByte: 155 });
    expect(r.totalMs).toBe(860);
    expect(r.flags).toEqual(['filler first']);
    expect(formatWaterfall([m])).toContain('[filler first]');
  });

  it('prints one row per reply with numbers, bars, tools and flags', () => {
    const text = formatWaterfall(TURNS);
    const lines = text.split('\n');
    expect(lines).toHaveLength(1 + TURNS.length);
    expect(lines[0]).toMatch(/^reply\s+stt-final\s+llm-1st-tok\s+1st-clause\s+tts-1st-byte\s+audio-out\s+total\s+\| each char = 30 ms$/);
    // r2: 300 + 600 + 50 + 140 + 10 = 1100 ms, the widest: 1100/50 → 30 ms per character.
    expect(lines[2]).toMatch(/^r2\s+300\s+600\s+50\s+140\s+10\s+1100\s+\| S{10}L{20}C{2}T{5}\s+tools: check_availability 95ms$/);
    expect(lines[3]).toContain('[interrupted]');
    expect(lines[4]).toMatch(/^r4\s+100\s+200\s+-\s+-\s+-\s+-\s+\| S{3}L{7}\s+\[speculative, discarded\]$/);
    expect(formatWaterfall([])).toMatch(/^reply/);
  });
});

describe('waterfall log observer', () => {
  it('logs one line per turn with the stage deltas and measures (no text), and the call summary with its cost', () => {
    const lines: Record<string, any>[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const o = waterfallLogObserver(log, { cost: () => ({ total: 0.05 }) as never, tiers: () => ({ small: 2, large: 1, overBudget: 0 }) });
    o.turn(TURNS[1]!);
    o.end(SUMMARY);
    expect(lines[0]).toMatchObject({
      msg: 'turn latency', turn: 2, from: 'speechEnd', totalMs: 1100, voiceToVoiceMs: 1100, sttFinalDelayMs: 300, llmTimeToFirstTokenMs: 599, ttsTimeToFirstByteMs: 140,
      waterfall: { sttFinal: 300, llmFirstToken: 600, firstClause: 50, ttsFirstByte: 140, firstAudioOut: 10 },
      tools: [{ name: 'check_availability', ms: 95, ok: true }],
    });
    expect(lines[1]).toMatchObject({ msg: 'call summary', costUsd: 0.05, tiers: { small: 2, large: 1, overBudget: 0 }, turns: 4 });
  });
});
