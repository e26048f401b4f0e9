// Pure endpointing and barge-in state machine: STT events and clock ticks in, turn changes out; time is injected.
import type { SttEvent, SttWord, Tick, TurnChange, TurnDetector } from './providers/types';

/** How long the caller may pause before the turn is over; chosen per agent profile. */
export type EndpointingProfileName = 'aggressive' | 'balanced' | 'conservative';

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
}

/**
 * The three profiles. Pauses inside a turn run ~250–500 ms (numbers.md §1.4), so 300 ms answers fastest but cuts
 * thinking callers off; 800 ms is for callers who read out numbers or think aloud. LiveKit defaults to 500 ms.
 */
export const ENDPOINTING_PROFILES: Readonly<Record<EndpointingProfileName, EndpointingProfile>> = {
  aggressive: { endpointingMs: 300, utteranceEndMs: 1000, eotThreshold: 0.6, eagerEotThreshold: 0.4, eagerEndpointingMs: 250 },
  balanced: { endpointingMs: 500, utteranceEndMs: 1000, eotThreshold: 0.7, eagerEotThreshold: 0.5, eagerEndpointingMs: 250 },
  conservative: { endpointingMs: 800, utteranceEndMs: 1500, eotThreshold: 0.8, eagerEotThreshold: 0.6, eagerEndpointingMs: 300 },
};

/** Barge-in tuning. */
export interface BargeInOptions {
  /** Interim words (not all backchannel) that prove the caller is really talking. @default 2 */
  minWords: number;
  /**
   * Speech (ms since SpeechStarted arrived) after which a transcript that is not backchannel barges in even with one
   * word: a recognised word that is not "mm-hm" is real speech, not noise. SpeechStarted itself lags the onset
   * (~100 ms), so this stays small to keep `clear` well within 300 ms of the onset. @default 50
   */
  minSpeechMs: number;
  /**
   * With no transcript at all after this long (a recogniser with a slow interim cadence), barge in on voice activity
   * alone rather than keep talking over the caller. @default 350
   */
  maxWaitForTextMs: number;
}

/** Barge-in defaults (see {@link BargeInOptions}). */
export const DEFAULT_BARGE_IN: Readonly<BargeInOptions> = Object.freeze({ minWords: 2, minSpeechMs: 50, maxWaitForTextMs: 350 });

export interface TurnDetectorOptions {
  endpointing: EndpointingProfile;
  /** @default {@link DEFAULT_BARGE_IN} */
  bargeIn?: Partial<BargeInOptions>;
  /**
   * Safety net when the recogniser never says the turn is over (a lost UtteranceEnd): finalized text older than this
   * (ms since the last STT event) ends the turn. @default endpointing.utteranceEndMs + 1000
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

function wordCount(text: string): number {
  return tokens(text).length;
}

interface Segment {
  text: string;
  words: SttWord[];
  confidence: number;
}

/**
 * Nova-3: the turn ends on `speech_final`, or on `UtteranceEnd` with no `speech_final` since the last finished turn
 * (Deepgram "End of Speech Detection"); `is_final` segments accumulate until then.
 * Nova-3 with `speculate`: each finalized segment (agent silent) → `speculate` with the text so far; `speech_final`
 * (at the eager window) holds the turn for the rest of the profile's window → `user-finished` (or at UtteranceEnd);
 * SpeechStarted or interim words later than the finalized ones → `speculation-cancelled`, and the turn continues.
 * Flux: EagerEndOfTurn → `speculate`, TurnResumed → `speculation-cancelled`, EndOfTurn → `user-finished`.
 * Barge-in (`user-started`) fires once per turn, only while the agent is audible: at once on ≥ minWords interim words,
 * after minSpeechMs on any transcript that is not backchannel, after maxWaitForTextMs on voice activity alone; never
 * while the words so far are only backchannel. A backchannel-only turn while the agent talks is dropped, so "mm-hm"
 * never stops the agent or starts a reply.
 */
export class EndpointingTurnDetector implements TurnDetector {
  private readonly bargeIn: BargeInOptions;
  private readonly maxSilenceMs: number;
  private segments: Segment[] = [];
  private interim = '';
  /** Wall time SpeechStarted arrived for the current turn, if any. */
  private speechStartedAt: number | undefined;
  private bargedIn = false;
  private speculating = false;
  private lastSttAt = 0;
  /** Nova speculation: hold after `speech_final` (ms), or undefined when off. */
  private readonly holdMs: number | undefined;
  /** Nova speculation: wall time `speech_final` arrived for the held turn. */
  private heldSince: number | undefined;
  /** Nova speculation: the text the current speculation was started with. */
  private speculatedText: string | undefined;
  /** Audio time (s) of the latest speech seen (SpeechStarted onset, interim word end): finals can arrive after it. */
  private heardUntil = 0;

