// Failover per seam: SpeechToText, LanguageModel and TextToSpeech over an ordered provider list, with per-task breakers.
import { AsyncQueue } from './async-queue';
import { CircuitBreaker } from './circuit-breaker';
import type { LanguageModel, LlmEvent, LlmRequest, Mulaw, SpeechToText, SttEvent, TextToSpeech, TtsChunk } from './types';

export type Seam = 'stt' | 'llm' | 'tts';

/** One provider of a seam, in chain order. */
export interface ChainProvider<T> {
  /** Stable name (the `Provider` metric dimension): deepgram, assemblyai, google, groq, fireworks, ... */
  name: string;
  impl: T;
  /** Shared by every call on the task (see `breakers`). */
  breaker: CircuitBreaker;
  /**
   * Longest wait for the provider's next event before it counts as stalled and the call moves on. LLM: first token
   * and between tokens; TTS: next audio while text is outstanding; STT: next event while audio flows (off by
   * default, because a silent caller yields no events on AssemblyAI or Google). @default off
   */
  stallMs?: number;
}

/** An LLM provider also names its own model (a Groq model id means nothing to Fireworks). */
export interface LlmChainProvider extends ChainProvider<LanguageModel> {
  /** This provider's model for the requested one (a string replaces every model). @default the request's model */
  model?: string | ((requested: string) => string);
}

/** One move to the next provider (the lead maps it onto the `ProviderFailover` metric: Provider = from, Seam). */
export interface FailoverEvent {
  seam: Seam;
  /** The provider that failed. */
  from: string;
  /** The provider tried next; undefined when none was left (the seam then throws SeamFailedError). */
  to?: string;
  reason: string;
}

export type FailoverListener = (ev: FailoverEvent) => void;

/** Every provider of a seam failed for this call: the call loop apologises and hands off. */
export class SeamFailedError extends Error {
  override name = 'SeamFailedError';
  constructor(
    readonly seam: Seam,
    readonly failures: { provider: string; error: unknown }[],
  ) {
    super(`every ${seam} provider failed: ${failures.map((f) => `${f.provider} (${errorText(f.error)})`).join(', ')}`);
  }
}

/** A provider went quiet for longer than its `stallMs`. */
export class StallError extends Error {
  override name = 'StallError';
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** One breaker per seam and provider name for the whole task, so every call sees the same health. */
export class Breakers {
  private readonly map = new Map<string, CircuitBreaker>();
  constructor(private readonly make: () => CircuitBreaker = () => new CircuitBreaker()) {}
  get(seam: Seam, name: string): CircuitBreaker {
    const key = `${seam}:${name}`;
    let b = this.map.get(key);
    if (!b) this.map.set(key, (b = this.make()));
    return b;
  }
}

/**
 * The providers a new call tries, in order: those whose breaker lets a call through. When every breaker is open the
 * whole list is tried anyway (a sick provider beats an apology).
 */
export function candidates<P extends ChainProvider<unknown>>(chain: readonly P[]): P[] {
  const allowed = chain.filter((p) => p.breaker.allow());
  return allowed.length ? allowed : [...chain];
}

/**
 * Iterates `source`, throwing StallError when `armed()` and no item came for `stallMs`. The source iterator is
 * returned (closed) on a stall, an error or an early exit.
 */
export async function* withStall<T>(source: AsyncIterable<T>, stallMs: number | undefined, armed: () => boolean = () => true): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = it.next();
      let timer: NodeJS.Timeout | undefined;
      const stall =
        stallMs === undefined
          ? undefined
          : new Promise<never>((_, reject) => {
              const check = () => (armed() ? reject(new StallError(`no event for ${stallMs} ms`)) : (timer = setTimeout(check, stallMs)));
              timer = setTimeout(check, stallMs);
            });
      try {
        const r = await (stall ? Promise.race([next, stall]) : next);
        if (r.done) return;
        yield r.value;
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    void Promise.resolve(it.return?.()).catch(() => undefined);
  }
}

/** An AbortController that also aborts when `parent` does. */
function childController(parent: AbortSignal): AbortController {
  const c = new AbortController();
  if (parent.aborted) c.abort(parent.reason);
  else parent.addEventListener('abort', () => c.abort(parent.reason), { once: true });
  return c;
}

/** Records a failure on the breaker and tells the listener where the call goes next. */
function reportFailure(seam: Seam, p: ChainProvider<unknown>, next: ChainProvider<unknown> | undefined, err: unknown, on?: FailoverListener): void {
  p.breaker.failure();
  on?.({ seam, from: p.name, ...(next ? { to: next.name } : {}), reason: errorText(err) });
}

/**
 * After an attempt of a streaming seam failed: false when the call itself ended (stop quietly); rethrows an error of
 * the caller's own input stream (not the provider's fault); else records the failure and returns true (try the next).
 */
