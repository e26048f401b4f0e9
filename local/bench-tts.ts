// `npm run bench:tts -- [--replies N]`: first-audio time of each ElevenLabs generation trigger against the emulator, which applies the default chunk_length_schedule.
import './node-support';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createElevenLabsTts, type GenerationTrigger } from '../fargate/src/providers/elevenlabs-tts';
import { AsyncQueue } from '../fargate/src/providers/async-queue';
import { ClauseChunker } from '../fargate/src/call/text-chunker';
import { startElevenLabsEmulator, tokenize } from './emulators';
import { loadScenario } from './scenarios/scenario';

const { values } = parseArgs({ options: { replies: { type: 'string', default: '20' } } });

/** The modes compared: the three triggers, and no trigger at all (the server's default schedule, what the client had). */
const MODES: { name: string; generation: GenerationTrigger; schedule?: number[] }[] = [
  { name: 'auto_mode=true', generation: 'auto-mode' },
  { name: 'flush at clause ends', generation: 'flush' },
  { name: 'chunk_length_schedule [50]', generation: 'schedule', schedule: [50] },
  { name: 'none (default schedule [120,160,250,290])', generation: 'schedule', schedule: [120, 160, 250, 290] },
];
/** The LLM emulator's default pace: 500 tokens/s after the first token. */
const MS_PER_TOKEN = 2;

/** One reply: tokens paced like the LLM, cut into clauses like reply.ts; ms from the first clause sent to the first audio. */
async function firstAudioMs(conn: Awaited<ReturnType<ReturnType<typeof createElevenLabsTts>['connect']>>, text: string): Promise<number> {
  const clauses = new AsyncQueue<string>();
  let firstClauseAt: number | undefined;
  const chunker = new ClauseChunker();
  const speak = (p: string) => {
    firstClauseAt ??= performance.now();
    clauses.push(p);
  };
  void (async () => {
    for (const tok of tokenize(text)) {
      for (const p of chunker.push(tok)) speak(p);
      await new Promise((r) => setTimeout(r, MS_PER_TOKEN));
    }
    const tail = chunker.flush();
    if (tail) speak(tail);
    clauses.end();
  })();
  let first: number | undefined;
  for await (const chunk of conn.synthesize(clauses, new AbortController().signal)) if (first === undefined && chunk.audio.length) first = performance.now();
  return first! - firstClauseAt!;
}

const pct = (v: number[], p: number) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)]!;

async function main(): Promise<void> {
  const n = Math.max(1, Number(values.replies));
  const replies = loadScenario('booking').llm.map((r) => r.reply.text).filter((t): t is string => !!t);
  // Default knobs: first byte 150 ms after a generation trigger, 5 ms/char synthesis pace.
  const emu = await startElevenLabsEmulator();
  const log = pino({ level: 'silent' });
  console.log(`first audio after the first clause, ${n} booking replies per mode (ElevenLabs emulator defaults)`);
  for (const mode of MODES) {
    const tts = createElevenLabsTts({ apiKey: 'k', url: emu.url, voiceId: 'bench', model: 'eleven_flash_v2_5', log, generation: mode.generation, ...(mode.schedule ? { chunkLengthSchedule: mode.schedule } : {}) });
    const conn = await tts.connect();
    const ms: number[] = [];
    for (let i = 0; i < n; i++) ms.push(await firstAudioMs(conn, replies[i % replies.length]!));
    conn.close();
    console.log(`${mode.name.padEnd(44)} p50 ${pct(ms, 50).toFixed(0).padStart(5)} ms  p95 ${pct(ms, 95).toFixed(0).padStart(5)} ms`);
  }
  await emu.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
