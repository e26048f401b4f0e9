// Text carried in speech-like μ-law audio: the TTS emulator encodes characters as tones, the simulated caller decodes what it heard.
import { decodeMulaw, encodeMulaw } from './mulaw';

/** Samples per character: 65 ms at 8 kHz, close to a real speaking rate of ~15 characters per second. */
export const TONE_BLOCK_SAMPLES = 520;

/** Characters the audio can carry; anything else is sent as `?`. Upper case folds to lower case. */
export const TONE_ALPHABET = " abcdefghijklmnopqrstuvwxyz0123456789.,?!'-:$%/@&";

const FIRST_BIN = 26; // 400 Hz
const BIN_STEP = 4; // ~61.5 Hz apart; whole cycles per block keep the tones orthogonal
const AMPLITUDE = 9000;
const FADE = 40; // 5 ms raised-cosine edges keep it click-free

/** Tone frequency (Hz) of the i-th alphabet symbol: a whole number of cycles per block. */
function frequencyOf(index: number): number {
  return ((FIRST_BIN + index * BIN_STEP) * 8000) / TONE_BLOCK_SAMPLES;
}

function symbolIndex(ch: string): number {
  const i = TONE_ALPHABET.indexOf(ch.toLowerCase());
  return i >= 0 ? i : TONE_ALPHABET.indexOf('?');
}

/** Encodes `text` as μ-law audio, one TONE_BLOCK_SAMPLES block per character. */
export function encodeToneText(text: string): Uint8Array {
  const samples = new Float64Array(text.length * TONE_BLOCK_SAMPLES);
  for (let c = 0; c < text.length; c++) {
    const w = (2 * Math.PI * frequencyOf(symbolIndex(text[c]!))) / 8000;
    const base = c * TONE_BLOCK_SAMPLES;
    for (let n = 0; n < TONE_BLOCK_SAMPLES; n++) {
      const edge = Math.min(n, TONE_BLOCK_SAMPLES - 1 - n);
      const envelope = edge < FADE ? 0.5 - 0.5 * Math.cos((Math.PI * edge) / FADE) : 1;
      samples[base + n] = AMPLITUDE * envelope * Math.sin(w * n);
    }
  }
  return encodeMulaw(samples);
}

/** Goertzel power of one frequency over a block. */
function power(block: Int16Array, freq: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * freq) / 8000);
  let s1 = 0;
  let s2 = 0;
  for (let n = 0; n < block.length; n++) {
    const s0 = block[n]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/**
 * Decodes block-aligned tone audio back to text. Quiet blocks (silence) are skipped, a trailing partial block
 * (audio cut by a `clear`) is ignored.
 */
export function decodeToneText(audio: Uint8Array): string {
  const pcm = decodeMulaw(audio);
  let out = '';
  for (let start = 0; start + TONE_BLOCK_SAMPLES <= pcm.length; start += TONE_BLOCK_SAMPLES) {
    const block = pcm.subarray(start, start + TONE_BLOCK_SAMPLES);
    let energy = 0;
    for (const v of block) energy += v * v;
    if (Math.sqrt(energy / block.length) < 500) continue;
    let best = 0;
    let bestPower = -1;
    for (let i = 0; i < TONE_ALPHABET.length; i++) {
      const p = power(block, frequencyOf(i));
      if (p > bestPower) {
        bestPower = p;
        best = i;
      }
    }
    out += TONE_ALPHABET[best];
  }
  return out;
}
