// Agent audio on the phone line: every chunk sent with a Twilio mark, what played, clears, and pause/resume on barge-in.
import type { Alignment, Mulaw, TelephonyTransport } from '../providers/types';

/** μ-law at 8 kHz: 8 bytes per millisecond. */
const BYTES_PER_MS = 8;

interface SentChunk {
  owner: string;
  mark: string;
  audio: Mulaw;
  alignment: Alignment;
  sentAt: number;
  /** When Twilio echoed the mark: the chunk has finished playing. */
  playedAt?: number;
  /** Dropped by a `clear` before it finished playing. */
  cleared?: boolean;
  /** Milliseconds of this chunk the caller heard (set when it was cleared). */
  heardMs?: number;
}

/** Audio waiting while playout is paused: the unheard rest of cleared chunks, then anything played meanwhile. */
interface Waiting {
  owner: string;
  audio: Mulaw;
  alignment: Alignment;
}

/** Spreads `text` evenly over `ms` when the TTS gave no alignment (cached phrases, or a vendor frame without it). */
export function evenAlignment(text: string, ms: number): Alignment {
  const chars = [...text];
  const each = chars.length ? ms / chars.length : 0;
  return { chars, charStartMs: chars.map((_, i) => i * each), charDurationMs: chars.map(() => each) };
}

/**
 * The part of a chunk the caller did not hear, from the first character that had not finished playing at `heardMs`
 * (so a resumed reply repeats at most one character's worth of sound, never skips one).
 */
export function unheardRest(audio: Mulaw, alignment: Alignment, heardMs: number): { audio: Mulaw; alignment: Alignment } {
  const n = alignment.chars.length;
  let i = 0;
  while (i < n && alignment.charStartMs[i]! + alignment.charDurationMs[i]! <= heardMs) i++;
  const fromMs = n === 0 ? Math.min(heardMs, audio.length / BYTES_PER_MS) : i < n ? alignment.charStartMs[i]! : audio.length / BYTES_PER_MS;
  const from = Math.min(audio.length, Math.floor(fromMs) * BYTES_PER_MS);
  return {
    audio: audio.subarray(from),
    alignment: {
      chars: alignment.chars.slice(i),
      charStartMs: alignment.charStartMs.slice(i).map((s) => s - fromMs),
      charDurationMs: alignment.charDurationMs.slice(i),
    },
  };
}

/**
 * Agent audio bookkeeping for one call. Every piece of audio goes out followed by a Twilio `mark`; Twilio echoes the
 * mark when the audio before it has played, and echoes every queued mark at once after a `clear` (Twilio Media
 * Streams "Send a clear message": "the server will … send back mark messages for any marks that had been queued").
 * So "heard" = every chunk whose mark came back before we cleared, plus the part of the in-flight chunk that had time
 * to play, estimated from the previous echo (or the send time) and the TTS character alignment.
 *
 * Barge-in is two-step: {@link pause} clears Twilio's queue at once but keeps the unheard audio; {@link resume}
 * sends it again from where the caller stopped hearing (a backchannel or noise); {@link clear} drops it for good.
 */
export class Playout {
  private chunks: SentChunk[] = [];
  private seq = 0;
  /** Estimated wall time the Twilio queue runs dry, from bytes sent; the fallback when marks are slow. */
  private queueEnd = 0;
  /** Set while paused: what resume sends, in order. */
  private waiting: Waiting[] | undefined;

  constructor(private readonly transport: Pick<TelephonyTransport, 'play' | 'mark' | 'clear'>) {}

  /** Sends `audio` (speaking `alignment.chars`) for `owner` (a reply id, 'greeting', a line, …) and a mark after it; while paused it waits. */
  play(owner: string, audio: Mulaw, alignment: Alignment, now: number): void {
    if (audio.length === 0) return;
    if (this.waiting) {
      this.waiting.push({ owner, audio, alignment });
      return;
    }
    const mark = `${owner}.${++this.seq}`;
    this.transport.play(audio);
    this.transport.mark(mark);
    this.chunks.push({ owner, mark, audio, alignment, sentAt: now });
    this.queueEnd = Math.max(this.queueEnd, now) + audio.length / BYTES_PER_MS;
  }

