// Pins the local kit's audio helpers: the μ-law codec and the text-in-tones round trip the caller relies on.
import { describe, expect, it } from 'vitest';
import { decodeMulaw, encodeMulaw, isSpeech, linearToMulaw, mulawToLinear, silence } from '../../local/audio/mulaw';
import { TONE_BLOCK_SAMPLES, decodeToneText, encodeToneText } from '../../local/audio/tone-text';

describe('mulaw codec', () => {
  it('matches G.711 reference points', () => {
    expect(linearToMulaw(0)).toBe(0xff);
    expect(linearToMulaw(-1)).toBe(0x7f);
    expect(mulawToLinear(0xff)).toBe(0);
    expect(mulawToLinear(0x00)).toBe(-32124);
    expect(mulawToLinear(0x80)).toBe(32124);
  });

  it('round-trips samples within the quantisation step', () => {
    const samples = Int16Array.from({ length: 2000 }, (_, i) => Math.round(20000 * Math.sin(i / 7)));
    const back = decodeMulaw(encodeMulaw(samples));
    for (let i = 0; i < samples.length; i++) {
      expect(Math.abs(back[i]! - samples[i]!)).toBeLessThanOrEqual(Math.max(8, Math.abs(samples[i]!) / 16));
    }
  });

  it('tells speech frames from silence', () => {
    expect(isSpeech(silence(20))).toBe(false);
    expect(isSpeech(encodeToneText('a').subarray(0, 160))).toBe(true);
  });
});

describe('tone text', () => {
  it('decodes exactly what was encoded, case-folded', () => {
    const text = "Hello, you're booked for 9:30 AM tomorrow! Total $45.";
    expect(decodeToneText(encodeToneText(text))).toBe(text.toLowerCase());
  });

  it('lasts one block per character', () => {
    expect(encodeToneText('abc').length).toBe(3 * TONE_BLOCK_SAMPLES);
  });

  it('skips silence and ignores a block cut short by a clear', () => {
    const audio = new Uint8Array([...silence(100), ...encodeToneText('ok'), ...encodeToneText('cut').subarray(0, 600)]);
    // silence of 800 samples is not block aligned: decode the tone part from its own start, as the caller does per segment
    expect(decodeToneText(audio.subarray(800))).toBe('okc');
  });
});
