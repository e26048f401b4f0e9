// Pins `npm start`'s waterfall for speculative turns: a reply that ran before the STT final reads as overlap, not as gaps.
import { describe, expect, it } from 'vitest';
import { formatWaterfall, waterfallRow } from '../../fargate/src/observability/waterfall';
import { turnAt } from '../fargate/observability/fixtures';

// Early endpoint 150 ms after the last word: the held reply streams; the STT final confirms it at 480 ms.
const speculative = turnAt(5, { speechEnd: 0, start: 140, llm: 150, clause: 160, tts: 300, sttFinal: 480, audio: 490 }, { speculative: true });

describe('waterfall of a speculative turn', () => {
  it('takes the stages in the order they happened, every one with a delta, and names the overlap', () => {
    const r = waterfallRow(speculative);
    expect(r.order).toEqual(['llmFirstToken', 'firstClause', 'ttsFirstByte', 'sttFinal', 'firstAudioOut']);
    expect(r.deltas).toEqual({ llmFirstToken: 150, firstClause: 10, ttsFirstByte: 140, sttFinal: 180, firstAudioOut: 10 });
    expect(r.overlapMs).toBe(340);
    expect(r.totalMs).toBe(490);
    expect(r.flags).toEqual(['speculative', 'overlap 340 ms']);
  });

  it('prints numbers for every stage (no "-", no "out of order") and an stt lane under the reply lane', () => {
    const lines = formatWaterfall([speculative]).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^r5\s+180\s+150\s+10\s+140\s+10\s+490\s+\| L+C?T+S+A?\s+\[speculative, overlap 340 ms\]$/);
    expect(lines.join('\n')).not.toMatch(/out of order/);
    expect(lines[2]).toMatch(/^\s+\| s+\s+\(stt-final 480 ms after the last word, the reply already running\)$/);
    // The lanes line up: the stt lane ends where the bar's S ends.
    const bar = lines[1]!.split('| ')[1]!.split(/\s/)[0]!;
    expect(lines[2]!.indexOf('| ')).toBe(lines[1]!.indexOf('| '));
    expect(Math.abs(lines[2]!.split('| ')[1]!.split(/\s/)[0]!.length - bar.lastIndexOf('S') - 1)).toBeLessThanOrEqual(1);
  });
});
