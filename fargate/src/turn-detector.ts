// Pure turn-taking state machine: endpointing, two-step barge-in and speculation (hold, release, drop, waste); time is injected.
import type { SttEvent, SttWord, Tick, TurnChange, TurnDetector } from './providers/types';
import { chooseTurnEnd, classifyAsk, type AdaptiveTuning, type AgentContext, type TurnEndDecision } from './turn-policy';

/** How long the caller may pause before the turn is over: a fixed window, or `adaptive` (turn-policy.ts) per turn. */
export type EndpointingProfileName = 'aggressive' | 'balanced' | 'conservative' | 'adaptive';

/** What an endpointing profile sets on the recogniser and in the detector. */
export interface EndpointingProfile {
  /** Deepgram Nova `endpointing`: ms of silence before `speech_final` (default on the wire is only 10 ms). */
  endpointingMs: number;
  /** Deepgram Nova `utterance_end_ms`: the word-gap fallback; Deepgram recommends ≥ 1000 (it ignores non-speech audio). */
  utteranceEndMs: number;
  /** Flux `eot_threshold` (Deepgram default 0.7): higher waits for more certainty. */
  eotThreshold: number;
  /** Flux `eager_eot_threshold` (docs range 0.3–0.9): enables EagerEndOfTurn, the speculative-reply trigger. */
  eagerEotThreshold: number;
  /**
   * Nova-3 with speculation: the `endpointing` sent to Deepgram instead of `endpointingMs`, so `speech_final` comes
   * this early and a held reply starts; the turn is only confirmed once `endpointingMs` of silence has passed (the
   * detector holds for the difference). ≥ 250: shorter than the usual within-turn pause gains little and speculates
   * on every breath (numbers.md §1.4: pauses inside a turn run ~250–500 ms).
   */
  eagerEndpointingMs: number;
  /**
   * Adaptive: each turn's window comes from turn-policy.ts (what the agent asked, how complete the words are, Flux's
   * confidence); `endpointingMs` is then only the longest the recogniser needs to stay open for. Needs the eager
   * endpointing on Nova (the detector holds), i.e. a speculating profile.
   */
  adaptive?: true;
}

/**
 * The three profiles. Pauses inside a turn run ~250–500 ms (numbers.md §1.4), so 300 ms answers fastest but cuts
 * thinking callers off; 800 ms is for callers who read out numbers or think aloud. LiveKit defaults to 500 ms.
 */
export const ENDPOINTING_PROFILES: Readonly<Record<EndpointingProfileName, EndpointingProfile>> = {
  aggressive: { endpointingMs: 300, utteranceEndMs: 1000, eotThreshold: 0.6, eagerEotThreshold: 0.4, eagerEndpointingMs: 250 },
  balanced: { endpointingMs: 500, utteranceEndMs: 1000, eotThreshold: 0.7, eagerEotThreshold: 0.5, eagerEndpointingMs: 250 },
  conservative: { endpointingMs: 800, utteranceEndMs: 1500, eotThreshold: 0.8, eagerEotThreshold: 0.6, eagerEndpointingMs: 300 },
  // Flux: eager at 0.4 so a complete answer can be released early, EndOfTurn at 0.8 for the rest (docs range 0.3–0.9).
  adaptive: { endpointingMs: 1600, utteranceEndMs: 1000, eotThreshold: 0.8, eagerEotThreshold: 0.4, eagerEndpointingMs: 250, adaptive: true },
};

/** Barge-in tuning (two-step: `barge-in` pauses at voice onset, then `user-started` or `false-alarm`). */
export interface BargeInOptions {
  /** Non-backchannel words that prove a real interruption (`user-started`). @default 1 */
  minWords: number;
  /** Voice activity (ms since SpeechStarted arrived) before playout is paused; 0 pauses at the onset. @default 0 */
  minSpeechMs: number;
  /**
   * A pause with no recognised word after this long resolves as noise (`false-alarm`). Above Deepgram's interim
   * cadence (its "Using Interim Results" example, developers.deepgram.com/docs/using-interim-results, shows one
   * interim per second of audio: 0–1.1 s, 0–2.1 s, 0–3.1 s, …), so a real interruption's first words arrive first at
   * that cadence too. @default 1500
   */
  maxWaitForTextMs: number;
}

