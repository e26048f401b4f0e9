// Turn detector: tables of (input, now, agent audible) → expected change, for Nova-3, Flux and barge-in.
import { describe, expect, it } from 'vitest';
import type { SttEvent, Tick, TurnChange } from '../../fargate/src/providers/types';
import { couldBeBackchannel, ENDPOINTING_PROFILES, EndpointingTurnDetector, isBackchannel, SpeculationLedger } from '../../fargate/src/turn-detector';

type Step = [input: SttEvent | Tick, now: number, audible: boolean, expected: TurnChange | undefined | 'ignore'];

const w = (word: string, start: number, end: number) => ({ word, start, end, confidence: 0.9 });
const final = (text: string, speechFinal = false, end = 1): SttEvent => ({
  kind: 'transcript', text, words: text.split(' ').map((x, i) => w(x, end - 0.1 * (text.split(' ').length - i), end - 0.1 * (text.split(' ').length - i - 1))),
  confidence: 0.9, isFinal: true, speechFinal,
});
const interim = (text: string): SttEvent => ({ kind: 'transcript', text, words: [], confidence: 0.8, isFinal: false, speechFinal: false });
const tick: Tick = { kind: 'tick' };

function run(steps: Step[], bargeIn?: { minWords?: number; minSpeechMs?: number }) {
  const d = new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES.balanced, bargeIn });
  steps.forEach(([input, now, audible, expected], i) => {
    const got = d.update(input, now, audible);
    if (expected !== 'ignore') expect({ step: i, got }).toEqual({ step: i, got: expected });
  });
}

describe('turn detector (Nova-3)', () => {
  it('ends the turn on speech_final, joining the is_final segments before it', () => {
    run([
      [{ kind: 'speech-started', at: 0.2 }, 0, false, undefined],
      [final('I would like'), 400, false, undefined],
      [final('a haircut', true, 1.2), 900, false, { kind: 'user-finished', text: 'I would like a haircut', confidence: 0.9, lastWordEnd: 1.2 }],
      // UtteranceEnd after a speech_final is ignored (Deepgram: "may be followed by an UtteranceEnd which can be ignored").
      [{ kind: 'utterance-end', lastWordEnd: 1.2 }, 1900, false, undefined],
    ]);
  });

  it('ends the turn on UtteranceEnd when no speech_final came', () => {
    run([
      [final('tomorrow morning', false, 2.1), 100, false, undefined],
      [{ kind: 'utterance-end', lastWordEnd: 2.1 }, 1200, false, { kind: 'user-finished', text: 'tomorrow morning', confidence: 0.9, lastWordEnd: 2.1 }],
    ]);
  });

  it('counts the text of a speech_final result that is not is_final', () => {
    run([
      [{ kind: 'transcript', text: 'yes please', words: [w('yes', 0.1, 0.3), w('please', 0.3, 0.6)], confidence: 0.8, isFinal: false, speechFinal: true }, 100, false,
        { kind: 'user-finished', text: 'yes please', confidence: 0.8, lastWordEnd: 0.6 }],
    ]);
  });

  it('ignores interim-only speech that never finalizes, and empty finals', () => {
    run([
      [interim('uh'), 0, false, undefined],
      [final('', true), 500, false, undefined],
      [{ kind: 'utterance-end', lastWordEnd: 0 }, 1500, false, undefined],
    ]);
  });

  it('ends a turn whose UtteranceEnd was lost once the silence passes maxSilenceMs', () => {
    run([
      [final('ten works'), 0, false, undefined],
      [tick, 1000, false, undefined],
      [tick, 2000, false, { kind: 'user-finished', text: 'ten works', confidence: 0.9, lastWordEnd: 1 }],
    ]);
  });
});

