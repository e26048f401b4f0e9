// The simulated caller's phone network: one-way delay and jitter on each direction of the Media Streams leg, order kept.
import { createRng, OrderedSender } from '../emulators/knobs';

/** One direction's delay: every message takes `oneWayMs` ± up to `jitterMs` (uniform), never overtaking an earlier one. */
export interface NetworkOptions {
  /** @default 0 */
  oneWayMs?: number;
  /** @default 0 */
  jitterMs?: number;
  /** Seed of the jitter draws. @default 1 */
  seed?: number;
}

/**
 * A PSTN-like leg: 150 ms one way, the ITU-T G.114 planning bound under which one-way delay is acceptable for most
 * calls ("below 150 ms", numbers.md), with ±20 ms jitter (one 20 ms frame; an assumption, no published figure for the
 * Twilio Media Streams leg). `npm start` and the bench use it unless told `--network zero`.
 */
export const PSTN_NETWORK: Required<Omit<NetworkOptions, 'seed'>> = { oneWayMs: 150, jitterMs: 20 };

/** No network at all: messages pass at once (what tests use unless they ask for delay). */
export const NO_NETWORK: Required<Omit<NetworkOptions, 'seed'>> = { oneWayMs: 0, jitterMs: 0 };

/** One direction of the caller's line. With no delay and no jitter it calls through synchronously. */
export class OneWayLink {
  /** One queue and one timer: arrivals keep the order of departures (one TCP stream), whatever the jitter draws. */
  private readonly wire = new OrderedSender();
  private readonly rng: () => number;

  constructor(private readonly opts: NetworkOptions = {}) {
    this.rng = createRng(opts.seed ?? 1);
  }

  /** Draws this message's delay (ms): oneWayMs ± jitterMs, at least 0. */
  delay(): number {
    const jitter = this.opts.jitterMs ?? 0;
    return Math.max(0, (this.opts.oneWayMs ?? 0) + (jitter ? (this.rng() * 2 - 1) * jitter : 0));
  }

  /** Runs `fn` when the message arrives at the other end, never before one sent earlier. */
  deliver(fn: () => void): void {
    if (!(this.opts.oneWayMs ?? 0) && !(this.opts.jitterMs ?? 0)) return fn();
    this.wire.schedule(this.delay(), fn);
  }

  /** Drops everything still on the wire. */
  cancel(): void {
    this.wire.cancel();
  }
}

/** `--network` values of the CLI tools: `pstn` (PSTN_NETWORK) or `zero` (NO_NETWORK); anything else throws. */
export function networkFor(name: string): Required<Omit<NetworkOptions, 'seed'>> {
  if (name === 'pstn') return PSTN_NETWORK;
  if (name === 'zero') return NO_NETWORK;
  throw new Error(`--network must be pstn (${PSTN_NETWORK.oneWayMs} ± ${PSTN_NETWORK.jitterMs} ms one way) or zero (got "${name}")`);
}