/** Barge-in defaults (see {@link BargeInOptions}). */
export const DEFAULT_BARGE_IN: Readonly<BargeInOptions> = Object.freeze({ minWords: 1, minSpeechMs: 0, maxWaitForTextMs: 1500 });

/** Speculation budget: what a dropped held reply is estimated to cost, and the most a call may waste. */
export interface SpeculationOptions {
  /**
   * Output tokens a dropped reply is assumed to have generated (the first clause of a spoken reply, ~1–2 s of
   * speech). Added to the speculated text's own tokens (≈ 4 characters per token) for each drop. @default 30
   */
  replyTokens: number;
  /** Once a call has wasted this many estimated tokens, it stops speculating (turns still end the same way). @default 2000 */
  maxWastedTokensPerCall: number;
}

export const DEFAULT_SPECULATION: Readonly<SpeculationOptions> = Object.freeze({ replyTokens: 30, maxWastedTokensPerCall: 2000 });

export interface TurnDetectorOptions {
  endpointing: EndpointingProfile;
  /** @default {@link DEFAULT_BARGE_IN} */
  bargeIn?: Partial<BargeInOptions>;
  /**
   * Safety net when the recogniser never says the turn is over (a lost UtteranceEnd): finalized text older than this
   * (ms since the last STT event) ends the turn. @default max(endpointing.utteranceEndMs, endpointing.endpointingMs) + 1000
   */
  maxSilenceMs?: number;
  /**
   * Nova-3 speculation (the recogniser was opened with `endpointing.eagerEndpointingMs`): a finalized segment while
   * the agent is silent emits `speculate`; `speech_final` starts a hold of `endpointingMs − eagerEndpointingMs`
   * after which (or on UtteranceEnd) the turn is confirmed with `user-finished`; new speech before that emits
   * `speculation-cancelled` and the turn goes on. Flux needs no flag (its EagerEndOfTurn drives speculation).
   * @default false
   */
  speculate?: boolean;
  /** @default {@link DEFAULT_SPECULATION} */
  speculation?: Partial<SpeculationOptions>;
  /** Adaptive profiles: the policy's windows. @default DEFAULT_ADAPTIVE (turn-policy.ts) */
  adaptive?: AdaptiveTuning;
}

/** Words a listener says to show attention, not to take the turn (Vocode's `is_transcription_backchannel`, LiveKit's backchannel handling). */
const BACKCHANNELS = new Set([
  'mm-hm', 'mm-hmm', 'mhm', 'mmhm', 'mmhmm', 'mm', 'hm', 'hmm', 'uh-huh', 'uh', 'huh', 'uhhuh', 'okay', 'ok', 'k',
  'yeah', 'yep', 'yup', 'right', 'alright', 'all-right', 'i', 'see', 'got', 'it',
]);
/** Phrases built only from these words that are still backchannel ("i see", "got it"); single 'i', 'see', 'it' alone are not enough on their own. */
const BACKCHANNEL_ONLY_IN_PHRASE = new Set(['i', 'see', 'got', 'it']);

function tokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9'\- ]+/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

/** True when `text` is only listener feedback ("mm-hm", "okay", "yeah right", "I see"), at most three words. */
export function isBackchannel(text: string): boolean {
  const t = tokens(text);
  if (t.length === 0 || t.length > 3) return false;
  if (!t.every((w) => BACKCHANNELS.has(w))) return false;
  // "i", "see", "got", "it" count only inside a phrase with a real backchannel or as "i see"/"got it".
  const phrase = t.join(' ');
  if (t.every((w) => BACKCHANNEL_ONLY_IN_PHRASE.has(w))) return phrase === 'i see' || phrase === 'got it';
  return true;
}

