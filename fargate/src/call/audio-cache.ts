// Cached agent audio (greetings, fillers, handoff and apology lines): synthesized once per voice and phrase, shared by every call.
import type { AgentProfile } from '../agents/types';
import type { Alignment, Mulaw, TextToSpeech } from '../providers/types';
import { evenAlignment } from './playout';
import type { Logger } from '../observability/logger';

/** One synthesized phrase: its μ-law audio and which character plays when. */
export interface CachedAudio {
  text: string;
  audio: Mulaw;
  alignment: Alignment;
}

/** μ-law 8 kHz: 8 bytes per ms. */
const BYTES_PER_MS = 8;

/** The phrases of a profile worth caching: they are said on every call or on the latency path. */
export function profilePhrases(p: AgentProfile): string[] {
  return [p.greeting, ...p.fillers, p.handoffLine, p.apologyLine, p.paymentLine, p.holdLine, p.resumeLine];
}

async function* once(text: string): AsyncIterable<string> {
  yield text;
}

/**
 * Synthesizes `text` in full through the streaming TTS (one context), joining the chunks and their alignments
 * (each chunk's character times are relative to that chunk, so they are shifted by the audio already collected).
 */
export async function synthesizeAll(tts: TextToSpeech, text: string, signal: AbortSignal): Promise<CachedAudio> {
  const parts: Uint8Array[] = [];
  let bytes = 0;
  const alignment: Alignment = { chars: [], charStartMs: [], charDurationMs: [] };
  let aligned = true;
  for await (const chunk of tts.synthesize(once(text), signal)) {
    const offsetMs = bytes / BYTES_PER_MS;
    if (chunk.alignment) {
      alignment.chars.push(...chunk.alignment.chars);
      alignment.charStartMs.push(...chunk.alignment.charStartMs.map((ms) => ms + offsetMs));
      alignment.charDurationMs.push(...chunk.alignment.charDurationMs);
    } else if (chunk.audio.length) aligned = false;
    parts.push(chunk.audio);
    bytes += chunk.audio.length;
  }
  if (bytes === 0) throw new Error('TTS returned no audio');
  const audio = new Uint8Array(bytes);
  let at = 0;
  for (const p of parts) {
    audio.set(p, at);
    at += p.length;
  }
  return { text, audio, alignment: aligned && alignment.chars.length ? alignment : evenAlignment(text, bytes / BYTES_PER_MS) };
}

export interface AudioCacheOptions {
  /**
   * Whole-phrase synthesis for a voice (ElevenLabs `synthesizeOnce` over HTTP, or {@link synthesizeAll} over a
   * streaming TTS). Without alignment, characters are spread evenly over the audio.
   */
  synth(voiceId: string, text: string, signal: AbortSignal): Promise<{ audio: Mulaw; alignment?: Alignment }>;
  log: Logger;
  /** Longest a synthesis may take before it counts as failed. @default 10000 */
  timeoutMs?: number;
  /** Phrases kept at most; the oldest are evicted beyond it. @default 500 */
  maxEntries?: number;
}

/**
 * Process-wide phrase cache keyed by (voice, text). A phrase is synthesized once and shared by every call, so the
 * greeting costs no TTS time or characters per call and its first frame leaves within milliseconds of `start`.
 * A failed synthesis is forgotten so the next call retries it.
 */
export class AudioCache {
  private readonly entries = new Map<string, Promise<CachedAudio>>();
  private readonly ready = new Map<string, CachedAudio>();
  private readonly timeoutMs: number;
  private readonly maxEntries: number;

  constructor(private readonly opts: AudioCacheOptions) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxEntries = opts.maxEntries ?? 500;
  }

  private key(voiceId: string, text: string): string {
    return `${voiceId}\u0000${text}`;
  }

  /** The phrase if already synthesized (no await: the greeting path uses this). */
  peek(voiceId: string, text: string): CachedAudio | undefined {
    return this.ready.get(this.key(voiceId, text));
  }

  /** The phrase, synthesizing it on first use. Rejects when the TTS fails (the entry is dropped for a retry). */
  get(voiceId: string, text: string): Promise<CachedAudio> {
    const key = this.key(voiceId, text);
    const hit = this.entries.get(key);
    if (hit) return hit;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.ready.delete(oldest);
    }
    const p = this.opts.synth(voiceId, text, AbortSignal.timeout(this.timeoutMs)).then(
      (r) => {
        if (!r.audio.length) throw new Error('TTS returned no audio');
        const audio: CachedAudio = { text, audio: r.audio, alignment: r.alignment ?? evenAlignment(text, r.audio.length / BYTES_PER_MS) };
        this.ready.set(key, audio);
        return audio;
      },
      (err: unknown) => {
        this.entries.delete(key);
        throw err;
      },
    );
    this.entries.set(key, p);
    return p;
  }

  /** Synthesizes every cacheable phrase of the profiles (at boot). Failures are logged, not thrown: calls retry lazily. */
  async warm(profiles: AgentProfile[]): Promise<{ ok: number; failed: number }> {
    const jobs = profiles.flatMap((p) => profilePhrases(p).map((text) => ({ voice: p.voiceId, text })));
    const unique = [...new Map(jobs.map((j) => [this.key(j.voice, j.text), j])).values()];
    const results = await Promise.allSettled(unique.map((j) => this.get(j.voice, j.text)));
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed) this.opts.log.warn({ failed, total: unique.length }, 'audio cache warm-up incomplete; phrases will be synthesized on first use');
    return { ok: unique.length - failed, failed };
  }

  /** Phrases ready now. */
  get size(): number {
    return this.ready.size;
  }
}