  constructor(opts: TurnDetectorOptions) {
    this.bargeIn = { ...DEFAULT_BARGE_IN, ...opts.bargeIn };
    this.maxSilenceMs = opts.maxSilenceMs ?? opts.endpointing.utteranceEndMs + 1000;
    if (opts.speculate) this.holdMs = Math.max(0, opts.endpointing.endpointingMs - opts.endpointing.eagerEndpointingMs);
  }

  update(input: SttEvent | Tick, now: number, agentAudible: boolean): TurnChange | undefined {
    if (input.kind !== 'tick') this.lastSttAt = now;
    switch (input.kind) {
      case 'speech-started':
        this.speechStartedAt ??= now;
        this.heardUntil = Math.max(this.heardUntil, input.at);
        // Audio time says whether this is new speech or a late event for words already finalized.
        if (this.holdMs !== undefined && input.at > this.finalizedUntil()) {
          const cancelled = this.resume();
          if (cancelled) return cancelled;
        }
        return this.maybeBargeIn(now, agentAudible);
      case 'transcript': {
        const newWords = this.holdMs !== undefined && !input.isFinal && input.text.trim() !== '' && lastEnd(input.words) > this.finalizedUntil();
        if (!input.isFinal && input.text.trim()) this.heardUntil = Math.max(this.heardUntil, lastEnd(input.words));
        if (input.isFinal) {
          if (input.text.trim()) this.segments.push({ text: input.text.trim(), words: input.words, confidence: input.confidence });
          this.interim = '';
        } else {
          this.interim = input.text.trim();
        }
        // Deepgram may send speech_final on a result that is not is_final (endpointing docs example): its text still counts.
        if (input.speechFinal) {
          if (!input.isFinal && input.text.trim()) this.segments.push({ text: input.text.trim(), words: input.words, confidence: input.confidence });
          if (this.holdMs === undefined || !this.segments.length) return this.finish(agentAudible, 'user-finished');
          // A final that arrives after the caller already spoke again (its SpeechStarted or interims came first):
          // the pause was shorter than the window, so the turn stays open and nothing is speculated.
          if (this.heardUntil > this.finalizedUntil()) return this.resume();
          // Eager endpoint: hold the turn for the rest of the profile's window; the reply is generated meanwhile.
          this.heldSince = now;
          if (this.holdMs === 0) return this.finish(agentAudible, 'user-finished');
          return this.maybeSpeculate(agentAudible);
        }
        if (this.interim || this.segments.length) this.speechStartedAt ??= now;
        if (this.holdMs !== undefined) {
          if (input.isFinal && input.text.trim() && this.heardUntil <= this.finalizedUntil()) {
            const spec = this.maybeSpeculate(agentAudible);
            if (spec) return spec;
          } else if (newWords) {
            const cancelled = this.resume();
            if (cancelled) return cancelled;
          }
        }
        return this.maybeBargeIn(now, agentAudible);
      }
      case 'utterance-end':
        // Only reached when no speech_final closed the turn: speech_final resets the segments.
        return this.finish(agentAudible, 'user-finished');
      case 'eager-end-of-turn': {
        if (agentAudible && isBackchannel(input.text)) return undefined;
        this.speculating = true;
        return { kind: 'speculate', text: input.text.trim(), confidence: input.confidence, lastWordEnd: lastEnd(input.words) };
      }
      case 'turn-resumed':
        if (!this.speculating) return undefined;
        this.speculating = false;
        return { kind: 'speculation-cancelled' };
      case 'end-of-turn': {
        this.segments = input.text.trim() ? [{ text: input.text.trim(), words: input.words, confidence: input.confidence }] : [];
        return this.finish(agentAudible, 'user-finished');
      }
      case 'tick': {
        if (this.heldSince !== undefined && now - this.heldSince >= this.holdMs!) return this.finish(agentAudible, 'user-finished');
        if (this.segments.length && now - this.lastSttAt >= this.maxSilenceMs) return this.finish(agentAudible, 'user-finished');
        return this.maybeBargeIn(now, agentAudible);
      }
    }
  }

