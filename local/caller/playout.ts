// Twilio's outbound playout buffer as the caller's phone sees it: audio drained at 8000 bytes/s, marks echoed in order, clear.
// Pure: time is passed in (ms on any monotonic clock), so the model is testable without timers.

/** What the playout reports as time passes. All times are on the clock passed to the methods. */
export interface PlayoutSink {
  /** `bytes` left the buffer and reached the caller's ear, the first byte at `at`, the rest at 8 bytes/ms after it. */
  played(bytes: Uint8Array, at: number): void;
  /** The audio queued before this mark finished playing (or it was flushed by a clear, or nothing was queued). */
  mark(name: string, at: number): void;
  /** The buffer ran dry at `at` after playing audio (a gap in what the caller hears). */
  drained(at: number): void;
  /** A `clear` dropped `droppedBytes` of queued audio at `at`. */
  cleared(at: number, droppedBytes: number): void;
}

type Item = { kind: 'audio'; bytes: Uint8Array; pos: number } | { kind: 'mark'; name: string };

/** μ-law at 8 kHz: 8 bytes per millisecond. */
export const BYTES_PER_MS = 8;

/**
 * Twilio bidirectional playout (protocols.md §1.3): "media messages are buffered and played in the order received";
 * a `mark` comes back "when the audio ends (or if there is no audio buffered)"; `clear` "empties all buffered audio
 * and causes any mark messages to be sent back".
 */
export class Playout {
  private items: Item[] = [];
  /** Time up to which playback has been computed. */
  private clockAt = Number.NEGATIVE_INFINITY;
  /** Fraction of a byte of playback time carried between advances (keeps the drain drift-free). */
  private carry = 0;
  private queued = 0;

  constructor(private readonly sink: PlayoutSink) {}

  /** Bytes of audio still waiting to play. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** True when nothing (audio or mark) is queued. */
  get idle(): boolean {
    return this.items.length === 0;
  }

  /** Plays everything due up to `now`: audio at 8000 bytes/s from when it was queued, marks when reached. */
  advance(now: number): void {
    if (now <= this.clockAt) return;
    if (this.items.length === 0) {
      this.clockAt = now;
      this.carry = 0;
      return;
    }
    let budget = (now - this.clockAt) * BYTES_PER_MS + this.carry;
    let t = this.clockAt;
    while (this.items.length > 0) {
      const head = this.items[0]!;
      if (head.kind === 'mark') {
        this.items.shift();
        this.sink.mark(head.name, t);
        if (this.items.length === 0) this.sink.drained(t);
        continue;
      }
      const n = Math.min(head.bytes.length - head.pos, Math.floor(budget));
      if (n > 0) {
        this.sink.played(head.bytes.subarray(head.pos, head.pos + n), t);
        head.pos += n;
        this.queued -= n;
        budget -= n;
        t += n / BYTES_PER_MS;
      }
      if (head.pos < head.bytes.length) break;
      this.items.shift();
      if (this.items.length === 0) this.sink.drained(t);
    }
    this.carry = this.items.length > 0 ? budget : 0;
    this.clockAt = now;
  }

  /** Queues agent audio received at `now`; into an empty buffer it starts playing at once. */
  pushAudio(bytes: Uint8Array, now: number): void {
    this.advance(now);
    if (bytes.length === 0) return;
    this.items.push({ kind: 'audio', bytes, pos: 0 });
    this.queued += bytes.length;
  }

  /** Queues a mark received at `now`; with nothing buffered it is echoed at once. */
  pushMark(name: string, now: number): void {
    this.advance(now);
    if (this.items.length === 0) this.sink.mark(name, now);
    else this.items.push({ kind: 'mark', name });
  }

  /** Twilio `clear` at `now`: drops the queued audio and echoes every pending mark, in order. */
  clear(now: number): void {
    this.advance(now);
    const pending = this.items;
    const dropped = this.queued;
    this.items = [];
    this.queued = 0;
    this.carry = 0;
    this.sink.cleared(now, dropped);
    for (const item of pending) if (item.kind === 'mark') this.sink.mark(item.name, now);
  }
}
