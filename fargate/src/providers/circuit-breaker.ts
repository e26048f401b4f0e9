// Per-task circuit breaker for one provider: closed → open after N consecutive failures → half-open probe → closed.

/** Breaker state, as Fowler's CircuitBreaker pattern (martinfowler.com/bliki/CircuitBreaker.html) names them. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. @default 3 */
  failureThreshold?: number;
  /** How long an open breaker keeps new calls away before letting one probe through. @default 30000 */
  openMs?: number;
  /** Clock in ms (injected in tests). @default Date.now */
  now?: () => number;
}

/**
 * One provider's breaker, shared by every call on the task. `allow()` asks whether a new call may use the provider:
 * always when closed; never while open; once the open period is over, exactly one probe (half-open) until that
 * probe reports. A success closes it, a failure re-opens it for another `openMs`.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private mode: BreakerState = 'closed';
  private probing = false;
  private readonly threshold: number;
  private readonly openMs: number;
  private readonly now: () => number;

  constructor(opts: BreakerOptions = {}) {
    this.threshold = opts.failureThreshold ?? 3;
    this.openMs = opts.openMs ?? 30_000;
    this.now = opts.now ?? Date.now;
    if (!Number.isInteger(this.threshold) || this.threshold < 1) throw new Error(`failureThreshold must be an integer ≥ 1, got ${this.threshold}`);
    if (!(this.openMs >= 0)) throw new Error(`openMs must be ≥ 0, got ${this.openMs}`);
  }

  /** The state as of now (an open breaker whose period is over reads half-open). */
  get state(): BreakerState {
    if (this.mode === 'open' && this.now() - this.openedAt >= this.openMs) return 'half-open';
    return this.mode;
  }

  /** May a new call use this provider? In half-open, true once (the probe) until it reports success or failure. */
  allow(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'open') return false;
    if (this.probing) return false;
    this.mode = 'half-open';
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    this.mode = 'closed';
  }

  failure(): void {
    this.probing = false;
    this.failures += 1;
    if (this.mode === 'half-open' || this.failures >= this.threshold) {
      this.mode = 'open';
      this.openedAt = this.now();
    }
  }
}
