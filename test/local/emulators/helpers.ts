// Shared test helpers for the emulator tests: polling waits and μ-law audio built from tone speech and silence.
import { encodeToneText } from '../../../local/audio/tone-text';
import { silence } from '../../../local/audio/mulaw';

/** Polls `check` until it returns a truthy value (resolved with it) or `timeoutMs` passes (rejects naming `what`). */
export async function waitFor<T>(what: string, check: () => T | undefined | false | null, timeoutMs = 8000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Speech-like μ-law lasting `ms` (tone characters, 65 ms each). */
export function speech(ms: number): Uint8Array {
  return encodeToneText('a'.repeat(Math.max(1, Math.round(ms / 65))));
}

/** Concatenates audio pieces: numbers are ms of silence, arrays are audio. */
export function audio(...parts: (number | Uint8Array)[]): Uint8Array {
  const bufs = parts.map((p) => (typeof p === 'number' ? silence(p) : p));
  return new Uint8Array(Buffer.concat(bufs.map((b) => Buffer.from(b))));
}

/** Splits audio into 20 ms Twilio-size frames. */
export function frames(bytes: Uint8Array, size = 160): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}
