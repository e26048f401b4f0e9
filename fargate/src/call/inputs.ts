// Everything that happens to a call, as one event queue: Twilio inbound (media to the STT, the rest to the loop),
// STT events, keypad entries, clock ticks (one timer, at the turn detector's next deadline) and reply completions; plus the media timeline that maps STT times to wall time.
import type { InboundEvent, Mulaw, SpeechToText, SttEvent } from '../providers/types';
import { AsyncQueue } from '../providers/async-queue';
import type { Reply, ReplyOutcome } from './reply';

export type CallEvent =
  | { kind: 'mark'; name: string }
  | { kind: 'keypad'; digits: string }
  | { kind: 'ended'; why: 'stop' | 'hangup' | 'aborted' }
  | { kind: 'stt'; ev: SttEvent }
  | { kind: 'stt-ended'; error?: unknown }
  | { kind: 'tick' }
  | { kind: 'reply-done'; reply: Reply; outcome: ReplyOutcome };

/** Keypad digits end at '#' or after this pause (their count is bounded at the transport: telephony/stream-guard.ts). */
const KEYPAD_PAUSE_MS = 2000;

/**
 * How often a deadline that a tick did not clear is ticked again. Only a barge-in bound waits on the agent being
 * audible at the tick; this is the period the loop used to tick at all the time.
 */
const STALE_DEADLINE_POLL_MS = 50;

/** The inputs of one call. `close()` stops every timer and pump. */
export class CallInputs {
  readonly events = new AsyncQueue<CallEvent>();
  /** Caller audio for the STT, untouched. */
  private readonly audio = new AsyncQueue<Mulaw>();
  private audioMsSent = 0;
  private wallOffset = Number.POSITIVE_INFINITY;
  private digits = '';
  private keypadTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private tickDue = 0;

  /** `sttSecondsBefore`: caller audio an earlier stream of this call already sent (a continued call). */
  constructor(private readonly now: () => number, private readonly log: { warn(o: object, m: string): void }, private readonly sttSecondsBefore = 0) {}

  /** Reads Twilio's inbound stream until it ends: media to the STT queue, marks/dtmf/stop to the loop. */
  pumpInbound(inbound: AsyncIterable<InboundEvent>): void {
    void (async () => {
      try {
        for await (const ev of inbound) {
          if (ev.kind === 'media') {
            // The earliest-arriving frame fixes the offset between the media timeline and the wall clock.
            this.wallOffset = Math.min(this.wallOffset, this.now() - this.audioMsSent);
            this.audioMsSent += ev.audio.length / 8;
            this.audio.push(ev.audio);
          } else if (ev.kind === 'mark') this.events.push({ kind: 'mark', name: ev.name });
          else if (ev.kind === 'dtmf') this.keypad(ev.digit);
          else if (ev.kind === 'stop') break;
        }
      } catch (err) {
        this.log.warn({ err: { name: (err as Error)?.name } }, 'inbound stream failed');
      }
      this.events.push({ kind: 'ended', why: 'stop' });
    })();
  }

  /** Runs the recogniser over the caller's audio; its events (and its end) go to the loop. */
  pumpStt(stt: SpeechToText, signal: AbortSignal): void {
    void (async () => {
      try {
        for await (const ev of stt.transcribe(this.audio, signal)) this.events.push({ kind: 'stt', ev });
        this.events.push({ kind: 'stt-ended' });
      } catch (err) {
        this.events.push({ kind: 'stt-ended', error: err });
      }
    })();
  }

  /** A reply's completion becomes a loop event. */
  watch(reply: Reply): void {
    void reply.done.then((outcome) => this.events.push({ kind: 'reply-done', reply, outcome }));
  }

  /** Wall-clock ms of a media-timeline time in seconds (STT word times), once audio has flowed. */
  wallOf(mediaSec: number): number | undefined {
    return Number.isFinite(this.wallOffset) ? mediaSec * 1000 + this.wallOffset : undefined;
  }

  /** Seconds of caller audio streamed to the STT, over the whole call. */
  get sttSeconds(): number {
    return this.sttSecondsBefore + this.audioMsSent / 1000;
  }

  /**
   * Arms the one clock of the call: a `tick` event at `at` (the turn detector's next deadline), or none. Called after
   * every event; `afterTick`: that event was the tick, so a deadline still in the past is polled, not re-fired at once.
   */
  tickAt(at: number | undefined, afterTick: boolean): void {
    if (at === undefined) return this.stopTick();
    const now = this.now();
    if (at > now) return this.armTick(at, now);
    if (afterTick) return this.armTick(now + STALE_DEADLINE_POLL_MS, now);
    if (!this.tickTimer || this.tickDue > now + STALE_DEADLINE_POLL_MS) this.armTick(now, now);
  }

  private armTick(due: number, now: number): void {
    if (this.tickTimer && this.tickDue === due) return;
    this.stopTick();
    this.tickDue = due;
    this.tickTimer = setTimeout(() => {
      this.tickTimer = undefined;
      this.events.push({ kind: 'tick' });
    }, due - now);
  }

  private stopTick(): void {
    if (this.tickTimer) clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
  }

  close(): void {
    this.stopTick();
    if (this.keypadTimer) clearTimeout(this.keypadTimer);
    this.audio.end();
    this.events.end();
  }

  /** Keypad digits gather into one entry, ended by '#' or a pause. */
  private keypad(digit: string): void {
    if (this.keypadTimer) clearTimeout(this.keypadTimer);
    this.keypadTimer = undefined;
    if (digit !== '#') this.digits += digit;
    if (digit === '#') return this.flushKeypad();
    this.keypadTimer = setTimeout(() => this.flushKeypad(), KEYPAD_PAUSE_MS);
  }

  private flushKeypad(): void {
    const digits = this.digits;
    this.digits = '';
    if (digits) this.events.push({ kind: 'keypad', digits });
  }
}
