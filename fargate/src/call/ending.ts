// How a call leaves the agent, as one sequence with one state: escalation to a person, <Pay>, provider failure,
// migration to another task, hang-up. Each says its cached line (heard and recorded like any utterance) first.
import type { AudioCache, CachedAudio } from '../audio-cache';
import type { AgentProfile } from '../agents';
import { paymentTwiml, summarizeForHandoff, transferTwiml, type EscalationReason } from '../escalation';
import type { Logger } from '../observability/logger';
import type { TelephonyTransport } from '../providers/types';
import type { Recording } from './recording';
import type { Speaking } from './speaking';

/** Longest wait for a line to finish playing before the next step goes ahead anyway. */
const LINE_PLAY_LIMIT_MS = 8000;
/** Longest wait for a line's audio from the phrase cache. */
const LINE_FETCH_LIMIT_MS = 2000;

export type EndingState = 'escalating' | 'paying' | 'migrating' | 'hanging-up';

export interface EndingDeps {
  profile: AgentProfile;
  speaking: Speaking;
  recording: Recording;
  transport: Pick<TelephonyTransport, 'transfer' | 'hangup'>;
  cache: Pick<AudioCache, 'get'>;
  publicUrl: string;
  transferNumber: string;
  /** Stores the handoff summary on the call record the moment the transfer starts. */
  putHandoff(summary: string): void;
  /** Ends the call loop. */
  stop(reason: string): void;
  /** Counts a provider failure (ProviderErrors). */
  providerError?(what: string): void;
  signal: AbortSignal;
  log: Logger;
}

/** The ending of one call; at most one sequence runs. */
export class Ending {
  state: EndingState | undefined;
  escalated = false;
  failed = false;
  summary: string | undefined;

  constructor(private readonly d: EndingDeps) {}

  /** Hands the call to a person: (apology,) handoff line, summary for the human, `<Dial>` over Twilio REST. */
  async escalate(reason: EscalationReason, opts: { apology?: boolean } = {}): Promise<void> {
    if (!this.begin('escalating')) return;
    this.escalated = true;
    this.d.log.info({ reason }, 'escalating to a human');
    if (opts.apology) await this.say('apology', this.d.profile.apologyLine);
    await this.say('handoff', this.d.profile.handoffLine);
    this.summary = summarizeForHandoff(reason, this.d.recording.turns, this.d.recording.toolsCalled);
    this.d.putHandoff(this.summary);
    await this.update(transferTwiml(this.d.transferNumber), 'transfer');
    this.d.stop('transferred');
  }

  /** Hands the call to Twilio `<Pay>`: card digits never reach the agent. */
  async pay(amount: string): Promise<void> {
    if (!this.begin('paying')) return;
    await this.say('payment', this.d.profile.paymentLine);
    await this.update(paymentTwiml(this.d.publicUrl, amount), 'payment handoff');
    this.d.stop('payment');
  }

  /** A provider failed mid-call: apology from cache, then a person (or a clean hang-up if that fails too). */
  providerFailure(what: string, err: unknown): void {
    this.d.providerError?.(what);
    if (this.state) return;
    this.failed = true;
    this.d.log.error({ provider: what, err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'provider failed mid-call');
    void this.escalate('provider-failure', { apology: true });
  }

  private begin(state: EndingState): boolean {
    if (this.state) return false;
    this.state = state;
    // Whatever was being said or prepared stops; the line queues behind audio already playing.
    this.d.speaking.drop();
    this.d.speaking.current?.abort('superseded');
    return true;
  }

  /** Replaces the call's TwiML; if Twilio refuses, the call is hung up instead. */
  private async update(twiml: string, what: string): Promise<void> {
    try {
      await this.d.transport.transfer(twiml);
    } catch (err) {
      this.failed = true;
      this.d.log.error({ err: { name: (err as Error)?.name } }, `${what} failed; hanging up`);
      await this.d.transport.hangup(`${what} failed`).catch(() => undefined);
    }
  }

  /** Says a cached line, recorded as heard, and waits (bounded) until it has played. */
  private async say(owner: string, phrase: string): Promise<void> {
    let line: CachedAudio | undefined;
    try {
      line = await Promise.race([this.d.cache.get(this.d.profile.voiceId, phrase), sleep(LINE_FETCH_LIMIT_MS).then(() => undefined)]);
    } catch (err) {
      this.d.log.warn({ err: { name: (err as Error)?.name } }, 'cached line unavailable');
    }
    if (!line || this.d.signal.aborted) return;
    this.d.recording.saying(owner, line.text);
    this.d.speaking.say(owner, line);
    await this.d.speaking.played(owner, Math.min(LINE_PLAY_LIMIT_MS, line.audio.length / 8 + 1500), this.d.signal);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
