// One call's flags for human review, raised: each flag ReviewFlags (flags.ts) decides on is logged, recorded on the transcript and published to the console.
import type { CallFlag, LiveFeed } from '../../../contracts/console';
import type { ReviewThresholds } from '../agents/types';
import type { Logger } from '../observability/logger';
import { ReviewFlags } from './flags';

export interface ReviewDeps {
  callSid: string;
  thresholds: ReviewThresholds;
  /** The caller's earlier turns (a call continued from another stream), so repeats count across the move. */
  earlierCallerTurns?: readonly string[];
  /** COST_CAP_USD, named in the guardrail flag. */
  capUsd?: number;
  /** Records a flag on the call's transcript (Recording.note). */
  record(name: string, id: string, args: Record<string, unknown>, ok: boolean): void;
  feed?: LiveFeed;
  log: Logger;
  now: () => number;
}

/** The review side of one call. */
export class Review {
  private readonly flags: ReviewFlags;

  constructor(private readonly d: ReviewDeps) {
    this.flags = new ReviewFlags(d.thresholds, d.earlierCallerTurns);
  }

  /** A caller turn as heard (redacted text, mean STT confidence). */
  caller(text: string, confidence: number): void {
    this.raise(this.flags.caller(text, confidence));
  }

  /** A reply's tool results. */
  tools(results: readonly { name: string; ok: boolean }[]): void {
    this.raise(this.flags.tools(results));
  }

  /** The budget guardrail told the agent to wrap up. */
  guardrail(runningUsd: number): void {
    this.raise(this.flags.guardrail(runningUsd, this.d.capUsd));
  }

  /** Frustration reached the profile's escalation threshold (the escalation policy reads it). */
  get frustrated(): boolean {
    return this.flags.frustrated;
  }

  private raise(flags: CallFlag[]): void {
    for (const flag of flags) {
      this.d.log.warn({ flag }, 'call flagged for review');
      this.d.record(`flag.${flag.kind}`, `flag-${flag.kind}`, { detail: flag.detail, recommended: flag.recommended }, true);
      this.d.feed?.publish({ type: 'flag', callSid: this.d.callSid, flag, at: this.d.now() });
    }
  }
}
