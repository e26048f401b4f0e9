// Flags for review: which caller turns count as frustration, and when each flag is raised (once per kind per call).
import { describe, expect, it } from 'vitest';
import { DEFAULT_REVIEW, agentFileSchema, reviewOf } from '../../../fargate/src/agents/types';
import { ReviewFlags, frustrationSignals, isNegative, sameRequest, similarity } from '../../../fargate/src/call/flags';

describe('similarity', () => {
  it.each([
    ['Can I book a haircut?', 'can I book a haircut', 1],
    ['I said, can I book a haircut', 'Can I book a haircut?', 0.83],
    ['Ten AM works for me.', 'Can I talk to a person?', 0],
    ['', 'anything', 0],
  ])('%j vs %j ≈ %d', (a, b, expected) => expect(similarity(a, b)).toBeCloseTo(expected, 2));
});

describe('isNegative', () => {
  it.each([
    ['This is useless.', true],
    ['I already told you that!', true],
    ["That's not what I asked.", true],
    ['Are you even listening?', true],
    ['For the third time, tomorrow.', true],
    ['Ten AM works for me.', false],
    ['Yes, please book it.', false],
    ['No, that is all. Thanks, bye.', false],
  ])('%j → %s', (text, expected) => expect(isNegative(text)).toBe(expected));
});

describe('sameRequest', () => {
  it.each([
    ["I'd like to book a haircut for tomorrow.", 'Can you just book me a haircut?', true],
    ['I need the status of my parcel.', 'Can you check my parcel status please?', true],
    ["I'd like to book a haircut for tomorrow.", 'Yes, please book it.', false],
    ["I'd like to book a haircut for tomorrow.", 'Can you cancel my order?', false],
    // Answers are not requests, however alike.
    ['Ten AM.', 'Ten AM.', false],
  ])('%j / %j → %s', (a, b, expected) => expect(sameRequest(a, b)).toBe(expected));
});

describe('frustrationSignals', () => {
  const t = { repeatSimilarity: 0.8 };
  it.each([
    [['Can I book a haircut?'], 'I said, can I book a haircut?', { repeat: true, negative: true, askedTwice: false }],
    [['Can I book a haircut?'], 'Can I book a haircut?', { repeat: true, negative: false, askedTwice: false }],
    [["I'd like to book a haircut for tomorrow."], 'Can you just book me a haircut?', { repeat: false, negative: false, askedTwice: true }],
    [['Ten AM works for me.'], 'Yes, please book it.', { repeat: false, negative: false, askedTwice: false }],
    [[], 'This is ridiculous.', { repeat: false, negative: true, askedTwice: false }],
  ])('earlier %j, then %j → %j', (earlier, text, expected) => expect(frustrationSignals(earlier, text, t)).toEqual(expected));

  it('uses the profile threshold for a repeat', () => {
    expect(frustrationSignals(['I said, can I book a haircut'], 'Can I book a haircut?', { repeatSimilarity: 0.9 }).repeat).toBe(false);
  });
});

describe('ReviewFlags', () => {
  const kinds = (f: { kind: string }[]) => f.map((x) => x.kind);

  it('raises frustration with take-over at the flag threshold, once, and reports frustrated at the escalation threshold', () => {
    const r = new ReviewFlags(DEFAULT_REVIEW);
    expect(r.caller('Can I book a haircut for tomorrow?', 0.98)).toEqual([]);
    expect(r.caller('Can I book a haircut for tomorrow?', 0.98)).toEqual([]); // one signal: a repeat
    const second = r.caller('This is useless.', 0.98);
    expect(second).toEqual([{ kind: 'frustration', recommended: 'take-over', detail: expect.stringContaining('repeated themselves') }]);
    expect(r.frustrated).toBe(false);
    expect(r.caller('I already told you, book a haircut for tomorrow!', 0.98)).toEqual([]); // raised once only
    expect(r.frustration).toBeGreaterThanOrEqual(3);
    expect(r.frustrated).toBe(true);
  });

  it('an ordinary booking raises nothing', () => {
    const r = new ReviewFlags(DEFAULT_REVIEW);
    for (const t of ["Hi, I'd like to book a haircut for tomorrow.", 'Ten AM works for me.', 'Yes, please book it.', "No, that's all. Thanks, bye."]) {
      expect(r.caller(t, 0.98)).toEqual([]);
    }
    expect(r.frustration).toBe(0);
  });

  it('counts earlier turns from a handover, and ignores keypad input', () => {
    const r = new ReviewFlags({ ...DEFAULT_REVIEW, frustrationFlagAt: 1 }, ['Where is my parcel?', '[keypad] 1234']);
    expect(r.caller('[keypad] 1234', 0.1)).toEqual([]);
    expect(kinds(r.caller('Where is my parcel?', 0.98))).toEqual(['frustration']);
  });

  it.each([
    [[0.5, 0.5, 0.5], ['', '', 'low-confidence']],
    [[0.5, 0.9, 0.5, 0.5], ['', '', '', '']],
    [[0.59, 0.3, 0.2, 0.1], ['', '', 'low-confidence', '']],
  ])('low STT confidence %j raises the flag after 3 turns in a row, once: %j', (confidences, expected) => {
    const r = new ReviewFlags(DEFAULT_REVIEW);
    const got = confidences.map((c, i) => kinds(r.caller(`turn number ${i} about topic ${i}`, c)).join());
    expect(got).toEqual(expected);
  });

  it('a tool failing twice in the call raises tool-failures; two tools failing once each do not', () => {
    const r = new ReviewFlags(DEFAULT_REVIEW);
    expect(r.tools([{ name: 'book_appointment', ok: false }, { name: 'check_availability', ok: false }])).toEqual([]);
    expect(r.tools([{ name: 'check_availability', ok: true }])).toEqual([]);
    expect(r.tools([{ name: 'book_appointment', ok: false }])).toEqual([{ kind: 'tool-failures', detail: 'book_appointment failed 2 times', recommended: 'take-over' }]);
    expect(r.tools([{ name: 'book_appointment', ok: false }])).toEqual([]);
  });

  it('the guardrail raises once with review-after', () => {
    const r = new ReviewFlags(DEFAULT_REVIEW);
    expect(r.guardrail(0.2512, 0.25)).toEqual([{ kind: 'guardrail', recommended: 'review-after', detail: expect.stringContaining('0.2512') }]);
    expect(r.guardrail(0.3, 0.25)).toEqual([]);
  });
});

describe('the review block of an agent profile', () => {
  it('fills defaults for what a profile leaves out', () => {
    expect(reviewOf({})).toEqual(DEFAULT_REVIEW);
    expect(reviewOf({ review: { frustrationEscalateAt: 5 } })).toEqual({ ...DEFAULT_REVIEW, frustrationEscalateAt: 5 });
  });

  it('refuses unknown or out-of-range thresholds', () => {
    const base = { name: 'x' };
    expect(agentFileSchema.safeParse({ ...base, review: { lowConfidence: 1.5 } }).success).toBe(false);
    expect(agentFileSchema.safeParse({ ...base, review: { frustation: 2 } }).success).toBe(false);
    expect(agentFileSchema.safeParse({ ...base, review: { toolFailures: 2 } }).success).toBe(true);
  });
});