/** True while `text` may still turn out to be a backchannel: a backchannel, or the start of one ("I" of "I see"). */
export function couldBeBackchannel(text: string): boolean {
  const t = tokens(text);
  return t.length === 0 || isBackchannel(text) || (t.length < 3 && t.every((w) => BACKCHANNELS.has(w)));
}

/** Words of `text` that are not listener feedback. */
function realWords(text: string): number {
  return tokens(text).filter((w) => !BACKCHANNELS.has(w)).length;
}

interface Segment {
  text: string;
  words: SttWord[];
  confidence: number;
}

/** What speculation cost so far in this call (estimates; see {@link SpeculationOptions}). */
export interface SpeculationWaste {
  /** Held replies started. */
  started: number;
  /** Held replies dropped unheard (caller resumed, or the turn ended with other text). */
  dropped: number;
  /** Estimated LLM tokens of the dropped replies: ⌈speculated characters / 4⌉ + `replyTokens` each. */
  wastedTokens: number;
  /** True once `maxWastedTokensPerCall` was reached: no further speculation in this call. */
  capped: boolean;
}

/**
 * Speculation as pure decisions: `hold` (start a held reply for this text → `speculate`), `drop` (the caller went on
 * → `speculation-cancelled`, its estimated tokens counted as waste), `release` (the turn ended with the held text:
 * the loop's `user-finished` with the same text releases it). Past the per-call waste cap it stops holding.
 */
export class SpeculationLedger {
  private held: { text: string } | undefined;
  private readonly waste: SpeculationWaste = { started: 0, dropped: 0, wastedTokens: 0, capped: false };
  constructor(private readonly opts: SpeculationOptions) {}

  /** Estimated tokens a dropped held reply for `text` cost. */
  cost(text: string): number {
    return Math.ceil(text.length / 4) + this.opts.replyTokens;
  }

  get heldText(): string | undefined {
    return this.held?.text;
  }

  /** Start a held reply for `text` unless the same text is already held or the cap is reached; it replaces (drops) another. */
  hold(text: string, confidence: number, lastWordEnd: number): TurnChange | undefined {
    if (this.held?.text === text || this.waste.capped) return undefined;
    if (this.held) this.count(this.held.text); // the loop drops the older held reply when a new speculate comes
    this.held = { text };
    this.waste.started++;
    return { kind: 'speculate', text, confidence, lastWordEnd };
  }

  /** The caller went on, or the turn ended otherwise: drop the held reply. */
  drop(): TurnChange | undefined {
    if (!this.held) return undefined;
    this.count(this.held.text);
    this.held = undefined;
    return { kind: 'speculation-cancelled' };
  }

  /**
   * The turn ended with `text`: a held reply for the same text is released by the loop's `user-finished`; one for
   * other text is dropped by the loop on that same `user-finished` (so no change here), and counted as waste.
   */
  release(text: string): void {
    if (this.held && this.held.text !== text) this.count(this.held.text);
    this.held = undefined;
  }

  private count(text: string): void {
    this.waste.dropped++;
    this.waste.wastedTokens += this.cost(text);
    if (this.waste.wastedTokens >= this.opts.maxWastedTokensPerCall) this.waste.capped = true;
  }

  stats(): SpeculationWaste {
    return { ...this.waste };
  }
}

/** The barge-in state of the current turn. */
type BargeState = 'none' | 'paused' | 'interrupted' | 'resumed';

/**
 * Two-step barge-in as pure decisions: voice over the audible agent → `barge-in` (pause); real words → `user-started`;
 * only backchannel, or no words within `maxWaitForTextMs`, or an utterance that ends empty → `false-alarm`.
 */
class BargeInGate {
  state: BargeState = 'none';
  /** Speech in this turn began while the agent was audible: a backchannel here is never a turn. */
  overAgent = false;
  private onsetAt: number | undefined;
  constructor(private readonly opts: BargeInOptions) {}