function attemptFailed(
  seam: Seam,
  p: ChainProvider<unknown>,
  next: ChainProvider<unknown> | undefined,
  err: unknown,
  ctx: { signal: AbortSignal; upstream: { error?: unknown }; failures: { provider: string; error: unknown }[]; onFailover?: FailoverListener },
): boolean {
  if (ctx.signal.aborted) return false;
  if (ctx.upstream.error !== undefined && err === ctx.upstream.error) throw err;
  ctx.failures.push({ provider: p.name, error: err });
  reportFailure(seam, p, next, err, ctx.onFailover);
  return true;
}

const BYTES_PER_SEC = 8000;

/** Inbound audio since the last final transcript, so the next STT provider hears what the failed one did not finalise. */
export class ReplayBuffer {
  private chunks: Mulaw[] = [];
  /** Media-timeline byte offset of chunks[0]. */
  private startByte = 0;
  private totalBytes = 0;

  push(frame: Mulaw): void {
    this.chunks.push(frame);
    this.totalBytes += frame.length;
  }

  /** Media time (s) of the first buffered byte: the offset a replaying provider's times are moved by. */
  get startSec(): number {
    return this.startByte / BYTES_PER_SEC;
  }

  get frames(): readonly Mulaw[] {
    return this.chunks;
  }

  /** Drops audio before media time `sec` (a final's last word end); whole frames only, never past the end. */
  trimTo(sec: number): void {
    const target = Math.min(this.totalBytes, Math.floor(sec * BYTES_PER_SEC));
    while (this.chunks.length && this.startByte + this.chunks[0]!.length <= target) this.startByte += this.chunks.shift()!.length;
  }

  /** Drops everything buffered so far. */
  clear(): void {
    this.startByte = this.totalBytes;
    this.chunks = [];
  }
}

/** Moves one STT event's times (seconds since the provider's first byte) onto the call's media timeline. */
export function shiftSttEvent(ev: SttEvent, offsetSec: number): SttEvent {
  if (offsetSec === 0) return ev;
  const r = (t: number) => Math.round((t + offsetSec) * 1000) / 1000;
  switch (ev.kind) {
    case 'speech-started':
      return { ...ev, at: r(ev.at) };
    case 'utterance-end':
      return { ...ev, lastWordEnd: r(ev.lastWordEnd) };
    case 'turn-resumed':
      return ev;
    default:
      return { ...ev, words: ev.words.map((w) => ({ ...w, start: r(w.start), end: r(w.end) })) };
  }
}

/** True when the event settles the text so far (the replay buffer can drop what it covers). */
function isFinal(ev: SttEvent): boolean {
  return (ev.kind === 'transcript' && ev.isFinal) || ev.kind === 'end-of-turn';
}

/**
 * SpeechToText over an ordered chain. A connect failure, a mid-stream error or a stall moves the call to the next
 * provider, which first hears the audio buffered since the last final (its times moved onto the media timeline).
 * Throws SeamFailedError once every candidate failed.
 */
export function failoverStt(chain: readonly ChainProvider<SpeechToText>[], onFailover?: FailoverListener): SpeechToText {
  if (!chain.length) throw new Error('failoverStt needs at least one provider');
  return {
    transcribe(audio, signal) {
      return (async function* () {
        const buffer = new ReplayBuffer();
        let input = new AsyncQueue<Mulaw>();
        let upstream: { error?: unknown; done: boolean } = { done: false };
        let sinceEvent = false;
        void (async () => {
          try {
            for await (const f of audio) {
              buffer.push(f);
              input.push(f);
              sinceEvent = true;
            }
          } catch (err) {
            upstream = { error: err, done: true };
            return input.fail(err);
          }
          upstream = { done: true };
          input.end();
        })();
        const tried = candidates(chain);
        const failures: { provider: string; error: unknown }[] = [];
        for (const [i, p] of tried.entries()) {
          const attempt = childController(signal);
          input = new AsyncQueue<Mulaw>();
          for (const f of buffer.frames) input.push(f);
          if (upstream.done) upstream.error === undefined ? input.end() : input.fail(upstream.error);
          const offset = buffer.startSec;
          let healthy = false;
          try {
            for await (const raw of withStall(p.impl.transcribe(input, attempt.signal), p.stallMs, () => sinceEvent)) {
              sinceEvent = false;
              if (!healthy) (healthy = true), p.breaker.success();
              const ev = shiftSttEvent(raw, offset);
              if (isFinal(ev) && 'words' in ev) ev.words.length ? buffer.trimTo(ev.words.at(-1)!.end) : buffer.clear();
              yield ev;
            }
            if (!healthy) p.breaker.success();
            return;
          } catch (err) {
            attempt.abort();
            if (!attemptFailed('stt', p, tried[i + 1], err, { signal, upstream, failures, onFailover })) return;
          }
        }
        throw new SeamFailedError('stt', failures);
      })();
    },
  };
}

const modelFor = (p: LlmChainProvider, requested: string) => (typeof p.model === 'function' ? p.model(requested) : p.model ?? requested);

