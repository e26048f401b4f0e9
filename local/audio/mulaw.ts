// G.711 μ-law codec and frame energy for the local kit (the product itself never transcodes).

const BIAS = 0x84;
const CLIP = 32635;

/** Linear 16-bit sample → μ-law byte (ITU-T G.711). */
export function linearToMulaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

const DECODE_TABLE = Int16Array.from({ length: 256 }, (_, byte) => {
  const u = ~byte & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return sign ? -magnitude : magnitude;
});

/** μ-law byte → linear 16-bit sample. */
export function mulawToLinear(byte: number): number {
  return DECODE_TABLE[byte & 0xff]!;
}

/** μ-law silence (zero amplitude). */
export const MULAW_SILENCE = 0xff;

/** 20 ms of μ-law at 8 kHz. */
export const FRAME_BYTES = 160;

/** Encodes linear samples to μ-law bytes. */
export function encodeMulaw(samples: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = linearToMulaw(samples[i]!);
  return out;
}

/** Decodes μ-law bytes to linear samples. */
export function decodeMulaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = DECODE_TABLE[bytes[i]!]!;
  return out;
}

/** Root-mean-square amplitude of μ-law audio (0..32767). */
export function rms(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (end <= start) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const v = DECODE_TABLE[bytes[i]!]!;
    sum += v * v;
  }
  return Math.sqrt(sum / (end - start));
}

/**
 * RMS above which a 20 ms frame counts as speech. Room noise on a phone line sits far below 500;
 * espeak speech and the emulated TTS sit in the thousands.
 */
export const SPEECH_RMS = 500;

/** True when the frame's energy says someone is talking. */
export function isSpeech(frame: Uint8Array): boolean {
  return rms(frame) >= SPEECH_RMS;
}

/** `ms` of μ-law silence. */
export function silence(ms: number): Uint8Array {
  return new Uint8Array(Math.round((ms * 8000) / 1000)).fill(MULAW_SILENCE);
}