  /** Voice activity (SpeechStarted / StartOfTurn). */
  onset(now: number, audible: boolean): TurnChange | undefined {
    if (!audible) return undefined;
    this.overAgent = true;
    this.onsetAt ??= now;
    return this.maybePause(now);
  }

  /**
   * The words of the turn so far changed (interim or final). `ended`: this result also ends the utterance, so a
   * backchannel in it is not worth a pause (the turn is resolved at once).
   */
  words(text: string, now: number, audible: boolean, ended: boolean): TurnChange | undefined {
    if (!audible || !text) return undefined;
    this.overAgent = true;
    this.onsetAt ??= now;
    if (this.state === 'interrupted') return undefined;
    if (realWords(text) >= this.opts.minWords && !couldBeBackchannel(text)) {
      this.state = 'interrupted';
      return { kind: 'user-started' };
    }
    return this.state === 'none' && !ended ? this.pause() : undefined;
  }

  /** Clock: the pause delay, and the no-words bound. `hasWords`: any word recognised in this turn. */
  tick(now: number, audible: boolean, hasWords: boolean): TurnChange | undefined {
    if (!audible || this.onsetAt === undefined) return undefined;
    if (this.state === 'none') return this.maybePause(now);
    if (this.state === 'paused' && !hasWords && now - this.onsetAt >= this.opts.maxWaitForTextMs) return this.resume();
    return undefined;
  }

  /** When {@link tick} could next act (it still needs the agent audible then), or undefined when only input can. */
  deadline(hasWords: boolean): number | undefined {
    if (this.onsetAt === undefined) return undefined;
    if (this.state === 'none') return this.onsetAt + this.opts.minSpeechMs;
    if (this.state === 'paused' && !hasWords) return this.onsetAt + this.opts.maxWaitForTextMs;
    return undefined;
  }

  /** The utterance ended with `text`: resolve a pending pause (real words → user-started, else false-alarm). */
  end(text: string): TurnChange | undefined {
    if (this.state !== 'paused') return undefined;
    if (!text || isBackchannel(text)) return this.resume();
    this.state = 'interrupted';
    return { kind: 'user-started' };
  }

  private maybePause(now: number): TurnChange | undefined {
    if (this.state !== 'none' || this.onsetAt === undefined || now - this.onsetAt < this.opts.minSpeechMs) return undefined;
    return this.pause();
  }

  private pause(): TurnChange {
    this.state = 'paused';
    return { kind: 'barge-in' };
  }

  private resume(): TurnChange {
    this.state = 'resumed';
    return { kind: 'false-alarm' };
  }

  reset(): void {
    this.state = 'none';
    this.overAgent = false;
    this.onsetAt = undefined;
  }
}

/** A pending turn end: when it is due, and the policy decision behind it. */
interface Hold {
  until: number;
  decision?: TurnEndDecision;
}

/**
 * Nova-3: the turn ends on `speech_final`, or on `UtteranceEnd` with no `speech_final` since the last finished turn
 * (Deepgram "End of Speech Detection"); `is_final` segments accumulate until then.
 * Hold mode (Nova-3 with `speculate`, or an adaptive profile; the recogniser endpoints at the eager window): each
 * finalized segment (agent silent) → `speculate`; `speech_final` holds the turn for the rest of the window (fixed:
 * the profile's, adaptive: turn-policy's for this partial) → `user-finished`; SpeechStarted or interim words later
 * than the finalized ones → `speculation-cancelled`, and the turn goes on.
 * Flux: EagerEndOfTurn → `speculate` (adaptive: a complete answer is released at once with `user-finished`),
 * TurnResumed → `speculation-cancelled`, EndOfTurn → `user-finished` (adaptive: a hanging partial is held a little
 * longer, and a next StartOfTurn joins the same turn).
 * Barge-in, only while the agent is audible: voice onset → `barge-in`; then real words → `user-started`, or
 * backchannel / nothing → `false-alarm`. A turn that began over the agent and is only backchannel is dropped: "mm-hm"
 * never starts a reply. When one input yields two changes the second comes from the next `update` (or `drain`).
 */
