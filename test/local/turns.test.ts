// The turn corpus and its scoring: the shipped corpus covers every category issue 15 names with one-burst audio, and the replay scores what it should.
import { describe, expect, it } from 'vitest';
import { FRAME_BYTES, isSpeech } from '../../local/audio/mulaw';
import { loadCorpus, LEAD_IN_MS, type LoadedTurn } from '../../local/turns/corpus';
import { replayTurn, score, type Recorded } from '../../local/turns/replay';
import type { SttEvent } from '../../fargate/src/providers/types';

const corpus = loadCorpus();

/** Speech bursts as the STT emulator splits them (a burst ends after ≥ 250 ms without speech). */
function bursts(audio: Uint8Array): number {
  let n = 0;
  let quiet = Infinity;
  for (let i = 0; i + FRAME_BYTES <= audio.length; i += FRAME_BYTES) {
    if (isSpeech(audio.subarray(i, i + FRAME_BYTES))) {
      if (quiet >= 250) n++;
      quiet = 0;
    } else quiet += 20;
  }
  return n;
}

describe('turn corpus', () => {
  it('has at least 40 turns covering every category of issue 15, with a few hundred KB of audio', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
    const categories = new Set(corpus.map((t) => t.category));
    for (const c of ['short', 'long', 'thinking-pause', 'digits', 'self-correction', 'trailing', 'backchannel', 'noise']) expect(categories).toContain(c);
    const pauses = corpus.flatMap((t) => (t.parts ?? []).flatMap((p) => ('pause' in p && t.category === 'thinking-pause' ? [p.pause] : [])));
    expect(Math.min(...pauses)).toBeGreaterThanOrEqual(400);
    expect(Math.max(...pauses)).toBeLessThanOrEqual(1200);
    const bytes = corpus.reduce((n, t) => n + t.audioBytes.length - LEAD_IN_MS * 8, 0);
    expect(bytes).toBeLessThan(1_000_000);
  });

  it.each(corpus.map((t) => [t.id, t] as const))('%s: one burst per script line, and the label at the end of its last part', (_id, t) => {
    expect(bursts(t.audioBytes)).toBe(t.lines.length);
    expect(t.labelledEndMs).toBe(t.audioBytes.length / 8);
  });
});

describe('replay and score', () => {
  const turn = (over: Partial<LoadedTurn>): LoadedTurn => ({ ...corpus[0]!, id: 'x', category: 'short', expect: 'reply', overAgent: false, onsetMs: 500, labelledEndMs: 1000, ...over });
  const w = (word: string, start: number, end: number) => ({ word, start, end, confidence: 0.9 });
  const finalAt = (text: string, end: number): SttEvent => ({ kind: 'transcript', text, words: [w(text, end - 0.3, end)], confidence: 0.9, isFinal: true, speechFinal: true });

  it('measures the delay after the labelled end, and a cut-in when the turn ended before it', () => {
    const ok = replayTurn(turn({ id: 'ok' }), [{ at: 1450, ev: finalAt('Yes.', 1.0) }], 'aggressive', 3000);
    const cut: Recorded[] = [{ at: 700, ev: finalAt('My name is', 0.5) }, { at: 1450, ev: finalAt('Jordan.', 1.0) }];
    const early = replayTurn(turn({ id: 'cut' }), cut, 'aggressive', 3000);
    const s = score([ok, early]);
    expect(s.cutIns).toEqual(['cut']);
    expect(s.cutInRate).toBe(0.5);
    expect(s.delayP50Ms).toBe(500); // 1450 + 50 ms hold → 1500, the next tick
    expect(s.missed).toEqual([]);
  });

  it('counts a backchannel over the agent as paused and resumed, not lost', () => {
    const bc = turn({ id: 'bc', category: 'backchannel', expect: 'ignore', overAgent: true });
    const events: Recorded[] = [{ at: 520, ev: { kind: 'speech-started', at: 0.5 } }, { at: 1400, ev: finalAt('Mm-hm.', 0.9) }];
    const s = score([replayTurn(bc, events, 'balanced', 3000)]);
    expect({ falseBargeInRate: s.falseBargeInRate, lost: s.lostToBackchannel, pause: s.falsePauseP50Ms }).toEqual({ falseBargeInRate: 0, lost: 0, pause: 880 });
  });
});
