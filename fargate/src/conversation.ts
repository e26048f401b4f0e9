// The chat history the LLM sees, and what the caller actually heard: agent audio sent, Twilio mark echoes, clears.
import type { Alignment, ChatMessage, Mulaw, TelephonyTransport } from './providers/types';

/** μ-law at 8 kHz: 8 bytes per millisecond. */
const BYTES_PER_MS = 8;

interface SentChunk {
  owner: string;
  mark: string;
  bytes: number;
  /** The characters this audio speaks, in order, with their start/duration (ms from the chunk's start). */
  chars: string[];
  charStartMs: number[];
  charDurationMs: number[];
  sentAt: number;
  /** When Twilio echoed the mark: the chunk has finished playing. */
  playedAt?: number;
  /** Dropped by a `clear` before it finished playing. */
  cleared?: boolean;
  /** Milliseconds of this chunk the caller heard (set when it was cleared). */
  heardMs?: number;
}

/** Spreads `text` evenly over `ms` when the TTS gave no alignment (cached phrases, or a vendor frame without it). */
export function evenAlignment(text: string, ms: number): Alignment {
  const chars = [...text];
  const each = chars.length ? ms / chars.length : 0;
  return { chars, charStartMs: chars.map((_, i) => i * each), charDurationMs: chars.map(() => each) };
}

/**
 * Agent audio bookkeeping for one call. Every piece of audio goes out followed by a Twilio `mark`; Twilio echoes the
 * mark when the audio before it has played, and echoes every queued mark at once after a `clear` (protocols.md §1.2).
 * So "heard" = every chunk whose mark came back before we cleared, plus the part of the in-flight chunk that had time
 * to play, estimated from the previous echo (or the send time) and the TTS character alignment.
 */
export class Playout {
  private readonly chunks: SentChunk[] = [];
  private seq = 0;
  /** Estimated wall time the Twilio queue runs dry, from bytes sent; the fallback when marks are slow. */
  private queueEnd = 0;

  constructor(private readonly transport: Pick<TelephonyTransport, 'play' | 'mark' | 'clear'>) {}

  /** Sends `audio` (speaking `alignment.chars`) for `owner` (a reply id, 'greeting', 'filler', …) and a mark after it. */
  play(owner: string, audio: Mulaw, alignment: Alignment, now: number): void {
    if (audio.length === 0) return;
    const mark = `${owner}.${++this.seq}`;
    this.transport.play(audio);
    this.transport.mark(mark);
    this.chunks.push({
      owner,
      mark,
      bytes: audio.length,
      chars: alignment.chars,
      charStartMs: alignment.charStartMs,
      charDurationMs: alignment.charDurationMs,
      sentAt: now,
    });
    this.queueEnd = Math.max(this.queueEnd, now) + audio.length / BYTES_PER_MS;
  }

  /** Records a mark echo; returns the owner when that echo was its last outstanding chunk (its audio is done). */
  onMark(name: string, now: number): { owner: string; finished: boolean } | undefined {
    const chunk = this.chunks.find((c) => c.mark === name);
    if (!chunk || chunk.cleared || chunk.playedAt !== undefined) return undefined;
    chunk.playedAt = now;
    return { owner: chunk.owner, finished: !this.pending(chunk.owner) };
  }

  /** True while `owner` has audio queued at Twilio that has neither played nor been cleared. */
  pending(owner: string): boolean {
    return this.chunks.some((c) => c.owner === owner && c.playedAt === undefined && !c.cleared);
  }

  /**
   * True while agent audio is queued at Twilio (a mark is outstanding). Marks arrive when playback ends, so the
   * byte-count estimate only bounds it: an outstanding mark 2 s past the estimated end counts as lost.
   */
  audible(now: number): boolean {
    return this.chunks.some((c) => c.playedAt === undefined && !c.cleared) && now < this.queueEnd + 2000;
  }

  /** Barge-in: sends Twilio `clear` and settles what each owner's cleared chunks had played by `now`. */
  clear(now: number): string[] {
    this.transport.clear();
    let playhead = this.lastEcho();
    const owners = new Set<string>();
    for (const c of this.chunks) {
      if (c.playedAt !== undefined || c.cleared) continue;
      const start = Math.max(c.sentAt, playhead);
      const durationMs = c.bytes / BYTES_PER_MS;
      c.heardMs = Math.max(0, Math.min(durationMs, now - start));
      c.cleared = true;
      playhead = start + durationMs;
      owners.add(c.owner);
    }
    this.queueEnd = now;
    return [...owners];
  }

  /** The text `owner`'s audio carried to the caller so far (whole chunks played, plus fully played characters of a cleared one). */
  heard(owner: string): string {
    let out = '';
    for (const c of this.chunks) {
      if (c.owner !== owner) continue;
      if (c.playedAt !== undefined) out += c.chars.join('');
      else if (c.cleared) {
        for (let i = 0; i < c.chars.length; i++) {
          if (c.charStartMs[i]! + c.charDurationMs[i]! <= c.heardMs!) out += c.chars[i];
        }
      }
    }
    return out;
  }