export class EndpointingTurnDetector implements TurnDetector {
  private readonly profile: EndpointingProfile;
  private readonly maxSilenceMs: number;
  private readonly bargeIn: BargeInGate;
  private readonly ledger: SpeculationLedger;
  private readonly tuning: AdaptiveTuning | undefined;
  /** Nova hold mode: the recogniser endpoints at the eager window and the detector holds for the rest. */
  private readonly holding: boolean;
  private readonly speculates: boolean;
  private context: AgentContext = {};
  private segments: Segment[] = [];
  private interim = '';
  private hold: Hold | undefined;
  private lastSttAt = 0;
  /** Audio time (s) of the latest speech seen (SpeechStarted onset, interim word end): finals can arrive after it. */
  private heardUntil = 0;
  /** Flux adaptive: the text released at EagerEndOfTurn, and whether the caller resumed since. */
  private fluxReleased: { text: string; resumed: boolean } | undefined;
  private readonly out: TurnChange[] = [];

  constructor(opts: TurnDetectorOptions) {
    this.profile = opts.endpointing;
    this.maxSilenceMs = opts.maxSilenceMs ?? Math.max(opts.endpointing.utteranceEndMs, opts.endpointing.endpointingMs) + 1000;
    this.bargeIn = new BargeInGate({ ...DEFAULT_BARGE_IN, ...opts.bargeIn });
    this.ledger = new SpeculationLedger({ ...DEFAULT_SPECULATION, ...opts.speculation });
    if (opts.endpointing.adaptive) this.tuning = opts.adaptive;
    this.holding = opts.speculate === true || opts.endpointing.adaptive === true;
    // An agent that does not speculate still gets adaptive holds; it just never starts a held reply.
    this.speculates = opts.speculate === true;
  }

  /** What the agent just said or is collecting (adaptive profiles read it to judge the caller's answers). */
  setAgentContext(ctx: AgentContext): void {
    this.context = { ...ctx };
  }

  /** Speculation spend so far in this call. */
  waste(): SpeculationWaste {
    return this.ledger.stats();
  }

  /**
   * The earliest time a clock tick could change anything (a held turn end, the lost-UtteranceEnd safety net, the
   * barge-in pause delay or no-words bound), or undefined when only new input can. Pure: the loop arms one timer at it
   * instead of ticking. A barge-in deadline also needs the agent audible when the tick comes, so it can stay in the past.
   */
  nextDeadline(): number | undefined {
    const due = [this.hold?.until, this.segments.length ? this.lastSttAt + this.maxSilenceMs : undefined, this.bargeIn.deadline(this.heardText() !== '')];
    const times = due.filter((t): t is number => t !== undefined);
    return times.length ? Math.min(...times) : undefined;
  }

  /** A change left over from the last `update` (one input can decide two), without new input. */
  drain(): TurnChange | undefined {
    return this.out.shift();
  }

  update(input: SttEvent | Tick, now: number, agentAudible: boolean): TurnChange | undefined {
    if (input.kind !== 'tick') this.lastSttAt = now;
    this.route(input, now, agentAudible);
    return this.out.shift();
  }

  private emit(change: TurnChange | undefined): void {
    if (change) this.out.push(change);
  }

  private route(input: SttEvent | Tick, now: number, audible: boolean): void {
    switch (input.kind) {
      case 'speech-started':
        return this.onSpeechStarted(input.at, now, audible);
      case 'transcript':
        return this.onTranscript(input, now, audible);
      case 'utterance-end':
        // speech_final resets the segments, so this only acts when no speech_final closed the turn.
        if (this.hold && now < this.hold.until) return;
        return this.endSignal(now, audible, this.profile.utteranceEndMs);
      case 'eager-end-of-turn':
        return this.onEagerEndOfTurn(input, now, audible);
      case 'turn-resumed':
        if (this.fluxReleased) this.fluxReleased.resumed = true;
        return this.emit(this.ledger.drop());
      case 'end-of-turn':
        return this.onEndOfTurn(input, now, audible);
      case 'tick':
        return this.onTick(now, audible);
    }
  }