  /** Records a mark echo; returns the owner when that echo was its last outstanding chunk (its audio is done). */
  onMark(name: string, now: number): { owner: string; finished: boolean } | undefined {
    const chunk = this.chunks.find((c) => c.mark === name);
    if (!chunk || chunk.cleared || chunk.playedAt !== undefined) return undefined;
    chunk.playedAt = now;
    return { owner: chunk.owner, finished: !this.pending(chunk.owner) };
  }

  /** True while `owner` has audio queued at Twilio that has neither played nor been cleared, or waits in a pause. */
  pending(owner: string): boolean {
    return this.chunks.some((c) => c.owner === owner && c.playedAt === undefined && !c.cleared) || !!this.waiting?.some((w) => w.owner === owner);
  }

  /**
   * True while agent audio is queued at Twilio (a mark is outstanding) or paused. Marks arrive when playback ends, so
   * the byte-count estimate only bounds it: an outstanding mark 2 s past the estimated end counts as lost.
   */
  audible(now: number): boolean {
    if (this.waiting) return true;
    return this.chunks.some((c) => c.playedAt === undefined && !c.cleared) && now < this.queueEnd + 2000;
  }

  get paused(): boolean {
    return this.waiting !== undefined;
  }

  /** Barge-in, step one: `clear` at Twilio now, keep what was not heard for {@link resume}. Returns the owners cut short. */
  pause(now: number): string[] {
    if (this.waiting) return [];
    const cut = this.settleQueued(now);
    this.waiting = [];
    for (const c of cut) {
      const rest = unheardRest(c.audio, c.alignment, c.heardMs!);
      if (rest.audio.length) this.waiting.push({ owner: c.owner, ...rest });
    }
    return owners(cut);
  }

  /** False alarm: plays again, from where the caller stopped hearing, everything the pause held back. */
  resume(now: number): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    for (const w of waiting ?? []) this.play(w.owner, w.audio, w.alignment, now);
  }

  /** Barge-in for good: `clear` what is queued (or drop what a pause held back). Returns the owners cut short. */
  clear(now: number): string[] {
    if (this.waiting) {
      const held = owners(this.waiting);
      this.waiting = undefined;
      return held;
    }
    return owners(this.settleQueued(now));
  }

  /** The text `owner`'s audio carried to the caller so far (whole chunks played, plus fully played characters of a cleared one). */
  heard(owner: string): string {
    let out = '';
    for (const c of this.chunks) {
      if (c.owner !== owner) continue;
      const a = c.alignment;
      if (c.playedAt !== undefined) out += a.chars.join('');
      else if (c.cleared) {
        for (let i = 0; i < a.chars.length; i++) if (a.charStartMs[i]! + a.charDurationMs[i]! <= c.heardMs!) out += a.chars[i];
      }
    }
    return out;
  }

  /** Forgets a finished owner's chunks so a long call does not grow without bound. */
  forget(owner: string): void {
    if (!this.pending(owner)) this.chunks = this.chunks.filter((c) => c.owner !== owner);
  }

  /** Sends `clear` and records how much of each queued chunk played by `now`; returns the chunks it cut. */
  private settleQueued(now: number): SentChunk[] {
    this.transport.clear();
    let playhead = this.lastEcho();
    const cut: SentChunk[] = [];
    for (const c of this.chunks) {
      if (c.playedAt !== undefined || c.cleared) continue;
      const start = Math.max(c.sentAt, playhead);
      const durationMs = c.audio.length / BYTES_PER_MS;
      c.heardMs = Math.max(0, Math.min(durationMs, now - start));
      c.cleared = true;
      playhead = start + durationMs;
      cut.push(c);
    }
    this.queueEnd = now;
    return cut;
  }

  private lastEcho(): number {
    let t = 0;
    for (const c of this.chunks) if (c.playedAt !== undefined) t = Math.max(t, c.playedAt);
    return t;
  }
}

function owners(chunks: { owner: string }[]): string[] {
  return [...new Set(chunks.map((c) => c.owner))];
}
