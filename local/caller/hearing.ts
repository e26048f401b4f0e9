// What the caller makes of the agent audio that actually played: speech frames (by energy) and the text in its tones.
import { FRAME_BYTES, isSpeech } from '../audio/mulaw';
import { TONE_BLOCK_SAMPLES, decodeToneText } from '../audio/tone-text';
import { BYTES_PER_MS } from './playout';

/** What the ear reports. Times are on the playout's clock. */
export interface EarSink {
  /** A 20 ms frame of played agent audio with speech energy, starting at `at`. */
  speech(at: number, durationMs: number): void;
  /** One decoded character of a fully played tone block ('' when the block was quiet). */
  char(ch: string): void;
}

/**
 * Listens to the played stream. Frames of 160 bytes (20 ms) are judged by energy (`isSpeech`); a frame cut short by
 * a gap or a clear is judged on what played. Text: the TTS emulator's tone blocks (CONTRACTS.md) are decoded from the
 * start of each stretch of agent audio, a stretch being the agent's bytes with nothing dropped between them. Only a
 * `clear` drops bytes (and a partial block), so block alignment restarts after a clear and survives playout gaps.
 */
export class Ear {
  private frame = new Uint8Array(FRAME_BYTES);
  private frameLen = 0;
  private frameAt = 0;
  private block = new Uint8Array(TONE_BLOCK_SAMPLES);
  private blockLen = 0;

  constructor(private readonly sink: EarSink) {}

  /** `bytes` played contiguously, the first at `at`. */
  played(bytes: Uint8Array, at: number): void {
    let i = 0;
    while (i < bytes.length) {
      if (this.frameLen === 0) this.frameAt = at + i / BYTES_PER_MS;
      const n = Math.min(FRAME_BYTES - this.frameLen, bytes.length - i);
      this.frame.set(bytes.subarray(i, i + n), this.frameLen);
      this.frameLen += n;
      this.feedBlock(bytes.subarray(i, i + n));
      i += n;
      if (this.frameLen === FRAME_BYTES) this.flushFrame();
    }
  }

  /** The playout ran dry: judge the partial frame now (the next audio starts a new frame). */
  gap(): void {
    this.flushFrame();
  }

  /** A clear dropped the rest: the partial frame played, the partial block is lost, alignment restarts. */
  clear(): void {
    this.flushFrame();
    this.blockLen = 0;
  }

  private flushFrame(): void {
    if (this.frameLen === 0) return;
    const frame = this.frame.subarray(0, this.frameLen);
    if (isSpeech(frame)) this.sink.speech(this.frameAt, this.frameLen / BYTES_PER_MS);
    this.frameLen = 0;
  }

  private feedBlock(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length) {
      const n = Math.min(TONE_BLOCK_SAMPLES - this.blockLen, bytes.length - i);
      this.block.set(bytes.subarray(i, i + n), this.blockLen);
      this.blockLen += n;
      i += n;
      if (this.blockLen === TONE_BLOCK_SAMPLES) {
        this.sink.char(decodeToneText(this.block));
        this.blockLen = 0;
      }
    }
  }
}