describe('turn detector (Nova-3 speculation)', () => {
  // Balanced: Deepgram is opened with endpointing 250, the turn is confirmed 500 − 250 = 250 ms after speech_final.
  const spec = (steps: Step[]) => {
    const d = new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES.balanced, speculate: true });
    steps.forEach(([input, now, audible, expected], i) => {
      const got = d.update(input, now, audible);
      if (expected !== 'ignore') expect({ step: i, got }).toEqual({ step: i, got: expected });
    });
  };
  /** An interim whose words run from `start` to `end` seconds of audio. */
  const interimAt = (text: string, start: number, end: number): SttEvent => ({
    kind: 'transcript', text, words: [w(text, start, end)], confidence: 0.8, isFinal: false, speechFinal: false,
  });

  it('speculates at the early speech_final and confirms the same text once the full window has passed', () => {
    spec([
      [{ kind: 'speech-started', at: 0.2 }, 0, false, undefined],
      [final('ten works', true, 1.2), 1650, false, { kind: 'speculate', text: 'ten works', confidence: 0.9, lastWordEnd: 1.2 }],
      [tick, 1850, false, undefined],
      [tick, 1900, false, { kind: 'user-finished', text: 'ten works', confidence: 0.9, lastWordEnd: 1.2 }],
      [tick, 3000, false, undefined],
      [{ kind: 'utterance-end', lastWordEnd: 1.2 }, 3200, false, undefined],
    ]);
  });

  it('speculates on an is_final segment without speech_final, and again when more text is finalized', () => {
    spec([
      [final('I would like', false, 0.8), 900, false, { kind: 'speculate', text: 'I would like', confidence: 0.9, lastWordEnd: 0.8 }],
      [final('a haircut', true, 1.6), 2000, false, { kind: 'speculate', text: 'I would like a haircut', confidence: 0.9, lastWordEnd: 1.6 }],
      [tick, 2250, false, { kind: 'user-finished', text: 'I would like a haircut', confidence: 0.9, lastWordEnd: 1.6 }],
    ]);
  });

  it('cancels on SpeechStarted after the finalized words, keeps the turn open, and finishes with the whole sentence', () => {
    spec([
      [final("I'd like to book", true, 1.0), 1450, false, { kind: 'speculate', text: "I'd like to book", confidence: 0.9, lastWordEnd: 1 }],
      [{ kind: 'speech-started', at: 1.6 }, 1650, false, { kind: 'speculation-cancelled' }],
      // The held window no longer runs: a tick past it does not end the turn.
      [tick, 1800, false, undefined],
      [final('a haircut on Friday', true, 2.8), 3250, false, { kind: 'speculate', text: "I'd like to book a haircut on Friday", confidence: 0.9, lastWordEnd: 2.8 }],
      [tick, 3500, false, { kind: 'user-finished', text: "I'd like to book a haircut on Friday", confidence: 0.9, lastWordEnd: 2.8 }],
    ]);
  });

  it('cancels on an interim with words later than the finalized ones, ignores a late interim or onset for old words', () => {
    spec([
      [final('book it', true, 1.0), 1450, false, 'ignore'],
      [interimAt('book it', 0.6, 1.0), 1460, false, undefined],
      [{ kind: 'speech-started', at: 0.5 }, 1470, false, undefined],
      [interimAt('for', 1.5, 1.7), 1750, false, { kind: 'speculation-cancelled' }],
      [interimAt('for ten', 1.5, 1.9), 1850, false, undefined],
      [{ kind: 'utterance-end', lastWordEnd: 1.0 }, 2500, false, { kind: 'user-finished', text: 'book it', confidence: 0.9, lastWordEnd: 1 }],
    ]);
  });

  it('keeps the turn open when the early speech_final arrives after the caller already spoke again', () => {
    spec([
      [{ kind: 'speech-started', at: 0.2 }, 0, false, undefined],
      [{ kind: 'speech-started', at: 1.5 }, 1600, false, undefined],
      [final("I'd like to book", true, 1.0), 1650, false, undefined],
      [tick, 2000, false, undefined],
      [final('a haircut', true, 2.2), 2700, false, { kind: 'speculate', text: "I'd like to book a haircut", confidence: 0.9, lastWordEnd: 2.2 }],
      [tick, 2950, false, { kind: 'user-finished', text: "I'd like to book a haircut", confidence: 0.9, lastWordEnd: 2.2 }],
    ]);
  });

  it('does not speculate while the agent is audible, but still holds the turn for the full window', () => {
    // Two-step barge-in: real words over the agent interrupt at once (no SpeechStarted came first); the turn is still held.
    spec([
      [final('where is it', true, 5.0), 1000, true, { kind: 'user-started' }],
      [tick, 1200, true, undefined],
      [tick, 1250, false, { kind: 'user-finished', text: 'where is it', confidence: 0.9, lastWordEnd: 5 }],
    ]);
  });

  it('drops a backchannel heard over the agent after the hold, without speculating', () => {
    spec([
      [final('mm-hm', true, 5.0), 1000, true, undefined],
      [tick, 1300, true, undefined],
      [final('', true, 6), 2000, false, undefined],
    ]);
  });

  it('without speculate, speech_final still ends the turn at once (no hold)', () => {
    run([[final('ten works', true, 1.2), 1650, false, { kind: 'user-finished', text: 'ten works', confidence: 0.9, lastWordEnd: 1.2 }]]);
  });
});

