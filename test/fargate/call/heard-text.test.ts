// What the caller heard, as text: spoken words cut to the heard characters, on every path.
import { describe, expect, it } from 'vitest';
import { heardText, takeNonSpace } from '../../../fargate/src/call/heard-text';

describe('heardText', () => {
  it.each([
    // [spoken, heard characters (alignment, maybe spaced differently), expected text, complete]
    ['Sure, ten works.', 'Sure, ten works.', 'Sure, ten works.', true],
    ['Sure, ten works.', 'Sure,ten works. ', 'Sure, ten works.', true],
    ['Sure, ten works. Shall I book it?', 'Sure, ten wo', 'Sure, ten wo', false],
    ['Sure, ten works.', '', '', false],
    ['One moment while I check that. It is booked.', 'One moment while I check that.', 'One moment while I check that.', false],
    ['', '', '', true],
  ])('%j heard as %j → %j (complete %s)', (spoken, heard, text, complete) => {
    expect(heardText(spoken, heard)).toEqual({ text, complete });
  });

  it('never claims more than was heard when the heard characters outrun the words (a TTS reading extra characters)', () => {
    expect(heardText('Hi.', 'Hi. Hi.')).toEqual({ text: 'Hi.', complete: true });
  });
});

describe('takeNonSpace', () => {
  it.each([
    ['a b c', 2, 'a b'],
    ['a b c', 0, ''],
    ['a b c', 9, 'a b c'],
    ['  a  b', 1, 'a'],
  ])('%j, %d → %j', (text, n, expected) => expect(takeNonSpace(text, n)).toBe(expected));
});