/**
 * LanguageModel over an ordered chain: a reply that failed (or stalled) before its first text or tool call is asked
 * again of the next provider, with that provider's model. After text has been yielded an error is rethrown as is
 * (repeating half a sentence is worse than the reply failing). Throws SeamFailedError once every candidate failed.
 */
export function failoverLlm(chain: readonly LlmChainProvider[], onFailover?: FailoverListener): LanguageModel {
  if (!chain.length) throw new Error('failoverLlm needs at least one provider');
  return {
    stream(req: LlmRequest, signal: AbortSignal) {
      return (async function* (): AsyncGenerator<LlmEvent> {
        const tried = candidates(chain);
        const failures: { provider: string; error: unknown }[] = [];
        for (const [i, p] of tried.entries()) {
          const attempt = childController(signal);
          let spoke = false;
          try {
            for await (const ev of withStall(p.impl.stream({ ...req, model: modelFor(p, req.model) }, attempt.signal), p.stallMs)) {
              if (!spoke && ev.kind !== 'done') (spoke = true), p.breaker.success();
              yield ev;
            }
            if (!spoke) p.breaker.success();
            return;
          } catch (err) {
            attempt.abort();
            if (signal.aborted) throw err;
            if (spoke) {
              p.breaker.failure();
              throw err;
            }
            failures.push({ provider: p.name, error: err });
            reportFailure('llm', p, tried[i + 1], err, onFailover);
          }
        }
        throw new SeamFailedError('llm', failures);
      })();
    },
  };
}

/**
 * Characters heard so far in one synthesis: exact from alignment when the vendor sends it (ElevenLabs), otherwise
 * estimated from the audio length at `charsPerSec` (Deepgram Aura sends no alignment).
 */
export function heardChars(chunks: readonly TtsChunk[], charsPerSec: number): number {
  let n = 0;
  for (const c of chunks) n += c.alignment ? c.alignment.chars.length : (c.audio.length / BYTES_PER_SEC) * charsPerSec;
  return n;
}

/**
 * Where a failed synthesis resumes: the index (into `pieces`) of the clause after the one being spoken when it
 * failed, or `from` when nothing was heard yet (the same clauses are spoken again by the next provider).
 */
export function resumeIndex(pieces: readonly string[], from: number, heard: number): number {
  if (heard <= 0) return from;
  let acc = 0;
  for (let i = from; i < pieces.length; i++) {
    acc += pieces[i]!.length;
    if (acc > heard) return i + 1;
  }
  return pieces.length;
}

/**
 * Speech rate used to place a failure inside a reply when the vendor sends no alignment: ~150 words/min of ~5.5
 * characters with their space ≈ 14 characters/s (conversational English, e.g. Yuan et al. 2006, "Towards an
 * integrated understanding of speaking rate in conversation").
 */
export const CHARS_PER_SEC = 14;

/**
 * TextToSpeech over an ordered chain. The text pieces (clauses, from the text chunker) are recorded; when a provider
 * fails, stalls or cannot connect, the next one continues at the clause after the one being heard (or repeats the
 * reply's unheard start when no audio came yet). Throws SeamFailedError once every candidate failed.
 */
export function failoverTts(chain: readonly ChainProvider<TextToSpeech>[], onFailover?: FailoverListener): TextToSpeech {
  if (!chain.length) throw new Error('failoverTts needs at least one provider');
  return {
    synthesize(text, signal) {
      return (async function* () {
        const pieces: string[] = [];
        const sinks = new Set<AsyncQueue<string>>();
        let upstream: { error?: unknown; done: boolean } = { done: false };
        let outstanding = false;
        void (async () => {
          try {
            for await (const t of text) {
              pieces.push(t);
              outstanding = true;
              for (const s of sinks) s.push(t);
            }
            upstream = { done: true };
            for (const s of sinks) s.end();
          } catch (err) {
            upstream = { error: err, done: true };
            for (const s of sinks) s.fail(err);
          }
        })();
        const tried = candidates(chain);
        const failures: { provider: string; error: unknown }[] = [];
        let from = 0;
        for (const [i, p] of tried.entries()) {
          const attempt = childController(signal);
          const input = new AsyncQueue<string>();
          for (const t of pieces.slice(from)) input.push(t);
          if (upstream.done) upstream.error === undefined ? input.end() : input.fail(upstream.error);
          sinks.add(input);
          const heard: TtsChunk[] = [];
          try {
            for await (const chunk of withStall(p.impl.synthesize(input, attempt.signal), p.stallMs, () => outstanding)) {
              outstanding = false;
              if (!heard.length) p.breaker.success();
              heard.push(chunk);
              yield chunk;
            }
            if (!heard.length) p.breaker.success();
            return;
          } catch (err) {
            attempt.abort();
            if (!attemptFailed('tts', p, tried[i + 1], err, { signal, upstream, failures, onFailover })) return;
            from = resumeIndex(pieces, from, heardChars(heard, CHARS_PER_SEC));
          } finally {
            sinks.delete(input);
          }
        }
        throw new SeamFailedError('tts', failures);
      })();
    },
  };
}