// Two-step barge-in (providers/types.ts TurnChange): these tables replace the single-step ones that fired
// `user-started` after two words, 50 ms of one word, or 350 ms of voice alone; that fallback stopped the agent for a
// lone "mm-hm" at Deepgram's ~1 s interim cadence (issue 10). Now the onset pauses, and words decide.
describe('turn detector barge-in', () => {
  it('pauses at voice onset over the agent, then interrupts once on real words', () => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, true, { kind: 'barge-in' }],
      [interim('wait no'), 1050, true, { kind: 'user-started' }],
      [interim('wait no I'), 1100, true, undefined],
      [{ kind: 'speech-started', at: 3.5 }, 1150, true, undefined],
    ]);
  });

  it('interrupts on one non-backchannel word, however late the first interim comes (1 s cadence)', () => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, true, { kind: 'barge-in' }],
      [tick, 1350, true, undefined],
      [tick, 1900, true, undefined],
      [interim('Actually,'), 2000, true, { kind: 'user-started' }],
    ]);
  });

  it('resumes (false-alarm) when no word comes within maxWaitForTextMs of the onset', () => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, true, { kind: 'barge-in' }],
      [tick, 1350, true, undefined],
      [tick, 2499, true, undefined],
      [tick, 2500, true, { kind: 'false-alarm' }],
      [tick, 2600, true, undefined],
      // Words after the resume still interrupt, directly.
      [interim('hold on'), 2700, true, { kind: 'user-started' }],
    ]);
  });

  it('resumes at once when the utterance ends empty (a cough: SpeechStarted, then an empty speech_final)', () => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, true, { kind: 'barge-in' }],
      [interim(''), 1300, true, undefined],
      [final('', true, 3.3), 1600, true, { kind: 'false-alarm' }],
      [tick, 3000, true, undefined],
    ]);
  });

  it('never fires while the agent is silent', () => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, false, undefined],
      [interim('hello there friend'), 1200, false, undefined],
      [tick, 1500, false, undefined],
      [tick, 4000, false, undefined],
    ]);
  });

  it('pauses for a backchannel, resumes when it ends, and drops the backchannel turn', () => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, true, { kind: 'barge-in' }],
      [interim('mm-hm'), 1050, true, undefined],
      [tick, 1300, true, undefined],
      [final('Mm-hm.', true), 1600, true, { kind: 'false-alarm' }],
      [tick, 1700, true, undefined],
      [{ kind: 'utterance-end', lastWordEnd: 1 }, 2600, true, undefined],
    ]);
  });

  it.each(['okay', 'right', 'uh-huh', 'yeah', 'I see', 'got it'])('a backchannel %j never starts a reply, even if the agent went quiet meanwhile', (bc) => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, true, { kind: 'barge-in' }],
      [interim(bc), 1400, true, undefined],
      // The reply finished while the caller said it: the loop now reports silence; it was still feedback.
      [final(bc, true), 1700, false, { kind: 'false-alarm' }],
      [tick, 1800, false, undefined],
    ]);
  });

  it('waits on "I" (the start of "I see") instead of interrupting', () => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, true, { kind: 'barge-in' }],
      [interim('I'), 1200, true, undefined],
      [interim('I see'), 1400, true, undefined],
      [final('I see.', true), 1800, true, { kind: 'false-alarm' }],
    ]);
  });

  it('a backchannel final without any SpeechStarted does not pause at all, and is dropped', () => {
    run([
      [final('Mm-hm.', true), 1600, true, undefined],
      [tick, 1700, true, undefined],
    ]);
  });

  it('treats a backchannel as a real answer when the agent is silent', () => {
    run([[final('Okay.', true, 0.5), 100, false, { kind: 'user-finished', text: 'Okay.', confidence: 0.9, lastWordEnd: 0.5 }]]);
  });

  it('interrupts when the caller goes on after a backchannel word', () => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, true, { kind: 'barge-in' }],
      [interim('okay'), 1050, true, undefined],
      [interim('okay but actually'), 1200, true, { kind: 'user-started' }],
    ]);
  });

  it('a real utterance that ends before any interim: user-started, then user-finished from the next update', () => {
    const d = new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES.balanced });
    expect(d.update({ kind: 'speech-started', at: 3 }, 1000, true)).toEqual({ kind: 'barge-in' });
    expect(d.update(final('stop', true, 3.4), 1700, true)).toEqual({ kind: 'user-started' });
    expect(d.drain()).toEqual({ kind: 'user-finished', text: 'stop', confidence: 0.9, lastWordEnd: 3.4 });
    expect(d.drain()).toBeUndefined();
  });

  it('with minSpeechMs the pause waits for that much voice activity', () => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, true, undefined],
      [tick, 1049, true, undefined],
      [tick, 1050, true, { kind: 'barge-in' }],
    ], { minSpeechMs: 50 });
  });

  it('Flux: StartOfTurn pauses, a backchannel EndOfTurn resumes and is dropped; real words interrupt', () => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, true, { kind: 'barge-in' }],
      [{ kind: 'transcript', text: 'mm-hm', words: [], confidence: 0.9, isFinal: false, speechFinal: false }, 1250, true, undefined],
      [{ kind: 'end-of-turn', text: 'mm-hm', words: [w('mm-hm', 3, 3.4)], confidence: 0.9 }, 1900, true, { kind: 'false-alarm' }],
      [{ kind: 'speech-started', at: 5 }, 3000, true, { kind: 'barge-in' }],
      [{ kind: 'transcript', text: 'no wait', words: [], confidence: 0.9, isFinal: false, speechFinal: false }, 3250, true, { kind: 'user-started' }],
      [{ kind: 'end-of-turn', text: 'no wait', words: [w('no', 5, 5.2), w('wait', 5.2, 5.5)], confidence: 0.9 }, 3900, false,
        { kind: 'user-finished', text: 'no wait', confidence: 0.9, lastWordEnd: 5.5 }],
    ]);
  });

  it('Flux: a backchannel EagerEndOfTurn over the agent resumes without waiting for EndOfTurn, and is never speculated', () => {
    run([
      [{ kind: 'speech-started', at: 3 }, 1000, true, { kind: 'barge-in' }],
      [{ kind: 'eager-end-of-turn', text: 'okay', words: [w('okay', 3, 3.3)], confidence: 0.9 }, 1500, true, { kind: 'false-alarm' }],
      [{ kind: 'end-of-turn', text: 'okay', words: [w('okay', 3, 3.3)], confidence: 0.9 }, 1700, true, undefined],
    ]);
  });
});

