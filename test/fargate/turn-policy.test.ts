// Adaptive turn-end policy: tables of (what the agent asked, the caller's words so far, Flux confidence) → when the turn ends.
import { describe, expect, it } from 'vitest';
import { chooseTurnEnd, classifyAsk, countDigits, DEFAULT_ADAPTIVE, judgePartial, type AskedKind } from '../../fargate/src/turn-policy';

describe('classifyAsk', () => {
  it.each<[string, string | undefined, AskedKind]>([
    ['Shall I book it for you?', undefined, 'yes-no'],
    ['I have three PM on Friday. Does that work?', undefined, 'yes-no'],
    ['That was Jordan Lee, is that correct?', undefined, 'yes-no'],
    ['What time works for you?', undefined, 'time-date'],
    ['Sure. Which day would you like?', undefined, 'time-date'],
    ['When would you like to come in?', undefined, 'time-date'],
    ["What's the best phone number to reach you?", undefined, 'digits'],
    ['Do you have a tracking number for me?', undefined, 'digits'],
    ['Can I have your name please?', undefined, 'free'],
    ['How can I help you today?', undefined, 'free'],
    ['', undefined, 'free'],
    // The argument being collected wins over the utterance.
    ['Thanks! And what else?', 'trackingNumber', 'digits'],
    ['Okay.', 'appointmentDate', 'time-date'],
    ['One moment.', 'confirm', 'yes-no'],
  ])('%j (collecting %s) → %s', (lastUtterance, collecting, asked) => expect(classifyAsk({ lastUtterance, collecting })).toBe(asked));

  it('reads the last question, not an earlier sentence', () => {
    expect(classifyAsk({ lastUtterance: 'What time works? Actually, shall I just pick ten?' })).toBe('yes-no');
  });
});

describe('judgePartial', () => {
  it.each<[string, AskedKind, string, string]>([
    ['Yes.', 'yes-no', '', 'complete:yes-no'],
    ['That works.', 'yes-no', '', 'complete:yes-no'],
    ['Ten AM.', 'time-date', '', 'complete:time-date'],
    ['Tuesday.', 'time-date', '', 'complete:time-date'],
    ['I would like a haircut and', 'free', '', 'incomplete:trailing-conjunction'],
    ['Um', 'time-date', '', 'incomplete:trailing-filler'],
    ['Let me see', 'time-date', '', 'incomplete:trailing-filler'],
    ['Could you move it to', 'free', '', 'incomplete:trailing-preposition'],
    ['Can I get a', 'free', '', 'incomplete:trailing-article'],
    ['My name is', 'free', '', 'incomplete:trailing-pronoun-or-auxiliary'],
    ['Tuesday, no', 'time-date', '', 'incomplete:trailing-correction'],
    ['No.', 'yes-no', '', 'complete:yes-no'],
    ['for my son as well', 'free', '', 'open:fragment'],
    ['I need a haircut', 'free', '', 'open:fragment'],
    ['My package was supposed to arrive yesterday.', 'free', '', 'open:free-text'],
    ['five five five', 'digits', 'phone', 'incomplete:unfinished-digit-group'],
    ['five five five two one two four four three nine', 'digits', 'phone', 'complete:digits'],
    ['nine four one', 'digits', 'zip', 'incomplete:unfinished-digit-group'],
    ['nine four one oh seven', 'digits', 'zip', 'complete:digits'],
    ['V A one', 'digits', 'trackingnumber', 'open:code'],
    ['my number is', 'digits', 'phone', 'incomplete:trailing-pronoun-or-auxiliary'],
    // The caller announces a number: read as digits whatever was asked.
    ['My tracking number is V A 1', 'free', '', 'open:code'],
    ['My phone number is five five five', 'free', 'phone', 'incomplete:unfinished-digit-group'],
  ])('%j asked %s (collecting %j) → %s', (partial, asked, collecting, reason) => expect(judgePartial(partial, asked, collecting).reason).toBe(reason));

  it('counts spoken and written digits, doubles included', () => {
    expect(countDigits(['five', 'double', 'five', '12', 'oh'])).toBe(6);
  });
});

describe('chooseTurnEnd', () => {
  const t = DEFAULT_ADAPTIVE;
  it.each<[string, AskedKind, string | undefined, number | undefined, { waitMs: number; releaseAtEager: boolean; holdAfterEotMs: number }]>([
    ['yes', 'yes-no', undefined, undefined, { waitMs: t.completeMs, releaseAtEager: true, holdAfterEotMs: 0 }],
    ['I want to change it to uh', 'free', undefined, undefined, { waitMs: t.incompleteMs, releaseAtEager: false, holdAfterEotMs: t.fluxIncompleteHoldMs }],
    ['five five five', 'digits', 'phone', undefined, { waitMs: t.unfinishedDigitsMs, releaseAtEager: false, holdAfterEotMs: t.fluxIncompleteHoldMs }],
    ['V A one zero zero two', 'digits', 'trackingNumber', undefined, { waitMs: t.openDigitsMs, releaseAtEager: false, holdAfterEotMs: t.fluxOpenHoldMs }],
    // Announced number: judged (and timed) as digits although the agent's ask was free text.
    ['My tracking number is V A 1', 'free', undefined, undefined, { waitMs: t.openDigitsMs, releaseAtEager: false, holdAfterEotMs: t.fluxOpenHoldMs }],
    ["I'd like to book", 'free', undefined, undefined, { waitMs: t.fragmentMs, releaseAtEager: false, holdAfterEotMs: t.fluxOpenHoldMs }],
    ['I would like to book a haircut on Friday please', 'free', undefined, undefined, { waitMs: t.openMs, releaseAtEager: false, holdAfterEotMs: 0 }],
    // Flux end-of-turn confidence: very sure open text counts as complete; it never overrides a hanging word.
    ['I would like to book a haircut on Friday please', 'free', undefined, 0.9, { waitMs: t.completeMs, releaseAtEager: true, holdAfterEotMs: 0 }],
    ['I would like a haircut and', 'free', undefined, 0.95, { waitMs: t.incompleteMs, releaseAtEager: false, holdAfterEotMs: t.fluxIncompleteHoldMs }],
  ])('%j asked %s (collecting %s, eot %s) → %o', (partial, asked, collecting, eotConfidence, want) => {
    const d = chooseTurnEnd({ partial, asked, collecting, eotConfidence });
    expect({ waitMs: d.waitMs, releaseAtEager: d.releaseAtEager, holdAfterEotMs: d.holdAfterEotMs }).toEqual(want);
  });

  it('a hanging partial waits past the longest thinking pause the issue names (1200 ms); a closed answer does not', () => {
    expect(chooseTurnEnd({ partial: 'my name is', asked: 'free' }).waitMs).toBeGreaterThan(1200);
    expect(chooseTurnEnd({ partial: 'ten AM', asked: 'time-date' }).waitMs).toBeLessThanOrEqual(400);
  });

  it('takes other windows from the tuning', () => {
    expect(chooseTurnEnd({ partial: 'yes', asked: 'yes-no' }, { ...t, completeMs: 200 }).waitMs).toBe(200);
  });
});
