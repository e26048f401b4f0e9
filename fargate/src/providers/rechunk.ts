// Re-chunks 20 ms Twilio μ-law frames into fixed-size STT messages (Deepgram, AssemblyAI and Google each want their own size).
import type { Mulaw } from './types';

/** `add` returns every full `size`-byte chunk the frame completes; `take` hands over the partial chunk held back (possibly empty) and forgets it. */
export interface Rechunker {
  add(f: Mulaw): Uint8Array[];
  take(): Uint8Array;
}

export function rechunker(size: number): Rechunker {
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
    take() {
      const rest = new Uint8Array(pending);
      pending = Buffer.alloc(0);
      return rest;
    },
  };
}