describe('turn detector (Flux)', () => {
  const words = [w('book', 0.2, 0.4), w('it', 0.4, 0.6)];
  it('speculates on EagerEndOfTurn and confirms on EndOfTurn', () => {
    run([
      [{ kind: 'speech-started', at: 0.1 }, 0, false, undefined],
      [{ kind: 'eager-end-of-turn', text: 'book it', words, confidence: 0.6 }, 700, false, { kind: 'speculate', text: 'book it', confidence: 0.6, lastWordEnd: 0.6 }],
      [{ kind: 'end-of-turn', text: 'book it', words, confidence: 0.9 }, 900, false, { kind: 'user-finished', text: 'book it', confidence: 0.9, lastWordEnd: 0.6 }],
    ]);
  });

  it('cancels the speculation on TurnResumed, then finishes the longer turn', () => {
    run([
      [{ kind: 'eager-end-of-turn', text: 'book it', words, confidence: 0.6 }, 700, false, 'ignore'],
      [{ kind: 'turn-resumed' }, 800, false, { kind: 'speculation-cancelled' }],
      [{ kind: 'turn-resumed' }, 850, false, undefined],
      [{ kind: 'end-of-turn', text: 'book it for ten', words: [...words, w('ten', 0.9, 1.1)], confidence: 0.9 }, 1600, false,
        { kind: 'user-finished', text: 'book it for ten', confidence: 0.9, lastWordEnd: 1.1 }],
    ]);
  });
});

