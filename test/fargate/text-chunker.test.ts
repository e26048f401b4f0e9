// Text chunker: clause cutting of streamed LLM text for TTS.
import { describe, expect, it } from 'vitest';
import { ClauseChunker, cutClauses } from '../../fargate/src/call/text-chunker';

describe('cutClauses', () => {
  it.each([
    ['Sure. I can help', true, ['Sure.'], 'I can help'],
    ['I have nine and ten open. Which works? ', false, ['I have nine and ten open.', 'Which works?'], ''],
    ['It costs 3.5 dollars', false, [], 'It costs 3.5 dollars'],
    ['See Dr. Smith at nine. Then', false, ['See Dr. Smith at nine.'], 'Then'],
    ['Okay, so', false, [], 'Okay, so'],
    ['Okay, so', true, ['Okay,'], 'so'],
    ['Oh, so', true, [], 'Oh, so'],
    ['Alright, let me check the calendar, one moment', true, ['Alright,', 'let me check the calendar,'], 'one moment'],
    ['Your booking for a haircut tomorrow, at nine, is confirmed', false, ['Your booking for a haircut tomorrow,'], 'at nine, is confirmed'],
  ])('%j (first=%s)', (buffer, first, ready, rest) => {
    expect(cutClauses(buffer, first)).toEqual({ ready, rest });
  });

  it('cuts a boundary-free run at the last space before maxChars', () => {
    const text = 'word '.repeat(50);
    const { ready, rest } = cutClauses(text, false, { maxChars: 40 });
    expect(ready[0]!.length).toBeLessThanOrEqual(40);
    expect((ready.join(' ') + ' ' + rest).replace(/\s+/g, ' ').trim()).toBe(text.trim());
  });
});

describe('ClauseChunker', () => {
  it('yields each sentence as soon as the next token shows it ended, and flushes the tail', () => {
    const c = new ClauseChunker();
    const out: string[] = [];
    for (const d of ['I have', ' 9 and 10', ' AM open.', ' Which', ' works?']) out.push(...c.push(d));
    expect(out).toEqual(['I have 9 and 10 AM open.']);
    expect(c.flush()).toBe('Which works?');
    expect(c.flush()).toBeUndefined();
  });

  it('loses no text across arbitrary delta splits', () => {
    const text = 'Great, you are booked for a haircut tomorrow at 9 AM. Your booking id is B-1234; see you then!';
    for (let size = 1; size < 12; size++) {
      const c = new ClauseChunker();
      const pieces: string[] = [];
      for (let i = 0; i < text.length; i += size) pieces.push(...c.push(text.slice(i, i + size)));
      const tail = c.flush();
      if (tail) pieces.push(tail);
      expect(pieces.join(' ')).toBe(text);
    }
  });
});