  private onSpeechStarted(at: number, now: number, audible: boolean): void {
    this.heardUntil = Math.max(this.heardUntil, at);
    // Audio time says whether this is new speech or a late event for words already finalized.
    if (this.holding && this.segments.length && at > this.finalizedUntil()) this.resume();
    this.emit(this.bargeIn.onset(now, audible));
  }

  private onTranscript(input: Extract<SttEvent, { kind: 'transcript' }>, now: number, audible: boolean): void {
    const text = input.text.trim();
    if (!input.isFinal && text) {
      if (this.holding && lastEnd(input.words) > this.finalizedUntil() && this.segments.length) this.resume();
      this.heardUntil = Math.max(this.heardUntil, lastEnd(input.words));
    }
    // Deepgram may send speech_final on a result that is not is_final (endpointing docs example): its text still counts.
    if ((input.isFinal || input.speechFinal) && text) this.segments.push({ text, words: input.words, confidence: input.confidence });
    this.interim = input.isFinal || input.speechFinal ? '' : text;
    this.emit(this.bargeIn.words(this.heardText(), now, audible, input.speechFinal));
    if (input.speechFinal) {
      // A final that arrives after the caller already spoke again: the pause was shorter than the window.
      if (this.holding && this.segments.length && this.heardUntil > this.finalizedUntil()) return this.resume();
      return this.endSignal(now, audible, this.holding ? this.profile.eagerEndpointingMs : this.profile.endpointingMs);
    }
    if (this.holding && input.isFinal && text && this.heardUntil <= this.finalizedUntil()) this.maybeSpeculate(audible);
  }

  /**
   * The recogniser says the speech stopped `elapsedMs` ago (Nova speech_final / UtteranceEnd): end the turn now, or
   * hold it for the rest of the window (fixed profile, or the adaptive policy's choice for these words).
   */
  private endSignal(now: number, audible: boolean, elapsedMs: number): void {
    const text = this.joined();
    // Nothing, or only "mm-hm" while paused over the agent: resolve now (false-alarm), no window to wait out.
    if (!text || (this.bargeIn.state === 'paused' && isBackchannel(text))) return this.finish(audible);
    const decision = this.decide(text);
    const windowMs = decision?.waitMs ?? this.profile.endpointingMs;
    const rest = this.holding ? Math.max(0, windowMs - elapsedMs) : 0;
    if (rest === 0) return this.finish(audible);
    this.hold = { until: now + rest, decision };
    this.maybeSpeculate(audible);
  }

  private onEagerEndOfTurn(input: Extract<SttEvent, { kind: 'eager-end-of-turn' }>, now: number, audible: boolean): void {
    const text = this.afterReleased(input.text.trim());
    if (this.bargeIn.state === 'paused' || (audible && isBackchannel(text))) {
      this.emit(this.bargeIn.end(text));
      if (isBackchannel(text) || !text) return;
    }
    if (audible || !text) return;
    // Words of an earlier Flux turn held by the adaptive policy (a hanging EndOfTurn) come first.
    const full = [this.joined(), text].filter(Boolean).join(' ');
    const decision = this.decide(full, eotConfidenceOf(input));
    if (decision?.releaseAtEager) {
      // Adaptive: a complete answer needs no EndOfTurn; that event (same Flux turn) is swallowed when it comes.
      // The whole Flux transcript so far, so a later event of the same turn is stripped of everything already answered.
      this.fluxReleased = { text: input.text.trim(), resumed: false };
      this.segments.push({ text, words: input.words, confidence: input.confidence });
      return this.finish(audible);
    }
    this.emit(this.ledger.hold(full, input.confidence, lastEnd(input.words)));
  }