describe('isBackchannel', () => {
  it.each([
    ['mm-hm', true], ['Mm-hmm.', true], ['uh-huh', true], ['okay', true], ['yeah, right', true], ['I see', true], ['got it', true],
    ['yes', false], ['no', false], ['I', false], ['wait', false], ['okay book it', false], ['', false], ['yeah yeah yeah yeah', false],
  ])('%j → %s', (text, expected) => expect(isBackchannel(text)).toBe(expected));
});

describe('turn detector (adaptive)', () => {
  const adaptive = (steps: Step[], lastUtterance: string, collecting?: string) => {
    const d = new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES.adaptive, speculate: true });
    d.setAgentContext({ lastUtterance, collecting });
    steps.forEach(([input, now, audible, expected], i) => {
      const got = d.update(input, now, audible) ?? d.drain();
      if (expected !== 'ignore') expect({ step: i, got }).toEqual({ step: i, got: expected });
    });
    return d;
  };
  const flux = (text: string, end: number) => ({ text, words: [w(text, end - 0.3, end)], confidence: 0.9 });

  it('Nova: a complete yes/no answer ends 350 ms after the last word (100 ms after the 250 ms eager speech_final)', () => {
    adaptive([
      [final('Yes.', true, 1.0), 1450, false, { kind: 'speculate', text: 'Yes.', confidence: 0.9, lastWordEnd: 1 }],
      [tick, 1500, false, undefined],
      [tick, 1550, false, { kind: 'user-finished', text: 'Yes.', confidence: 0.9, lastWordEnd: 1 }],
    ], 'Shall I book it for you?');
  });

  it('Nova: a trailing conjunction holds the turn past a 900 ms pause (even past UtteranceEnd), then ends with the whole sentence', () => {
    adaptive([
      [final("I'd like a haircut and", true, 1.5), 1950, false, { kind: 'speculate', text: "I'd like a haircut and", confidence: 0.9, lastWordEnd: 1.5 }],
      [tick, 2400, false, undefined],
      [{ kind: 'utterance-end', lastWordEnd: 1.5 }, 2700, false, undefined],
      [{ kind: 'speech-started', at: 2.4 }, 2800, false, { kind: 'speculation-cancelled' }],
      [final('a beard trim.', true, 3.2), 3650, false, { kind: 'speculate', text: "I'd like a haircut and a beard trim.", confidence: 0.9, lastWordEnd: 3.2 }],
      [tick, 3700, false, undefined],
      [tick, 3750, false, { kind: 'user-finished', text: "I'd like a haircut and a beard trim.", confidence: 0.9, lastWordEnd: 3.2 }],
    ], 'What would you like to book?');
  });

  it('Nova: "mm-hm" while paused over the agent resumes at the eager speech_final, without waiting out a window', () => {
    adaptive([
      [{ kind: 'speech-started', at: 3 }, 1000, true, { kind: 'barge-in' }],
      [final('Mm-hm.', true, 3.5), 1950, true, { kind: 'false-alarm' }],
      [tick, 3000, true, undefined],
    ], 'We are open from nine to six.');
  });

  it('Nova without speculation: the same adaptive hold, but no held reply is started', () => {
    const d = new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES.adaptive });
    d.setAgentContext({ lastUtterance: 'What would you like to book?' });
    expect(d.update(final("I'd like a haircut and", true, 1.5), 1950, false)).toBeUndefined();
    expect(d.update(tick, 3000, false)).toBeUndefined();
    expect(d.update(tick, 3100, false)).toEqual({ kind: 'user-finished', text: "I'd like a haircut and", confidence: 0.9, lastWordEnd: 1.5 });
    expect(d.waste()).toEqual({ started: 0, dropped: 0, wastedTokens: 0, capped: false });
  });

  it('Nova: an unfinished phone number waits for the last group', () => {
    adaptive([
      [final('five five five', true, 1.2), 1650, false, 'ignore'],
      [tick, 2900, false, undefined],
      [{ kind: 'speech-started', at: 2.0 }, 2950, false, { kind: 'speculation-cancelled' }],
      [final('two one two four four three nine', true, 4.0), 4450, false, 'ignore'],
      [tick, 4550, false, { kind: 'user-finished', text: 'five five five two one two four four three nine', confidence: 0.9, lastWordEnd: 4 }],
    ], "What's the best phone number to reach you?", 'phone');
  });

  it('Flux: a complete answer is released at EagerEndOfTurn; its EndOfTurn is swallowed', () => {
    adaptive([
      [{ kind: 'eager-end-of-turn', ...flux('Ten AM.', 1.0) }, 1400, false, { kind: 'user-finished', text: 'Ten AM.', confidence: 0.9, lastWordEnd: 1 }],
      [{ kind: 'end-of-turn', ...flux('Ten AM.', 1.0) }, 1600, false, undefined],
      [tick, 3000, false, undefined],
    ], 'What time works for you?');
  });

  it('Flux: after an early release and TurnResumed, the next end of turn carries only the new words', () => {
    adaptive([
      [{ kind: 'eager-end-of-turn', ...flux('Tuesday.', 1.0) }, 1400, false, { kind: 'user-finished', text: 'Tuesday.', confidence: 0.9, lastWordEnd: 1 }],
      [{ kind: 'turn-resumed' }, 1500, false, undefined],
      [{ kind: 'end-of-turn', ...flux('Tuesday. No, Wednesday.', 2.2) }, 2900, false, { kind: 'user-finished', text: 'No, Wednesday.', confidence: 0.9, lastWordEnd: 2.2 }],
    ], 'Which day would you like?');
  });

  it('Flux: a second early release in the same turn is stripped of everything answered before', () => {
    adaptive([
      [{ kind: 'eager-end-of-turn', ...flux('Tuesday.', 1.0) }, 1400, false, 'ignore'],
      [{ kind: 'turn-resumed' }, 1500, false, undefined],
      [{ kind: 'eager-end-of-turn', ...flux('Tuesday. Ten AM.', 2.0) }, 2400, false, { kind: 'user-finished', text: 'Ten AM.', confidence: 0.9, lastWordEnd: 2 }],
      [{ kind: 'turn-resumed' }, 2500, false, undefined],
      [{ kind: 'end-of-turn', ...flux('Tuesday. Ten AM. Or eleven.', 3.0) }, 3500, false, { kind: 'user-finished', text: 'Or eleven.', confidence: 0.9, lastWordEnd: 3 }],
    ], 'Which day and time would you like?');
  });

  it('Flux: open text waits for EndOfTurn; a hanging EndOfTurn is held and joins the next turn', () => {
    adaptive([
      [{ kind: 'eager-end-of-turn', ...flux('It was delivered but', 1.0) }, 1400, false, { kind: 'speculate', text: 'It was delivered but', confidence: 0.9, lastWordEnd: 1 }],
      [{ kind: 'end-of-turn', ...flux('It was delivered but', 1.0) }, 1700, false, undefined],
      [tick, 2400, false, undefined],
      [{ kind: 'speech-started', at: 2.0 }, 2450, false, { kind: 'speculation-cancelled' }],
      [{ kind: 'eager-end-of-turn', ...flux('the box was empty.', 3.0) }, 3400, false, { kind: 'speculate', text: 'It was delivered but the box was empty.', confidence: 0.9, lastWordEnd: 3 }],
      [{ kind: 'end-of-turn', ...flux('the box was empty.', 3.0) }, 3700, false, { kind: 'user-finished', text: 'It was delivered but the box was empty.', confidence: 0.9, lastWordEnd: 3 }],
    ], 'How can I help?');
  });
});

