// Test helpers for the provider tests: a silent logger, controllable audio/text streams, polling waits, μ-law speech.
import { pino } from 'pino';
import { frames } from '../../local/emulators/helpers';
import { AsyncQueue } from '../../../fargate/src/providers/async-queue';

/** The same polling wait and μ-law builders the emulator tests use. */
export { audio, speech, waitFor } from '../../local/emulators/helpers';

export const log = pino({ level: 'silent' });

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stream the test feeds: `send` pushes audio as 20 ms frames (or text pieces), `end` finishes it. */
export function controlled<T>() {
  const q = new AsyncQueue<T>();
  return { stream: q as AsyncIterable<T>, push: (v: T) => q.push(v), end: () => q.end(), fail: (e: unknown) => q.fail(e) };
}

export function pushFrames(push: (f: Uint8Array) => void, bytes: Uint8Array): void {
  for (const f of frames(bytes)) push(f);
}

/** Collects an async iterable in the background; `error` holds what it threw. */
export function collect<T>(it: AsyncIterable<T>) {
  const items: T[] = [];
  const state: { items: T[]; done: boolean; error: unknown } = { items, done: false, error: undefined };
  const finished = (async () => {
    try {
      for await (const x of it) items.push(x);
    } catch (err) {
      state.error = err;
    } finally {
      state.done = true;
    }
  })();
  return Object.assign(state, { finished });
}
