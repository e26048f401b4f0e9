// The STT adapters' shared rechunker: 20 ms frames in, fixed-size messages out, the tail handed over once.
import { describe, expect, it } from 'vitest';
import { rechunker } from '../../../fargate/src/providers/rechunk';

const frame = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('rechunker', () => {
  it('returns each whole chunk once a frame completes it, bytes in order', () => {
    const r = rechunker(400);
    expect(r.add(frame(160, 1))).toEqual([]);
    expect(r.add(frame(160, 2))).toEqual([]);
    const [chunk, ...more] = r.add(frame(160, 3));
    expect(more).toEqual([]);
    expect([...chunk!]).toEqual([...frame(160, 1), ...frame(160, 2), ...frame(80, 3)]);
  });

  it('hands over the held tail with take() and forgets it, so a second take() is empty', () => {
    const r = rechunker(640);
    r.add(frame(160, 7));
    r.add(frame(160, 8));
    expect([...r.take()]).toEqual([...frame(160, 7), ...frame(160, 8)]);
    expect(r.take().length).toBe(0);
    expect(r.add(frame(640, 9)).map((c) => c.length)).toEqual([640]); // nothing left over from before
  });

  it('gives every chunk its own exact buffer, so adapters may send chunk.buffer', () => {
    const r = rechunker(320);
    const chunks = [...r.add(frame(480, 1)), r.take()];
    expect(chunks.map((c) => [c.byteOffset, c.buffer.byteLength])).toEqual([
      [0, 320],
      [0, 160],
    ]);
  });
});