describe('speculation ledger (waste)', () => {
  it('counts each dropped held reply as ⌈chars/4⌉ + replyTokens, and stops speculating at the per-call cap', () => {
    const l = new SpeculationLedger({ replyTokens: 30, maxWastedTokensPerCall: 70 });
    expect(l.hold('book it', 0.9, 1)).toEqual({ kind: 'speculate', text: 'book it', confidence: 0.9, lastWordEnd: 1 });
    expect(l.hold('book it', 0.9, 1)).toBeUndefined();
    expect(l.drop()).toEqual({ kind: 'speculation-cancelled' });
    expect(l.drop()).toBeUndefined();
    expect(l.stats()).toEqual({ started: 1, dropped: 1, wastedTokens: 32, capped: false });
    l.hold('ten', 0.9, 1);
    l.release('ten');
    expect(l.stats().wastedTokens).toBe(32);
    l.hold('for', 0.9, 1);
    l.release('for ten'); // the turn ended with other text: the loop drops it on that user-finished
    expect(l.stats()).toEqual({ started: 3, dropped: 2, wastedTokens: 63, capped: false });
    l.hold('a', 0.9, 1);
    l.hold('a b', 0.9, 1); // replaces (drops) the older one
    expect(l.stats()).toMatchObject({ dropped: 3, wastedTokens: 94, capped: true });
    l.release('a b');
    expect(l.hold('more', 0.9, 1)).toBeUndefined();
  });

  it('the detector reports the waste of a call', () => {
    const d = new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES.balanced, speculate: true });
    d.update(final('book it', true, 1.0), 1450, false);
    d.update({ kind: 'speech-started', at: 1.6 }, 1650, false);
    expect(d.waste()).toEqual({ started: 1, dropped: 1, wastedTokens: 32, capped: false });
  });
});