  private onEndOfTurn(input: Extract<SttEvent, { kind: 'end-of-turn' }>, now: number, audible: boolean): void {
    if (this.fluxReleased && !this.fluxReleased.resumed) {
      this.fluxReleased = undefined;
      return this.reset(); // the turn already ended at EagerEndOfTurn
    }
    const text = this.afterReleased(input.text.trim());
    this.fluxReleased = undefined;
    if (text) this.segments.push({ text, words: input.words, confidence: input.confidence });
    const decision = this.decide(this.joined(), eotConfidenceOf(input));
    if (decision && decision.holdAfterEotMs > 0 && this.joined()) {
      this.hold = { until: now + decision.holdAfterEotMs, decision };
      return;
    }
    this.finish(audible);
  }

  private onTick(now: number, audible: boolean): void {
    if (this.hold && now >= this.hold.until) return this.finish(audible);
    if (this.segments.length && now - this.lastSttAt >= this.maxSilenceMs) return this.finish(audible);
    this.emit(this.bargeIn.tick(now, audible, this.heardText() !== ''));
  }

  /** Flux keeps one transcript per turn: after an early release and TurnResumed, only the words after the released ones are new. */
  private afterReleased(text: string): string {
    const r = this.fluxReleased;
    return r?.resumed && text.startsWith(r.text) ? text.slice(r.text.length).trim() : text;
  }

  /** The adaptive policy's decision for `text`, or undefined for a fixed profile. */
  private decide(text: string, eotConfidence?: number): TurnEndDecision | undefined {
    if (!this.profile.adaptive) return undefined;
    const asked = classifyAsk(this.context);
    return chooseTurnEnd({ asked, partial: text, collecting: this.context.collecting, eotConfidence }, this.tuning);
  }

  /** A held reply for the finalized text so far, unless the agent is audible (or the caller is barging in). */
  private maybeSpeculate(audible: boolean): void {
    if (!this.speculates || audible || this.bargeIn.state === 'paused' || !this.segments.length) return;
    const confidence = this.segments.reduce((sum, s) => sum + s.confidence, 0) / this.segments.length;
    this.emit(this.ledger.hold(this.joined(), confidence, lastEnd(this.segments.flatMap((s) => s.words))));
  }

  /** The caller spoke again before the turn was confirmed: the turn goes on and any held reply is dropped. */
  private resume(): void {
    this.hold = undefined;
    this.emit(this.ledger.drop());
  }

  /** Audio time (s) the last finalized word ended; later words or speech onsets are new speech. */
  private finalizedUntil(): number {
    return lastEnd(this.segments.flatMap((s) => s.words));
  }

  private joined(): string {
    return this.segments.map((s) => s.text).join(' ').trim();
  }

  private heardText(): string {
    return [this.joined(), this.interim].filter(Boolean).join(' ');
  }

  /** The turn is over: resolve a pending barge-in, drop backchannel over the agent, else `user-finished`. */
  private finish(audible: boolean): void {
    const segments = this.segments;
    const text = this.joined();
    const gate = this.bargeIn;
    this.emit(gate.end(text));
    const feedback = gate.overAgent && gate.state !== 'interrupted' && isBackchannel(text);
    if (!text || feedback || (audible && gate.state !== 'interrupted' && isBackchannel(text))) {
      this.emit(this.ledger.drop());
      return this.reset();
    }
    this.ledger.release(text);
    this.reset();
    const confidence = segments.reduce((sum, s) => sum + s.confidence, 0) / segments.length;
    this.emit({ kind: 'user-finished', text, confidence, lastWordEnd: lastEnd(segments.flatMap((s) => s.words)) });
  }

  private reset(): void {
    this.segments = [];
    this.interim = '';
    this.hold = undefined;
    this.heardUntil = 0;
    this.bargeIn.reset();
  }
}

/** Flux `end_of_turn_confidence`, when the STT seam carries it (an optional field; absent today). */
function eotConfidenceOf(ev: SttEvent): number | undefined {
  const c = (ev as { endOfTurnConfidence?: unknown }).endOfTurnConfidence;
  return typeof c === 'number' ? c : undefined;
}

function lastEnd(words: SttWord[]): number {
  return words.reduce((max, w) => Math.max(max, w.end), 0);
}
