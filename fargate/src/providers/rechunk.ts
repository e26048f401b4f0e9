// Re-chunks 20 ms Twilio μ-law frames into fixed-size STT messages (AssemblyAI and Google want ≥ 50–100 ms per message).
import type { Mulaw } from './types';

/**
 * `add` returns every full `size`-byte chunk the frame completes; `rest` the leftover tail when it is at least
 * `minTail` bytes (a shorter tail may be refused by the vendor), else undefined.
 */
export function rechunker(size: number, minTail = 0): { add(f: Mulaw): Uint8Array[]; rest(): Uint8Array | undefined } {
  let pending = Buffer.alloc(0);
  return {
    add(f) {
      pending = pending.length ? Buffer.concat([pending, f]) : Buffer.from(f);
      const out: Uint8Array[] = [];
      while (pending.length >= size) {
        out.push(new Uint8Array(pending.subarray(0, size)));
        pending = pending.subarray(size);
      }
      return out;
    },
    rest: () => (pending.length > 0 && pending.length >= minTail ? new Uint8Array(pending) : undefined),
  };
}
