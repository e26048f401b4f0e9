// Conversation: mark bookkeeping, heard text after a clear, and the history cut back to what was heard.
import { describe, expect, it } from 'vitest';
import { evenAlignment, Playout } from '../../fargate/src/call/playout';
import { Conversation } from '../../fargate/src/call/conversation';

function fakeTransport() {
  const sent: string[] = [];
  return {
    sent,
    play: (a: Uint8Array) => void sent.push(`audio:${a.length}`),
    mark: (n: string) => void sent.push(`mark:${n}`),
    clear: () => void sent.push('clear'),
  };
}
/** `chars` characters of 100 ms each (800 bytes of μ-law per character). */
const chunk = (text: string) => ({ audio: new Uint8Array(text.length * 800), alignment: evenAlignment(text, text.length * 100) });

describe('Playout', () => {
  it('sends a mark after every chunk and is audible until the last mark echoes', () => {
    const t = fakeTransport();
    const p = new Playout(t);
    const a = chunk('Hello. ');
    p.play('r1', a.audio, a.alignment, 0);
    p.play('r1', chunk('Bye.').audio, chunk('Bye.').alignment, 10);
    expect(t.sent).toEqual(['audio:5600', 'mark:r1.1', 'audio:3200', 'mark:r1.2']);
    expect(p.audible(100)).toBe(true);
    expect(p.onMark('r1.1', 700)).toEqual({ owner: 'r1', finished: false });
    expect(p.onMark('r1.2', 1100)).toEqual({ owner: 'r1', finished: true });
    expect(p.audible(1100)).toBe(false);
    expect(p.heard('r1')).toBe('Hello. Bye.');
  });

  it('on clear keeps the echoed chunks plus the characters of the in-flight chunk that had time to play', () => {
    const t = fakeTransport();
    const p = new Playout(t);
    for (const s of ['One two. ', 'Three four. ', 'Five six.']) p.play('r1', chunk(s).audio, chunk(s).alignment, 0);
    p.onMark('r1.1', 900); // first chunk played 0..900
    // 450 ms into the second chunk: "Thre" fully played (4 × 100 ms), the 5th char only half.
    expect(p.clear(1350)).toEqual(['r1']);
    expect(t.sent.at(-1)).toBe('clear');
    expect(p.heard('r1')).toBe('One two. Thre');
    expect(p.audible(1351)).toBe(false);
    // Marks Twilio echoes because of the clear do not count as played.
    expect(p.onMark('r1.2', 1360)).toBeUndefined();
    expect(p.heard('r1')).toBe('One two. Thre');
  });

  it('counts a queue that ran dry: the next chunk starts when it was sent, not when the last mark echoed', () => {
    const p = new Playout(fakeTransport());
    p.play('g', chunk('Hi. ').audio, chunk('Hi. ').alignment, 0);
    p.onMark('g.1', 400);
    p.play('r2', chunk('Sure thing.').audio, chunk('Sure thing.').alignment, 2000);
    p.clear(2300);
    expect(p.heard('g')).toBe('Hi. ');
    expect(p.heard('r2')).toBe('Sur');
  });

  it('hears nothing of a reply cleared before its audio started', () => {
    const p = new Playout(fakeTransport());
    p.play('r1', chunk('Long sentence here.').audio, chunk('Long sentence here.').alignment, 0);
    p.play('r2', chunk('Next.').audio, chunk('Next.').alignment, 100);
    p.clear(500);
    expect(p.heard('r1')).toBe('Long ');
    expect(p.heard('r2')).toBe('');
  });
});

describe('Conversation', () => {
  it('cuts the interrupted reply back to the heard prefix and flags it', () => {
    const c = new Conversation('sys');
    c.addUser('book a haircut');
    c.add({ role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 't1', type: 'function', function: { name: 'check_availability', arguments: '{}' } }] }, 'r1');
    c.add({ role: 'tool', tool_call_id: 't1', content: '{"slots":["09:00"]}' });
    c.add({ role: 'assistant', content: 'I have nine AM open. Does that work?' }, 'r1');
    c.setHeard('r1', 'Let me check.I have nine');
    expect(c.isInterrupted('r1')).toBe(true);
    expect(c.messages()).toEqual([
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'book a haircut' },
      { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 't1', type: 'function', function: { name: 'check_availability', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 't1', content: '{"slots":["09:00"]}' },
      { role: 'assistant', content: 'I have nine' },
    ]);
  });

  it('drops an unheard final message but keeps the tool exchange with null content', () => {
    const c = new Conversation('sys');
    c.add({ role: 'assistant', content: 'Checking.', tool_calls: [{ id: 't1', type: 'function', function: { name: 'x', arguments: '{}' } }] }, 'r1');
    c.add({ role: 'tool', tool_call_id: 't1', content: '{}' });
    c.add({ role: 'assistant', content: 'Done.' }, 'r1');
    c.addUser('wait');
    c.setHeard('r1', '');
    expect(c.messages().slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'x', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 't1', content: '{}' },
      { role: 'user', content: 'wait' },
    ]);
    expect(c.spokenText('r1')).toBe('');
  });

  it('merges words that continue an unanswered turn into the previous user message', () => {
    const c = new Conversation('sys');
    c.addUser("I'd like to book...");
    c.addUser('a haircut on Friday.', { merge: true });
    c.add({ role: 'assistant', content: 'Sure.' }, 'r1');
    c.addUser('Thanks.', { merge: true });
    expect(c.messages().slice(1)).toEqual([
      { role: 'user', content: "I'd like to book... a haircut on Friday." },
      { role: 'assistant', content: 'Sure.' },
      { role: 'user', content: 'Thanks.' },
    ]);
  });
});
