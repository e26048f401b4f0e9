// How a call leaves the agent, as one sequence with one state: escalation to a person, <Pay>, provider failure,
// migration to another task. Each says its cached line (heard and recorded like any utterance) first.
import type { AudioCache, CachedAudio } from './audio-cache';
import type { AgentProfile } from '../agents';
import type { Config } from '../config';
import { paymentTwiml, summarizeForHandoff, transferTwiml, type EscalationReason } from './escalation';
import type { Logger } from '../observability/logger';
import type { TelephonyTransport } from '../providers/types';
import type { HandoverReason } from './handover';
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
  config: Pick<Config, 'PUBLIC_URL' | 'STREAM_TOKEN_KEY' | 'TRANSFER_NUMBER'>;
  callSid: string;
  /** The call is being handed to a person, and why (the operations console shows it). @default none */
  escalating?(reason: string): void;
  /** Stores the handoff summary on the call record the moment the transfer starts. */
  putHandoff(summary: string): void;
  /** Saves the call's state for the stream that takes it over (migration, or back from <Pay>). */
  handOver(reason: HandoverReason): Promise<void>;
  /** `<Connect><Stream>` TwiML that lands the live call on a healthy task (which takes the handover). */
  resumeTwiml(): string;
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
  /** The call goes on in another stream, which writes the call record, cost and caller memory at its end. */
  handedOver = false;

  constructor(private readonly d: EndingDeps) {}

  /**
   * Hands the call to a person: (apology,) handoff line, summary for the human, `<Dial>` over Twilio REST — to
   * TRANSFER_NUMBER, or to `to` (an operator taking over from the console). Resolves true when Twilio took the
   * `<Dial>`; false when another ending was already under way or the transfer failed (the call is then hung up).
   */
  async escalate(reason: EscalationReason, opts: { apology?: boolean; to?: string } = {}): Promise<boolean> {
    if (!this.begin('escalating')) return false;
    this.escalated = true;
    this.d.log.info({ reason }, 'escalating to a human');
    this.d.escalating?.(reason);
    if (opts.apology) await this.say('apology', this.d.profile.apologyLine);
    await this.say('handoff', this.d.profile.handoffLine);
    this.summary = summarizeForHandoff(reason, this.d.recording.turns, this.d.recording.toolsCalled);
    this.d.putHandoff(this.summary);
    const dialled = await this.update(transferTwiml(opts.to ?? this.d.config.TRANSFER_NUMBER), 'transfer');
    this.d.stop('transferred');
    return dialled;
  }

  /**
   * Ends the call now (an operator's hang-up): whatever is being said stops and Twilio completes the call (REST
   * `Status=completed`, the transport's hang-up). Resolves true when Twilio took it; on a refusal the call goes on.
   */
  async hangUp(reason: string): Promise<boolean> {
    if (!this.begin('hanging-up')) return false;
    this.d.log.info({ reason }, 'hanging up');
    try {
      await this.d.transport.hangup(reason);
    } catch (err) {
      this.d.log.error({ err: { name: (err as Error)?.name } }, 'hang-up failed; the call goes on');
      this.state = undefined;
      return false;
    }
    this.d.stop('hung up');
    return true;
  }

  /**
   * Hands the call to Twilio `<Pay>`: card digits never reach the agent. The conversation waits in a handover for the
   * stream `/pay-result` opens afterwards.
   */
  async pay(amount: string): Promise<void> {
    if (!this.begin('paying')) return;
    await this.say('payment', this.d.profile.paymentLine);
    this.handedOver = await this.save('pay');
    if (!(await this.update(paymentTwiml(this.d.config, this.d.callSid, amount), 'payment handoff'))) this.handedOver = false;
    this.d.stop('payment');
  }

  /**
   * This task must go (SIGTERM, scale-in, deploy): once nothing is being said, the hold line, then the call's state
   * to Redis and its TwiML to a fresh `<Connect><Stream>`, which the load balancer sends to a healthy task. If the
   * state cannot be saved the call stays here (the drain then waits for it). Resolves true once handed over.
   */
  async migrate(): Promise<boolean> {
    if (!this.begin('migrating')) return false;
    await this.say('hold', this.d.profile.holdLine);
    if (!(await this.save('migrate'))) {
      this.state = undefined;
      return false;
    }
    this.handedOver = await this.update(this.d.resumeTwiml(), 'migration');
    this.d.stop('migrated');
    return this.handedOver;
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

  /** Replaces the call's TwiML; if Twilio refuses, the call is hung up instead. True when Twilio took it. */
  private async update(twiml: string, what: string): Promise<boolean> {
    try {
      await this.d.transport.transfer(twiml);
      return true;
    } catch (err) {
      this.failed = true;
      this.d.log.error({ err: { name: (err as Error)?.name } }, `${what} failed; hanging up`);
      await this.d.transport.hangup(`${what} failed`).catch(() => undefined);
      return false;
    }
  }

  private async save(reason: HandoverReason): Promise<boolean> {
    try {
      await this.d.handOver(reason);
      return true;
    } catch (err) {
      this.d.log.warn({ reason, err: { name: (err as Error)?.name } }, 'call state not handed over');
      return false;
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
