// AsyncQueue: the push queue every seam and the call loop read with `for await`.
import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../../../fargate/src/providers/async-queue';

async function drain<T>(q: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of q) out.push(v);
  return out;
}

describe('AsyncQueue', () => {
  it('yields items pushed before and after the consumer started, in order, then ends after them', async () => {
    const q = new AsyncQueue<number>();
    q.push(1);
    const read = drain(q);
    q.push(2);
    await Promise.resolve();
    q.push(3);
    q.end();
    q.push(4); // after end: ignored
    expect(await read).toEqual([1, 2, 3]);
  });

  it('throws the failure after the buffered items, and the first failure wins over a later end or failure', async () => {
    const q = new AsyncQueue<string>();
    q.push('a');
    q.fail(new Error('socket died'));
    q.fail(new Error('later'));
    q.end();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const v of q) seen.push(v);
      })(),
    ).rejects.toThrow('socket died');
    expect(seen).toEqual(['a']);
    expect(q.settled).toBe(true);
  });

  it('wakes a consumer already waiting when the queue fails or ends', async () => {
    const failing = new AsyncQueue<number>();
    const failed = drain(failing);
    await Promise.resolve();
    failing.fail(new Error('gone'));
    await expect(failed).rejects.toThrow('gone');
    const ending = new AsyncQueue<number>();
    const ended = drain(ending);
    await Promise.resolve();
    ending.end();
    expect(await ended).toEqual([]);
  });

  it('ends and drops what it holds once the consumer breaks out, ignoring later pushes', async () => {
    const q = new AsyncQueue<number>();
    q.push(1);
    q.push(2);
    for await (const v of q) if (v === 1) break;
    q.push(3);
    expect(q.length).toBe(0);
    expect(q.settled).toBe(true);
    expect(await drain(q)).toEqual([]);
  });

  it('drops the oldest buffered item a predicate picks, and only that one', async () => {
    const q = new AsyncQueue<string>();
    for (const v of ['mark', 'media1', 'dtmf', 'media2']) q.push(v);
    expect(q.dropFirst((v) => v.startsWith('media'))).toBe(true);
    expect(q.dropFirst((v) => v === 'stop')).toBe(false);
    q.end();
    expect(await drain(q)).toEqual(['mark', 'dtmf', 'media2']);
  });
});
