// Cuts streamed LLM text at clause boundaries so TTS can start speaking before the sentence is complete (pure).

export interface ChunkOptions {
  /** Shortest clause cut at a comma/semicolon/colon/dash; sentence ends always cut. @default 24 */
  minClauseChars: number;
  /**
   * Shortest first piece: the first clause is what the caller waits for, so "Sure," or "Great," goes to TTS alone
   * (TTS time to first byte is paid once per reply, from the first piece). @default 5
   */
  minFirstChars: number;
  /** With no boundary in sight, cut at the last space once the buffer reaches this. @default 160 */
  maxChars: number;
}

const DEFAULTS: ChunkOptions = { minClauseChars: 24, minFirstChars: 5, maxChars: 160 };

/** Words whose trailing period does not end a sentence. */
const ABBREVIATIONS = /(?:^|\s)(?:mr|mrs|ms|dr|st|sr|jr|vs|etc|no|approx|e\.g|i\.e|a\.m|p\.m|u\.s)\.$/i;

/**
 * Splits `buffer` into the pieces ready to speak and the rest still waiting for more text. A boundary needs the
 * whitespace after the punctuation (so "3.5" and "a.m." mid-stream are never cut); sentence ends (. ! ?) always cut,
 * clause marks (, ; : —) cut once the piece is long enough to sound natural. `first` lowers the minimum for the
 * reply's first piece, which is on the latency path.
 */
export function cutClauses(buffer: string, first: boolean, options: Partial<ChunkOptions> = {}): { ready: string[]; rest: string } {
  const o = { ...DEFAULTS, ...options };
  const ready: string[] = [];
  let rest = buffer;
  let isFirst = first;
  for (;;) {
    const cut = findCut(rest, isFirst ? o.minFirstChars : o.minClauseChars, o.maxChars);
    if (cut === undefined) break;
    const piece = rest.slice(0, cut).trim();
    rest = rest.slice(cut).replace(/^\s+/, '');
    if (piece) {
      ready.push(piece);
      isFirst = false;
    }
  }
  return { ready, rest };
}

function findCut(text: string, minClause: number, maxChars: number): number | undefined {
  for (let i = 0; i < text.length - 1; i++) {
    const ch = text[i]!;
    if (!/\s/.test(text[i + 1]!)) continue;
    if (ch === '.' || ch === '!' || ch === '?') {
      if (ch === '.' && ABBREVIATIONS.test(text.slice(0, i + 1))) continue;
      return i + 1;
    }
    if ((ch === ',' || ch === ';' || ch === ':' || ch === '—') && i + 1 >= minClause) return i + 1;
  }
  if (text.length >= maxChars) {
    const space = text.lastIndexOf(' ', maxChars);
    return space > 0 ? space + 1 : maxChars;
  }
  return undefined;
}

/**
 * Stateful wrapper over {@link cutClauses} for one reply: `push` LLM deltas, get the clauses ready to speak;
 * `flush` returns whatever is left when the LLM is done.
 */
export class ClauseChunker {
  private buffer = '';
  private first = true;

  constructor(private readonly options: Partial<ChunkOptions> = {}) {}

  push(delta: string): string[] {
    this.buffer += delta;
    const { ready, rest } = cutClauses(this.buffer, this.first, this.options);
    this.buffer = rest;
    if (ready.length) this.first = false;
    return ready;
  }

  flush(): string | undefined {
    const rest = this.buffer.trim();
    this.buffer = '';
    if (rest) this.first = false;
    return rest || undefined;
  }
}