describe('couldBeBackchannel', () => {
  it.each([
    ['', true], ['I', true], ['got', true], ['okay', true], ['I see', true], ['yeah right', true],
    ['I want', false], ['wait', false], ['okay but', false], ['no', false],
  ])('%j → %s', (text, expected) => expect(couldBeBackchannel(text)).toBe(expected));
});

describe('nextDeadline (the one timer the call arms instead of a 50 ms tick)', () => {
  const balanced = (opts: { speculate?: boolean; minSpeechMs?: number } = {}) =>
    new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES.balanced, speculate: opts.speculate, bargeIn: { minSpeechMs: opts.minSpeechMs } });

  it('is undefined at rest and once a turn has ended: only new input can change anything', () => {
    const d = balanced();
    expect(d.nextDeadline()).toBeUndefined();
    d.update(final('ten works', true, 1.2), 1650, false);
    expect(d.nextDeadline()).toBeUndefined();
  });

  it('is the end of a held turn window: a tick 1 ms before it changes nothing, at it the turn ends', () => {
    const d = balanced({ speculate: true });
    expect(d.update(final('ten works', true, 1.2), 1650, false)).toMatchObject({ kind: 'speculate' });
    expect(d.nextDeadline()).toBe(1900);
    expect(d.update(tick, 1899, false)).toBeUndefined();
    expect(d.update(tick, 1900, false)).toEqual({ kind: 'user-finished', text: 'ten works', confidence: 0.9, lastWordEnd: 1.2 });
    expect(d.nextDeadline()).toBeUndefined();
  });

  it('is the lost-UtteranceEnd safety net after finalized words, moved on by every STT event', () => {
    const d = balanced();
    d.update(final('ten', false, 0.5), 0, false);
    expect(d.nextDeadline()).toBe(2000);
    d.update(interim('ten works'), 700, false);
    expect(d.nextDeadline()).toBe(2700);
    expect(d.update(tick, 2699, false)).toBeUndefined();
    expect(d.update(tick, 2700, false)).toMatchObject({ kind: 'user-finished', text: 'ten' });
  });

  it('is the no-words bound of a paused barge-in, and clears once words come', () => {
    const d = balanced();
    expect(d.update({ kind: 'speech-started', at: 3 }, 1000, true)).toEqual({ kind: 'barge-in' });
    expect(d.nextDeadline()).toBe(2500);
    expect(d.update(interim('mm-hm'), 1200, true)).toBeUndefined();
    expect(d.nextDeadline()).toBeUndefined();
  });

  it('is the barge-in pause delay with minSpeechMs', () => {
    const d = balanced({ minSpeechMs: 50 });
    expect(d.update({ kind: 'speech-started', at: 3 }, 1000, true)).toBeUndefined();
    expect(d.nextDeadline()).toBe(1050);
    expect(d.update(tick, 1050, true)).toEqual({ kind: 'barge-in' });
    expect(d.nextDeadline()).toBe(2500);
  });

  /** The changes a script of timed inputs yields when ticked every 50 ms (the old loop) or only at nextDeadline. */
  function replay(script: [SttEvent, number, boolean][], clock: 'every-50ms' | 'deadline', opts: { speculate?: boolean } = {}) {
    const d = balanced(opts);
    const out: TurnChange[] = [];
    const take = (c: TurnChange | undefined) => {
      for (; c; c = d.drain()) out.push(c);
    };
    let now = 0;
    let ticked = -1;
    /** The next tick: every 50 ms, or at the deadline; one a tick left in the past is polled 50 ms on (as CallInputs.tickAt does). */
    const nextTick = () => {
      if (clock === 'every-50ms') return Math.floor(now / 50) * 50 + 50;
      const at = d.nextDeadline();
      return at === undefined ? undefined : at <= ticked ? ticked + 50 : at;
    };
    const until = (t: number, audible: boolean) => {
      for (let due = nextTick(); due !== undefined && due <= t; due = nextTick()) {
        now = ticked = Math.max(now, due);
        take(d.update(tick, now, audible));
      }
    };
    for (const [input, at, audible] of script) {
      until(at, audible);
      now = at;
      take(d.update(input, at, audible));
    }
    until(now + 5000, false);
    return out.map((c) => ('text' in c ? `${c.kind}:${c.text}` : c.kind));
  }

  it.each<[string, [SttEvent, number, boolean][], { speculate?: boolean }]>([
    ['a held Nova turn', [[final('ten works', true, 1.2), 1650, false]], { speculate: true }],
    ['a resumed held turn', [[final("I'd like to book", true, 1.0), 1450, false], [{ kind: 'speech-started', at: 1.6 }, 1650, false], [final('a haircut', true, 2.8), 3250, false]], { speculate: true }],
    ['a lost UtteranceEnd', [[final('ten works'), 0, false]], {}],
    ['a barge-in with no words', [[{ kind: 'speech-started', at: 3 }, 1000, true]], {}],
    ['a barge-in that was a backchannel', [[{ kind: 'speech-started', at: 3 }, 1000, true], [interim('mm-hm'), 1250, true], [final('mm-hm', true, 3.4), 1700, true]], {}],
  ])('%s: deadline ticks decide the same changes as a 50 ms tick', (_name, script, opts) => {
    const fixed = replay(script, 'every-50ms', opts);
    expect(fixed.length).toBeGreaterThan(0);
    expect(replay(script, 'deadline', opts)).toEqual(fixed);
  });
});
