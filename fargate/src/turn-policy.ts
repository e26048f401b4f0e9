// The adaptive turn-end policy (pure): from what the agent asked and how complete the caller's words are, how long a silence ends the turn.

/** What the agent is waiting for: it sets how much silence a finished answer needs. */
export type AskedKind = 'yes-no' | 'time-date' | 'digits' | 'free';

/** What the loop knows about the agent's side of the exchange (both optional; without them the ask is `free`). */
export interface AgentContext {
  /** The agent's last utterance as heard (or as generated). */
  lastUtterance?: string;
  /** The tool argument the agent is collecting, e.g. `trackingNumber`, `date`, `phone`. Wins over the utterance. */
  collecting?: string;
}

/**
 * How complete the caller's words are:
 * - `complete`: an answer of the asked kind with nothing left hanging ("yes", "ten AM", all ten phone digits);
 * - `incomplete`: a trailing conjunction, filler, preposition, article, pronoun, auxiliary or correction marker, or an
 *   unfinished digit group ("…and", "um", "to", "five five five" while a phone number is collected);
 * - `open`: nothing either way (free text without a trailing cue).
 */
export type Completeness = 'complete' | 'incomplete' | 'open';

/** The policy's decision for the turn so far. */
export interface TurnEndDecision {
  /** Silence after the last word (ms) after which the turn is over. */
  waitMs: number;
  completeness: Completeness;
  asked: AskedKind;
  /** Flux: release at EagerEndOfTurn instead of waiting for EndOfTurn. */
  releaseAtEager: boolean;
  /** Flux: extra ms to hold after EndOfTurn before the turn is over (0 = at once). */
  holdAfterEotMs: number;
  /** Why, for logs and the eval (`complete:yes-no`, `incomplete:trailing-conjunction`, …). */
  reason: string;
}

/** The windows (ms of silence after the last word) the adaptive policy picks from. */
export interface AdaptiveTuning {
  /** A complete answer to a closed question (yes/no, time/date, finished digits). */
  completeMs: number;
  /** Free text with no cue either way, longer than `fragmentWords`: a whole sentence. */
  openMs: number;
  /** Free text of at most `fragmentWords` words with no cue: often a preamble ("I'd like to book", "I need a haircut"). */
  fragmentMs: number;
  fragmentWords: number;
  /** A code or number being read whose length is unknown (no cue that it is finished). */
  openDigitsMs: number;
  /** Something is left hanging: trailing conjunction, filler, preposition, … */
  incompleteMs: number;
  /** An unfinished digit group while digits are collected. */
  unfinishedDigitsMs: number;
  /** Flux: extra hold after EndOfTurn when the words are incomplete. */
  fluxIncompleteHoldMs: number;
  /** Flux: extra hold after EndOfTurn for a short fragment or a code of unknown length (no cue either way). */
  fluxOpenHoldMs: number;
  /** Flux `end_of_turn_confidence` at or above which open text counts as complete. */
  fluxConfidentEot: number;
}

/**
 * Defaults. Pauses inside a turn run ~250–500 ms and thinking pauses reach 400–1200 ms (numbers.md §1.4, issue 15),
 * so a hanging partial waits past the longest of them; a closed answer ends at the recogniser's eager window.
 */
export const DEFAULT_ADAPTIVE: Readonly<AdaptiveTuning> = Object.freeze({
  completeMs: 350,
  openMs: 350,
  fragmentMs: 800,
  fragmentWords: 6,
  openDigitsMs: 1000,
  incompleteMs: 1400,
  unfinishedDigitsMs: 1600,
  fluxIncompleteHoldMs: 800,
  fluxOpenHoldMs: 400,
  fluxConfidentEot: 0.85,
});

const words = (text: string): string[] =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9'\- ]+/g, ' ')
    .split(/\s+/)
    .filter(Boolean);

const YES_NO_START = /^(do|does|did|is|are|was|were|can|could|would|will|shall|should|have|has|may|am)\b/;
/** "Can I have your name?", "Could you tell me the date?": a request for something, not a yes/no question. */
const REQUEST = /^(can|could|may|would) (i|you) (please )?(have|get|give|tell|spell|read|confirm your|take)\b/;
const YES_NO_TAIL = /\b(is that (right|correct|ok|okay)|right|okay|ok|correct)\s*$/;
const TIME_DATE = /\b(what time|which time|when|what day|which day|what date|which date|date|day|time works|morning or|afternoon or)\b/;
const DIGITS = /\b(number|digits?|zip|postcode|post code|code|spell|tracking|account|pin|reference|phone)\b/;