  /** Everything `owner` sent, heard or not. */
  sent(owner: string): string {
    return this.chunks.filter((c) => c.owner === owner).map((c) => c.chars.join('')).join('');
  }

  /** Forgets finished owners' chunks so a long call does not grow without bound. */
  forget(owner: string): void {
    for (let i = this.chunks.length - 1; i >= 0; i--) if (this.chunks[i]!.owner === owner && !this.pending(owner)) this.chunks.splice(i, 1);
  }

  private lastEcho(): number {
    let t = 0;
    for (const c of this.chunks) if (c.playedAt !== undefined) t = Math.max(t, c.playedAt);
    return t;
  }
}

/** One history entry that carries words the agent spoke, so barge-in can cut it back to what was heard. */
interface SpokenPart {
  index: number;
  text: string;
}

/** A finished turn as it goes to the transcript store. */
export interface TurnRecord {
  role: 'user' | 'assistant';
  text: string;
  interrupted?: boolean;
  /** Keypad input rather than speech. */
  dtmf?: boolean;
  at: number;
}

/**
 * The LLM history of one call. Assistant text enters as spoken; if the caller barges in, {@link Conversation.setHeard}
 * rewrites the reply's messages to the heard prefix (LiveKit commits only spoken words; Pipecat users report the bot
 * repeating itself when played words are lost, and "committing unspoken text" when it keeps everything).
 */
export class Conversation {
  private readonly history: ChatMessage[] = [];
  private readonly spoken = new Map<string, SpokenPart[]>();
  private readonly interrupted = new Set<string>();

  constructor(private system: string) {}

  /** Replaces the system prompt (e.g. personalised once caller memory loads). */
  setSystem(system: string): void {
    this.system = system;
  }

  /** The request messages: system prompt, then history. */
  messages(): ChatMessage[] {
    return [{ role: 'system', content: this.system }, ...this.history];
  }

  /**
   * Appends the caller's words. With `merge`, words that continue a turn the agent never answered audibly (an
   * aggressive endpoint cut the caller mid-sentence) join the previous user message, so the LLM sees one sentence.
   */
  addUser(text: string, opts: { merge?: boolean } = {}): void {
    const last = this.history[this.history.length - 1];
    if (opts.merge && last?.role === 'user') last.content = `${last.content} ${text}`;
    else this.history.push({ role: 'user', content: text });
  }

  /** Appends a message a reply produced; `spokenBy` names the reply whose audio carries its text. */
  add(message: ChatMessage, spokenBy?: string): void {
    this.history.push(message);
    if (spokenBy && message.role === 'assistant' && message.content) {
      const parts = this.spoken.get(spokenBy) ?? [];
      parts.push({ index: this.history.length - 1, text: message.content });
      this.spoken.set(spokenBy, parts);
    }
  }

  /** Full text a reply put in the history. */
  spokenText(reply: string): string {
    return (this.spoken.get(reply) ?? []).map((p) => p.text).join(' ');
  }

  /**
   * Cuts `reply`'s spoken messages back to `heard` (what the playout says reached the caller) and flags it
   * interrupted. Characters are matched ignoring whitespace, since TTS alignment and LLM text may space differently.
   */
  setHeard(reply: string, heard: string): void {
    const parts = this.spoken.get(reply);
    if (!parts) return;
    this.interrupted.add(reply);
    let budget = heard.replace(/\s+/g, '').length;
    const drop: number[] = [];
    for (const part of parts) {
      const msg = this.history[part.index] as Extract<ChatMessage, { role: 'assistant' }>;
      const kept = takeNonSpace(part.text, budget);
      budget -= kept.replace(/\s+/g, '').length;
      part.text = kept;
      if (kept) msg.content = kept;
      else if (msg.tool_calls?.length) msg.content = null;
      else drop.push(part.index);
    }
    for (const i of drop.sort((a, b) => b - a)) {
      this.history.splice(i, 1);
      for (const ps of this.spoken.values()) for (const p of ps) if (p.index > i) p.index--;
    }
    this.spoken.set(reply, parts.filter((p) => p.text));
  }

  isInterrupted(reply: string): boolean {
    return this.interrupted.has(reply);
  }

  /** Number of history messages (for tests and bounds). */
  get length(): number {
    return this.history.length;
  }
}

/** The longest prefix of `text` holding `n` non-whitespace characters, trimmed. */
function takeNonSpace(text: string, n: number): string {
  if (n <= 0) return '';
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    if (!/\s/.test(text[i]!)) seen++;
    if (seen >= n) return text.slice(0, i + 1).trim();
  }
  return text.trim();
}
