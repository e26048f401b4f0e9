// What the caller hears: the live reply, a held (speculative) one, cached lines, barge-in pause/resume/cut, and the
// one decision of what each utterance delivered, on every path (done, interrupted, failed, call ended).
import type { CachedAudio } from './audio-cache';
import type { TelephonyTransport } from '../providers/types';
import type { Reply, ReplyOutcome } from './reply';
import { heardText } from './heard-text';
import { Playout } from './playout';

/** An utterance once its words are known and its audio has played, been cut, or the call ended. */
export interface HeardUtterance {
  /** Reply id, or the name of a cached line ('greeting', 'handoff', …). */
  owner: string;
  /** What the caller heard, with the spoken text's spacing. */
  text: string;
  /** Every word was heard. False after a barge-in, a TTS/LLM failure, or the call ending mid-sentence. */
  complete: boolean;
  /** Set for replies (absent for cached lines). */
  reply?: Reply;
  outcome?: ReplyOutcome;
}

/** A held reply started on a Flux EagerEndOfTurn or a Nova early endpoint; `outcome` is set if it finished while held. */
interface Held {
  reply: Reply;
  text: string;
  outcome?: ReplyOutcome;
}

/** Something the caller is hearing or will hear: a line (text known now) or a reply (text known when it is done). */
interface Utterance {
  owner: string;
  line?: string;
  reply?: Reply;
  outcome?: ReplyOutcome;
}

/**
 * The speaking side of one call. Every utterance (reply or cached line) is reported exactly once to `onHeard`, with
 * the text the caller actually heard, when both its words are final and its audio is no longer pending.
 */
export class Speaking {
  readonly playout: Playout;
  private live: Reply | undefined;
  private held: Held | undefined;
  private readonly open = new Map<string, Utterance>();

  constructor(
    transport: Pick<TelephonyTransport, 'play' | 'mark' | 'clear'>,
    private readonly onHeard: (u: HeardUtterance) => void,
    private readonly now: () => number,
  ) {
    this.playout = new Playout(transport);
  }

  /** Agent audio is queued at Twilio, or paused by a barge-in that has not resolved. */
  audible(): boolean {
    return this.playout.audible(this.now());
  }

  /** The reply in play (generating or speaking), if any. */
  get current(): Reply | undefined {
    return this.live;
  }

  /** Plays a cached line (greeting, apology, handoff, …) as utterance `owner`. */
  say(owner: string, line: CachedAudio): void {
    this.open.set(owner, { owner, line: line.text });
    this.playout.play(owner, line.audio, line.alignment, this.now());
  }

  /** Resolves once `owner`'s audio has played (or was cut), or after `limitMs`. */
  async played(owner: string, limitMs: number, signal: AbortSignal): Promise<void> {
    const until = this.now() + limitMs;
    while (this.playout.pending(owner) && this.now() < until && !signal.aborted) await sleep(40);
  }

  /** A confirmed reply goes live: its audio plays as it arrives. */
  play(reply: Reply): void {
    this.live = reply;
    this.open.set(reply.id, { owner: reply.id, reply });
  }

  /** A speculative reply: generated now, audio held until {@link confirm}. */
  hold(reply: Reply, text: string): void {
    this.drop();
    this.held = { reply, text };
  }

  /**
   * The turn ended with `text`: if the held reply was speculated on exactly that text it goes live (its audio leaves
   * at once) and is returned; otherwise it is dropped and nothing is returned.
   */
  confirm(text: string, confirm: { speechEndAt?: number; sttFinalAt?: number }): { reply: Reply; outcome?: ReplyOutcome } | undefined {
    const held = this.held;
    if (!held) return undefined;
    if (held.text !== text.trim()) {
      this.drop();
      return undefined;
    }
    this.held = undefined;
    this.play(held.reply);
    held.reply.release(confirm);
    return { reply: held.reply, outcome: held.outcome };
  }

  /** Drops the held reply unheard; returns it and its outcome (if it finished) so its wasted spend is reported. */
  drop(): { reply: Reply; outcome?: ReplyOutcome } | undefined {
    const held = this.held;
    this.held = undefined;
    held?.reply.abort('discarded');
    return held;
  }

  /** Barge-in, step one: stop playout now (Twilio `clear`), keep the unheard audio; the live reply keeps generating. */
  pause(): void {
    this.playout.pause(this.now());
  }

  /** False alarm ("mm-hm", noise): the caller hears the rest from where they stopped hearing. */
  resume(): void {
    this.playout.resume(this.now());
  }

  /** A real interruption: everything queued or paused is dropped, the live reply stops; heard text is kept. */
  cut(): void {
    this.playout.clear(this.now());
    this.live?.abort('interrupted');
    for (const u of [...this.open.values()]) this.settleIfDone(u);
  }

  /**
   * A newer turn replaces the live reply: stopped, cut if audible. Returns whether any of it had been heard, so
   * words that continue an unanswered turn can join it.
   */
  async supersede(): Promise<{ superseded: boolean; audible: boolean }> {
    const prev = this.live;
    if (!prev) return { superseded: false, audible: false };
    const audible = prev.audible;
    prev.abort(audible ? 'interrupted' : 'superseded');
    this.generated(prev, await prev.done);
    return { superseded: true, audible };
  }

  /** Twilio echoed a mark: an utterance whose audio is all played is settled. */
  onMark(name: string): void {
    const r = this.playout.onMark(name, this.now());
    if (!r?.finished) return;
    const u = this.open.get(r.owner);
    if (u) this.settleIfDone(u);
  }

  /**
   * A reply finished generating. A held one keeps its outcome until confirmed or dropped ('held'); a dropped or
   * already settled one is 'gone'; the live reply ('live') or a superseded one ('spoken') is settled once its audio
   * is done.
   */
  generated(reply: Reply, outcome: ReplyOutcome): 'held' | 'gone' | 'spoken' | 'live' {
    if (this.held?.reply === reply) {
      this.held.outcome = outcome;
      return 'held';
    }
    const wasLive = this.live === reply;
    if (wasLive) this.live = undefined;
    const u = this.open.get(reply.id);
    if (!u || u.outcome) return 'gone';
    u.outcome = outcome;
    this.settleIfDone(u);
    return wasLive ? 'live' : 'spoken';
  }

  /** The call is over: stops every reply, and settles every utterance with what was heard by now. */
  async end(): Promise<{ reply: Reply; outcome?: ReplyOutcome }[]> {
    const dropped = this.drop();
    const live = this.live;
    live?.abort('call-ended');
    if (live) this.generated(live, await live.done);
    for (const u of [...this.open.values()]) this.settle(u);
    return dropped ? [{ reply: dropped.reply, outcome: dropped.outcome ?? (await dropped.reply.done) }] : [];
  }

  private settleIfDone(u: Utterance): void {
    if ((u.line !== undefined || u.outcome) && !this.playout.pending(u.owner)) this.settle(u);
  }

  private settle(u: Utterance): void {
    if (!this.open.delete(u.owner)) return;
    const spoken = u.line ?? u.outcome?.spoken ?? '';
    const heard = heardText(spoken, this.playout.heard(u.owner));
    this.playout.forget(u.owner);
    this.onHeard({ owner: u.owner, text: heard.text, complete: heard.complete, reply: u.reply, outcome: u.outcome });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