/** The last question the agent asked (the last sentence with `?`, else its last sentence). */
function lastQuestion(text: string): string {
  const sentences = text.split(/(?<=[.!?])\s+/).map((s) => s.trim()).filter(Boolean);
  const q = ([...sentences].reverse().find((s) => s.endsWith('?')) ?? sentences.at(-1) ?? '').toLowerCase();
  // Discourse openers ("Actually, shall I…", "Great, and what time…") do not change what is asked.
  return q.replace(/^((actually|so|okay|ok|and|well|great|sure|then|alright|perfect|thanks),?\s+)+/, '');
}

/** What the agent asked for, from the argument it collects or else its last question. */
export function classifyAsk(ctx: AgentContext): AskedKind {
  const arg = (ctx.collecting ?? '').toLowerCase();
  if (arg) {
    if (/phone|number|digits|zip|code|tracking|account|pin|card|reference/.test(arg)) return 'digits';
    if (/date|day|time|when|slot/.test(arg)) return 'time-date';
    if (/confirm|consent|agree|yes/.test(arg)) return 'yes-no';
  }
  const q = lastQuestion(ctx.lastUtterance ?? '');
  if (!q) return 'free';
  if (DIGITS.test(q)) return 'digits';
  if (TIME_DATE.test(q)) return 'time-date';
  if (REQUEST.test(q)) return 'free';
  if (YES_NO_START.test(q) || YES_NO_TAIL.test(q.replace(/\?$/, ''))) return 'yes-no';
  return 'free';
}

const CONJUNCTIONS = new Set(['and', 'but', 'or', 'so', 'because', 'cause', "'cause", 'then', 'plus', 'if', 'when', 'while', 'which', 'who', 'than']);
const FILLERS = new Set(['um', 'uh', 'er', 'erm', 'uhm', 'umm', 'uhh', 'hmm', 'like', 'well']);
const FILLER_PHRASES = ['you know', 'i mean', 'let me see', 'let me think', "let's see", 'let me check', 'kind of', 'sort of'];
const PREPOSITIONS = new Set(['to', 'on', 'at', 'for', 'with', 'in', 'of', 'from', 'by', 'about', 'around', 'after', 'before', 'until', 'till', 'into', 'near', 'between', 'next']);
const DETERMINERS = new Set(['a', 'an', 'the', 'my', 'your', 'our', 'his', 'her', 'their', 'this', 'these', 'those', 'some', 'any', 'another', 'every']);
// Not "am": after a number it is the time ("ten AM").
const HANGING = new Set(['i', "i'd", "i'm", "i'll", 'we', "we'd", "we're", 'is', 'are', 'was', 'were', 'be', 'would', 'will', 'can', 'could', 'should', 'have', 'has', 'want', 'need', "it's", 'its']);
const CORRECTIONS = new Set(['no', 'sorry', 'actually', 'wait', 'rather']);

/** A trailing cue that the caller is not done, or undefined. */
function trailingCue(t: string[]): string | undefined {
  const last = t.at(-1);
  if (!last) return undefined;
  const tail = t.slice(-3).join(' ');
  if (FILLER_PHRASES.some((p) => tail.endsWith(p))) return 'trailing-filler';
  if (CONJUNCTIONS.has(last)) return 'trailing-conjunction';
  if (FILLERS.has(last) && !(last === 'well' && t.at(-2) === 'as')) return 'trailing-filler';
  if (PREPOSITIONS.has(last)) return 'trailing-preposition';
  if (DETERMINERS.has(last)) return 'trailing-article';
  if (HANGING.has(last)) return 'trailing-pronoun-or-auxiliary';
  // "Tuesday, no" / "ten, sorry": a correction is coming; a lone "no" is an answer.
  if (CORRECTIONS.has(last) && t.length > 1) return 'trailing-correction';
  return undefined;
}

const DIGIT_WORDS: Record<string, number> = {
  zero: 1, oh: 1, o: 1, one: 1, two: 1, three: 1, four: 1, five: 1, six: 1, seven: 1, eight: 1, nine: 1, double: 1, triple: 2,
};

/** Digits spoken so far: numerals count per digit, "five" one, "double five" two. */
export function countDigits(t: string[]): number {
  return t.reduce((n, w) => n + (/^\d+$/.test(w) ? w.length : (DIGIT_WORDS[w] ?? 0)), 0);
}

