// Playout pause/resume: a barge-in clears Twilio at once, a false alarm resumes from where the caller stopped hearing.
import { describe, expect, it } from 'vitest';
import { evenAlignment, Playout, unheardRest } from '../../../fargate/src/call/playout';

function wire() {
  const sent: string[] = [];
  return {
    sent,
    play: (a: Uint8Array) => void sent.push(`audio:${a.length}`),
    mark: (n: string) => void sent.push(`mark:${n}`),
    clear: () => void sent.push('clear'),
  };
}
/** 100 ms (800 bytes of μ-law) per character. */
const chunk = (text: string) => ({ audio: new Uint8Array(text.length * 800).map((_, i) => Math.floor(i / 800)), alignment: evenAlignment(text, text.length * 100) });

describe('unheardRest', () => {
  it.each([
    // heardMs → first unheard character and its byte offset
    [0, 'abcd', 0],
    [150, 'bcd', 800],
    [200, 'cd', 1600],
    [400, '', 3200],
  ])('after %d ms heard, the rest starts at %j (byte %d)', (heardMs, rest, offset) => {
    const c = chunk('abcd');
    const r = unheardRest(c.audio, c.alignment, heardMs);
    expect(r.alignment.chars.join('')).toBe(rest);
    expect(r.audio.length).toBe(3200 - offset);
    if (rest) expect(r.alignment.charStartMs[0]).toBe(0);
    if (r.audio.length) expect(r.audio[0]).toBe(offset / 800);
  });
});

describe('Playout pause and resume', () => {
  it('pauses with one clear, stays audible while paused, and resumes with the unheard rest and what arrived meanwhile', () => {
    const t = wire();
    const p = new Playout(t);
    p.play('r1', chunk('Hello').audio, chunk('Hello').alignment, 0);
    p.play('r1', chunk('World').audio, chunk('World').alignment, 0);
    expect(p.pause(250)).toEqual(['r1']); // "He" fully played, "l" half
    expect(t.sent.at(-1)).toBe('clear');
    expect(p.audible(10_000)).toBe(true);
    expect(p.pending('r1')).toBe(true);
    p.play('r1', chunk('!').audio, chunk('!').alignment, 300); // generated while paused: waits
    expect(t.sent.filter((s) => s.startsWith('audio')).length).toBe(2);
    p.onMark('r1.1', 260); // Twilio echoes cleared marks: not "played"
    p.resume(1000);
    expect(t.sent.slice(-6)).toEqual(['audio:2400', 'mark:r1.3', 'audio:4000', 'mark:r1.4', 'audio:800', 'mark:r1.5']);
    for (const m of ['r1.3', 'r1.4', 'r1.5']) p.onMark(m, 2000);
    expect(p.heard('r1')).toBe('HelloWorld!');
    expect(p.pending('r1')).toBe(false);
  });

  it('a clear after a pause drops the held audio for good: heard stays what played before the pause', () => {
    const t = wire();
    const p = new Playout(t);
    p.play('r1', chunk('Hello').audio, chunk('Hello').alignment, 0);
    p.pause(250);
    expect(p.clear(900)).toEqual(['r1']);
    expect(t.sent.filter((s) => s === 'clear').length).toBe(1);
    expect(p.audible(900)).toBe(false);
    expect(p.pending('r1')).toBe(false);
    expect(p.heard('r1')).toBe('He');
    p.play('r2', chunk('Ok').audio, chunk('Ok').alignment, 1000);
    expect(t.sent.at(-1)).toBe('mark:r2.2');
  });

  it('a second pause while paused changes nothing', () => {
    const t = wire();
    const p = new Playout(t);
    p.play('g', chunk('Hi').audio, chunk('Hi').alignment, 0);
    p.pause(50);
    expect(p.pause(60)).toEqual([]);
    expect(t.sent.filter((s) => s === 'clear').length).toBe(1);
  });
});
