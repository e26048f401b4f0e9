// Test helpers for the provider tests: a silent logger, controllable audio/text streams, polling waits, μ-law speech.
import { pino } from 'pino';
import { encodeToneText } from '../../../local/audio/tone-text';
import { silence } from '../../../local/audio/mulaw';
import { AsyncQueue } from '../../../fargate/src/providers/async-queue';

export const log = pino({ level: 'silent' });

/** Polls `check` until truthy (resolved with it) or `timeoutMs` passes (rejects naming `what`). */
export async function waitFor<T>(what: string, check: () => T | undefined | false | null, timeoutMs = 8000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Speech-like μ-law lasting about `ms` (tone characters, 65 ms each; the emulator detects speech by energy). */
export function speech(ms: number): Uint8Array {
  return encodeToneText('a'.repeat(Math.max(1, Math.round(ms / 65))));
}

/** Concatenates audio pieces: numbers are ms of silence, arrays are audio. */
export function audio(...parts: (number | Uint8Array)[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(typeof p === 'number' ? silence(p) : p))));
}

/** A stream the test feeds: `send` pushes audio as 20 ms frames (or text pieces), `end` finishes it. */
export function controlled<T>() {
  const q = new AsyncQueue<T>();
  return { stream: q as AsyncIterable<T>, push: (v: T) => q.push(v), end: () => q.end(), fail: (e: unknown) => q.fail(e) };
}

export function pushFrames(push: (f: Uint8Array) => void, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 160) push(bytes.subarray(i, i + 160));
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