const TIME_DATE_WORD = /^(mon|tues|wednes|thurs|fri|satur|sun)day$|^(today|tomorrow|tonight|noon|midday|midnight|morning|afternoon|evening|am|pm|a\.m|p\.m|o'clock|week|weekend)$|^(january|february|march|april|may|june|july|august|september|october|november|december)$|^\d{1,2}(:\d\d)?$|^(\d+(st|nd|rd|th)|first|second|third|fourth|fifth|tenth|twentieth|thirtieth)$|^(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirty|fifteen|forty-five)$/;
const YES_NO_WORD = /^(yes|yeah|yep|yup|no|nope|nah|sure|correct|right|okay|ok|fine|absolutely|definitely|please|perfect|great)$/;
const YES_NO_PHRASE = /^(that works|that's fine|that's right|that's correct|sounds good|works for me|go ahead|not really|of course)\b/;
const ANNOUNCED_NUMBER = /\b(number|code|zip|postcode)( is|'s)\b/;
/** Digits a finished answer has, by what is collected: NANP phone numbers 10, US ZIP codes 5. */
const KNOWN_LENGTHS: [RegExp, number][] = [[/phone|mobile|cell/, 10], [/zip|postcode|postal/, 5]];

/** How complete `partial` is as an answer to `askedKind` (see {@link Completeness}), with the reason and the ask it was judged as. */
export function judgePartial(partial: string, askedKind: AskedKind, collecting = ''): { completeness: Completeness; reason: string; asked: AskedKind } {
  const t = words(partial);
  if (!t.length) return { completeness: 'open', reason: 'open:empty', asked: askedKind };
  // "My tracking number is V A 1…": the caller announces a number, whatever the agent asked.
  const asked = askedKind !== 'digits' && ANNOUNCED_NUMBER.test(t.join(' ')) ? 'digits' : askedKind;
  const cue = trailingCue(t);
  if (asked === 'digits') {
    const digits = countDigits(t);
    const length = KNOWN_LENGTHS.find(([re]) => re.test(collecting))?.[1];
    if (cue && !DIGIT_WORDS[t.at(-1)!]) return { completeness: 'incomplete', reason: `incomplete:${cue}`, asked };
    if (length !== undefined && digits >= length) return { completeness: 'complete', reason: 'complete:digits', asked };
    if (length !== undefined && digits > 0) return { completeness: 'incomplete', reason: 'incomplete:unfinished-digit-group', asked };
    return { completeness: 'open', reason: 'open:code', asked };
  }
  if (cue) return { completeness: 'incomplete', reason: `incomplete:${cue}`, asked };
  if (asked === 'yes-no' && t.length <= 4 && (YES_NO_WORD.test(t[0]!) || YES_NO_PHRASE.test(t.join(' ')))) return { completeness: 'complete', reason: 'complete:yes-no', asked };
  if (asked === 'time-date' && t.some((w) => TIME_DATE_WORD.test(w))) return { completeness: 'complete', reason: 'complete:time-date', asked };
  return { completeness: 'open', reason: t.length <= FRAGMENT_WORDS_MARK ? 'open:fragment' : 'open:free-text', asked };
}

/** judgePartial's fragment mark; chooseTurnEnd re-counts against the tuning's `fragmentWords`. */
const FRAGMENT_WORDS_MARK = DEFAULT_ADAPTIVE.fragmentWords;

/** The policy's input for one turn-end judgement. */
export interface TurnEndInput {
  asked: AskedKind;
  /** The caller's words so far in this turn. */
  partial: string;
  /** The argument being collected, if the loop knows it (refines digits: phone numbers have ten). */
  collecting?: string;
  /** Flux `end_of_turn_confidence` of the event, when the recogniser reports it. */
  eotConfidence?: number;
}

/**
 * Chooses when the turn ends. A complete closed answer ends at the recogniser's eager window; a hanging partial or
 * an unfinished digit group waits past the longest thinking pause; free text sits in between. With Flux, a complete
 * answer (or open text Flux is very sure about) is released at EagerEndOfTurn, and a hanging partial is held past
 * EndOfTurn in case the caller goes on.
 */
export function chooseTurnEnd(input: TurnEndInput, tuning: AdaptiveTuning = DEFAULT_ADAPTIVE): TurnEndDecision {
  const { completeness, reason, asked } = judgePartial(input.partial, input.asked, (input.collecting ?? '').toLowerCase());
  const confident = completeness === 'open' && input.eotConfidence !== undefined && input.eotConfidence >= tuning.fluxConfidentEot;
  const fragment = completeness === 'open' && !confident && (asked === 'digits' || words(input.partial).length <= tuning.fragmentWords);
  const waitMs =
    completeness === 'complete' || confident
      ? tuning.completeMs
      : completeness === 'incomplete'
        ? reason.endsWith('unfinished-digit-group') ? tuning.unfinishedDigitsMs : tuning.incompleteMs
        : asked === 'digits'
          ? tuning.openDigitsMs
          : fragment ? tuning.fragmentMs : tuning.openMs;
  return {
    waitMs,
    completeness,
    asked,
    releaseAtEager: completeness === 'complete' || confident,
    holdAfterEotMs: completeness === 'incomplete' ? tuning.fluxIncompleteHoldMs : fragment ? tuning.fluxOpenHoldMs : 0,
    reason: confident ? 'complete:flux-confident' : reason,
  };
}
