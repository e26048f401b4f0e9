// Speech-burst tracking for the AssemblyAI and Google STT emulators: μ-law frames in, burst start / word reveal / burst end out, words from a script.
import { isSpeech } from '../audio/mulaw';

/** 20 ms analysis frames at 8 kHz μ-law (the Twilio media frame). */
const FRAME_BYTES = 160;
const FRAME_SEC = 0.02;
/** Speaking rate used to reveal words while a burst lasts (espeak and the tone TTS run ~15 chars/s; same as the Deepgram emulator). */
const SEC_PER_CHAR = 0.065;

/** One word of a burst, seconds on the connection's audio timeline. */
export interface BurstWord {
  /** As written in the script (punctuation and case kept). */
  text: string;
  start: number;
  end: number;
}

export type BurstEvent =
  /** Speech began at `at` (s). */
  | { kind: 'start'; at: number }
  /** One more word of the current burst became audible: `words` are those revealed so far. */
  | { kind: 'words'; words: BurstWord[] }
  /** The burst ended (the configured silence followed it): all its words, spread over the speech actually heard. */
  | { kind: 'end'; words: BurstWord[]; endedAt: number };

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Splits a script line into words spread over [start, end] in proportion to their length (+1 for the gap). */
export function spreadLine(line: string, start: number, end: number): BurstWord[] {
  const tokens = line.split(/\s+/).filter((t) => /[\p{L}\p{N}]/u.test(t));
  const total = tokens.reduce((a, t) => a + t.length + 1, 0) || 1;
  let acc = 0;
  return tokens.map((text) => {
    const s = start + ((end - start) * acc) / total;
    acc += text.length + 1;
    return { text, start: round3(s), end: round3(start + ((end - start) * acc) / total) };
  });
}

/**
 * Follows one connection's audio. A burst is speech up to `endSilenceMs` of silence; each burst takes the next
 * script line (one cursor per connection, like the Deepgram emulator). Words are revealed at SEC_PER_CHAR while the
 * burst lasts and re-spread over the real burst span at its end.
 */
export class BurstTracker {
  private carry = Buffer.alloc(0);
  private sec = 0;
  private cursor = 0;
  private silenceMs = 0;
  private burst: { start: number; end: number; line: string; revealed: number } | undefined;

  constructor(
    private readonly line: (i: number) => string | undefined,
    private readonly endSilenceMs: number,
  ) {}

  /** Seconds of audio received so far. */
  get audioSec(): number {
    return this.sec;
  }

  /** True while a burst is open (speech heard, its ending silence not yet complete). */
  get inBurst(): boolean {
    return this.burst !== undefined;
  }

  /** Feeds received bytes (any length); returns the events they caused, in order. */
  feed(bytes: Uint8Array): BurstEvent[] {
    const all = this.carry.length ? Buffer.concat([this.carry, bytes]) : Buffer.from(bytes);
    const out: BurstEvent[] = [];
    let off = 0;
    for (; all.length - off >= FRAME_BYTES; off += FRAME_BYTES) this.frame(isSpeech(all.subarray(off, off + FRAME_BYTES)), out);
    this.carry = Buffer.from(all.subarray(off));
    return out;
  }

  /** Ends the open burst now (ForceEndpoint, end of audio); returns its end event, if any. */
  flush(): BurstEvent[] {
    const b = this.burst;
    if (!b) return [];
    this.burst = undefined;
    return [{ kind: 'end', words: spreadLine(b.line, b.start, b.end), endedAt: round3(this.sec) }];
  }

  private frame(speech: boolean, out: BurstEvent[]): void {
    const t0 = this.sec;
    this.sec = round3(this.sec + FRAME_SEC);
    if (speech) {
      this.silenceMs = 0;
      if (!this.burst) {
        this.burst = { start: t0, end: this.sec, line: this.line(this.cursor++) ?? '', revealed: 0 };
        out.push({ kind: 'start', at: round3(t0) });
      }
      const b = this.burst;
      b.end = this.sec;
      const guess = spreadLine(b.line, b.start, b.start + b.line.length * SEC_PER_CHAR);
      const audible = guess.filter((w) => w.end <= b.end).length;
      if (audible > b.revealed) {
        b.revealed = audible;
        out.push({ kind: 'words', words: guess.slice(0, audible) });
      }
      return;
    }
    this.silenceMs += FRAME_SEC * 1000;
    if (this.burst && this.silenceMs >= this.endSilenceMs - 1e-6) out.push(...this.flush());
  }
}
