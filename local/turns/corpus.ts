// The labelled turn corpus (local/turns/turns.json or a team's folder in the same format): schema, loader, and each turn's caller audio.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { silence } from '../audio/mulaw';

/** The shipped corpus folder. */
export const CORPUS_DIR = dirname(fileURLToPath(import.meta.url));
/** Line silence before each turn: the onset then sits at a known time after the stream starts. */
export const LEAD_IN_MS = 500;

const part = z.union([
  /** One speech burst; its text is the STT emulator's script line for it. */
  z.strictObject({ say: z.string().min(1) }),
  /** Line silence between bursts; ≥ 300 ms so the emulator (bursts end after 250 ms of silence) hears two bursts. */
  z.strictObject({ pause: z.number().int().min(300).max(5000) }),
  /** A cough or line noise (no words). */
  z.strictObject({ noise: z.enum(['cough', 'line']) }),
]);

export const turnSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'turn ids are kebab-case (they name the audio files)'),
    category: z.string().min(1),
    /** What the agent just said (its question), for the adaptive policy. */
    asked: z.string().default(''),
    /** The tool argument the agent is collecting, if any. */
    collecting: z.string().optional(),
    /** The caller speaks while the agent is talking (backchannels, noise, interruptions over an answer). */
    overAgent: z.boolean().default(false),
    /** reply: a real turn ending at `endMs`; ignore: no reply and no lost answer; interrupt: a real barge-in. */
    expect: z.enum(['reply', 'ignore', 'interrupt']),
    /** Generated turns: the parts (audio/<id>-<index>.ulaw per say/noise part). */
    parts: z.array(part).min(1).optional(),
    /** Recorded turns: one raw 8 kHz μ-law file (relative to the folder), with `endMs` and `script`. */
    audio: z.string().optional(),
    /** Labelled true end of the turn, ms from the start of the turn's audio. @default the end of the last part */
    endMs: z.number().nonnegative().optional(),
    /** The STT emulator's lines, one per speech burst. @default the say/noise parts' text ('' for noise) */
    script: z.array(z.string()).optional(),
  })
  .refine((t) => t.parts || (t.audio && t.endMs !== undefined), 'a turn needs "parts", or "audio" with "endMs"');

export type Turn = z.output<typeof turnSchema>;

/** A turn ready to replay: its audio (lead-in silence included), script, and labels on the stream's timeline. */
export interface LoadedTurn extends Turn {
  audioBytes: Uint8Array;
  lines: string[];
  /** ms from the stream's first byte: the first speech onset and the labelled end of the turn. */
  onsetMs: number;
  labelledEndMs: number;
}

function readAudio(dir: string, file: string): Uint8Array {
  const path = join(dir, file);
  if (!existsSync(path)) throw new Error(`missing turn audio ${path}; run local/turns/generate.sh`);
  return new Uint8Array(readFileSync(path));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Builds one turn's stream: lead-in silence, then its parts (or its recorded file). */
export function loadTurn(turn: Turn, dir: string): LoadedTurn {
  const lead = silence(LEAD_IN_MS);
  if (!turn.parts) {
    const audio = readAudio(dir, turn.audio!);
    return { ...turn, audioBytes: concat([lead, audio]), lines: turn.script ?? [], onsetMs: LEAD_IN_MS, labelledEndMs: LEAD_IN_MS + turn.endMs! };
  }
  const chunks = turn.parts.map((p, i) => ('pause' in p ? silence(p.pause) : readAudio(dir, join('audio', `${turn.id}-${i}.ulaw`))));
  const body = concat(chunks);
  const lines = turn.script ?? turn.parts.flatMap((p) => ('say' in p ? [p.say] : 'noise' in p ? [''] : []));
  return { ...turn, audioBytes: concat([lead, body]), lines, onsetMs: LEAD_IN_MS, labelledEndMs: LEAD_IN_MS + (turn.endMs ?? body.length / 8) };
}

/** Loads `<dir>/turns.json` and every turn's audio; the error names the file and the bad fields. */
export function loadCorpus(dir = CORPUS_DIR): LoadedTurn[] {
  const path = join(dir, 'turns.json');
  if (!existsSync(path)) throw new Error(`no turns.json in ${dir}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = z.strictObject({ about: z.string().optional(), turns: z.array(turnSchema).min(1) }).safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${path} is not a valid turn corpus: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const ids = new Set<string>();
  for (const t of parsed.data.turns) {
    if (ids.has(t.id)) throw new Error(`${path}: turn id ${t.id} appears twice`);
    ids.add(t.id);
  }
  return parsed.data.turns.map((t) => loadTurn(t, dir));
}