  /** Nova: a held reply for the finalized text so far, unless the agent is audible or it is already speculated. */
  private maybeSpeculate(agentAudible: boolean): TurnChange | undefined {
    if (agentAudible || !this.segments.length) return undefined;
    const text = this.segments.map((s) => s.text).join(' ').trim();
    if (this.speculating && text === this.speculatedText) return undefined;
    this.speculating = true;
    this.speculatedText = text;
    const confidence = this.segments.reduce((sum, s) => sum + s.confidence, 0) / this.segments.length;
    return { kind: 'speculate', text, confidence, lastWordEnd: lastEnd(this.segments.flatMap((s) => s.words)) };
  }

  /** Nova: the caller spoke again before the turn was confirmed; the turn goes on and any held reply is dropped. */
  private resume(): TurnChange | undefined {
    this.heldSince = undefined;
    if (!this.speculating) return undefined;
    this.speculating = false;
    this.speculatedText = undefined;
    return { kind: 'speculation-cancelled' };
  }

  /** Audio time (s) the last finalized word ended; later words or speech onsets are new speech. */
  private finalizedUntil(): number {
    return lastEnd(this.segments.flatMap((s) => s.words));
  }

  private maybeBargeIn(now: number, agentAudible: boolean): TurnChange | undefined {
    if (!agentAudible || this.bargedIn || this.speechStartedAt === undefined) return undefined;
    const heard = [...this.segments.map((s) => s.text), this.interim].filter(Boolean).join(' ');
    if (heard && isBackchannel(heard)) return undefined;
    const elapsed = now - this.speechStartedAt;
    const enough = heard
      ? wordCount(heard) >= this.bargeIn.minWords || elapsed >= this.bargeIn.minSpeechMs
      : elapsed >= this.bargeIn.maxWaitForTextMs;
    if (!enough) return undefined;
    this.bargedIn = true;
    return { kind: 'user-started' };
  }

  private finish(agentAudible: boolean, kind: 'user-finished'): TurnChange | undefined {
    const segments = this.segments;
    const wasSpeculating = this.speculating;
    const bargedIn = this.bargedIn;
    this.reset();
    const text = segments.map((s) => s.text).join(' ').trim();
    if (!text) return wasSpeculating ? { kind: 'speculation-cancelled' } : undefined;
    // "mm-hm" while the agent talks is feedback, not a turn (unless it already counted as a barge-in).
    if (agentAudible && !bargedIn && isBackchannel(text)) return wasSpeculating ? { kind: 'speculation-cancelled' } : undefined;
    const confidence = segments.reduce((sum, s) => sum + s.confidence, 0) / segments.length;
    return { kind, text, confidence, lastWordEnd: lastEnd(segments.flatMap((s) => s.words)) };
  }

  private reset(): void {
    this.segments = [];
    this.interim = '';
    this.speechStartedAt = undefined;
    this.bargedIn = false;
    this.speculating = false;
    this.heldSince = undefined;
    this.speculatedText = undefined;
    this.heardUntil = 0;
  }
}

function lastEnd(words: SttWord[]): number {
  return words.reduce((max, w) => Math.max(max, w.end), 0);
}
