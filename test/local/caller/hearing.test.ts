// Pins how the caller hears played agent audio: speech-frame timing, tone text across playout gaps, restart after a clear.
import { describe, expect, it } from 'vitest';
import { silence } from '../../../local/audio/mulaw';
import { encodeToneText } from '../../../local/audio/tone-text';
import { Ear } from '../../../local/caller/hearing';

function ear() {
  const speech: number[] = [];
  let text = '';
  const e = new Ear({ speech: (at) => speech.push(at), char: (ch) => (text += ch) });
  return { e, speech, text: () => text };
}

describe('caller hearing', () => {
  it('dates each speech frame by when it started playing, skipping silence', () => {
    const { e, speech } = ear();
    e.played(new Uint8Array([...silence(40), ...encodeToneText('ab')]), 1000);
    e.gap();
    expect(speech[0]).toBe(1040);
    expect(speech.every((t, i) => i === 0 || t - speech[i - 1]! === 20)).toBe(true);
  });

  it('keeps block alignment across a playout gap in the middle of a block', () => {
    const { e, text } = ear();
    const audio = encodeToneText('hello world');
    e.played(audio.subarray(0, 1300), 0); // 2.5 blocks, then the buffer runs dry
    e.gap();
    e.played(audio.subarray(1300), 500);
    expect(text()).toBe('hello world');
  });

  it('restarts alignment after a clear, so the next reply decodes from its own start', () => {
    const { e, text } = ear();
    e.played(encodeToneText('interrupted').subarray(0, 1300), 0);
    e.clear();
    e.played(encodeToneText('new reply'), 200);
    expect(text()).toBe('innew reply');
  });
});
