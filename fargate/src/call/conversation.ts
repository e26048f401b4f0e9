// The chat history the LLM sees, with each reply's words cut back to what the caller heard.
import { takeNonSpace } from './heard-text';
import type { ChatMessage } from '../providers/types';

/** One history entry that carries words the agent spoke, so barge-in can cut it back to what was heard. */
interface SpokenPart {
  index: number;
  text: string;
}

/** How a whispered instruction is introduced to the LLM (a supervisor's note, not the caller's words). */
export const OPERATOR_NOTE = 'Operator instruction (from a human supervisor; follow it from now on, never read it aloud):';

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

  /** A conversation taken over from an earlier stream of the same call: its system prompt and heard history. */
  static restore(system: string, history: ChatMessage[]): Conversation {
    const c = new Conversation(system);
    c.history.push(...history);
    return c;
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

  /**
   * An operator's whisper: a system message at the end of the history, so every LLM round from the next one on sees
   * it (after the turns before it, before the caller's next words). Never spoken; it rides in the handover's
   * history like any message, so a migrated call keeps it.
   */
  addInstruction(text: string): void {
    this.history.push({ role: 'system', content: `${OPERATOR_NOTE} ${text}` });
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
