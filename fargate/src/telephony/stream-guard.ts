// Per-stream bounds on what a peer can make the server do: rate-limited log lines, a keypad-digit cap, a budget of dropped messages.
/** Bounds of one stream (defaults in {@link StreamGuard}). */
export interface StreamGuardLimits {
  /** Digits held without a `#` before further ones are dropped. @default 32 (longer than any PIN, card or account number a caller types) */
  maxKeypadRun?: number;
  /** Messages dropped as malformed in one call before the stream is closed 1008. @default 100 */
  maxBadMessages?: number;
}

/** What the server does with one `dtmf` digit. */
export type DigitVerdict = 'deliver' | 'drop';

/**
 * Pure bookkeeping (no I/O, no clock): the server asks it before logging or delivering, so a peer that floods unknown
 * events, odd digits or endless keypad input costs a few log lines, never one per message.
 */
export class StreamGuard {
  private unknown = 0;
  private bad = 0;
  private keypadRun = 0;
  private readonly maxRun: number;
  private readonly maxBad: number;

  constructor(limits: StreamGuardLimits = {}) {
    this.maxRun = limits.maxKeypadRun ?? 32;
    this.maxBad = limits.maxBadMessages ?? 100;
  }

  /** Counts an unknown event; true when this one should be logged (the 1st–3rd, then every 100th). */
  unknownEvent(): { log: boolean; count: number } {
    this.unknown++;
    return { log: logWorthy(this.unknown), count: this.unknown };
  }

  /** Counts a malformed message that was dropped; `close` once the call has used up its budget. */
  badMessage(): { log: boolean; count: number; close: boolean } {
    this.bad++;
    return { log: logWorthy(this.bad), count: this.bad, close: this.bad > this.maxBad };
  }

  /** A keypad digit: `#` always goes through and resets the run; beyond the cap the rest of the run is dropped. */
  digit(d: string): { verdict: DigitVerdict; firstDrop: boolean } {
    if (d === '#') {
      this.keypadRun = 0;
      return { verdict: 'deliver', firstDrop: false };
    }
    this.keypadRun++;
    if (this.keypadRun <= this.maxRun) return { verdict: 'deliver', firstDrop: false };
    return { verdict: 'drop', firstDrop: this.keypadRun === this.maxRun + 1 };
  }
}

function logWorthy(n: number): boolean {
  return n <= 3 || n % 100 === 0;
}
