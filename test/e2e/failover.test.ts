// E2E failover: per seam, the primary provider dies mid-call and the booking completes on the backup with no apology heard.
import { afterAll, describe, expect, it } from 'vitest';
import { localAgents } from '../../local/agents';
import { loadScenario, scriptOf } from '../../local/scenarios/scenario';
import { startAssemblyAiEmulator } from '../../local/emulators/assemblyai';
import { startDeepgramTtsEmulator } from '../../local/emulators/deepgram-tts';
import { startGoogleSttEmulator } from '../../local/emulators/google-stt';
import { startLlmEmulator } from '../../local/emulators/llm';
import { checkExpect, toolCallsSeen, type LocalStack } from '../../local/stack';
import type { CallReport } from '../../local/caller/caller';
import { call, settled, stackFor } from './helpers';

const booking = loadScenario('booking');
const apology = localAgents().resolve('booking').apologyLine.toLowerCase();
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
});

/** Polls `check` every 20 ms until it holds (bounded). */
async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The ProviderFailover EMF datapoints the stack emitted, as "provider/seam". */
function failovers(stack: LocalStack): string[] {
  return stack.emf
    .map((l) => JSON.parse(l) as { ProviderFailover?: number; Provider?: string; Seam?: string })
    .filter((d) => d.ProviderFailover !== undefined)
    .map((d) => `${d.Provider}/${d.Seam}`);
}

/** The booking completed, nothing apologised, the move was counted, and the longest answer gap is printed for the note. */
function expectBooked(seam: string, from: string, stack: LocalStack, report: CallReport): void {
  expect(failovers(stack)).toContain(`${from}/${seam}`);
  expect(checkExpect(booking, report, toolCallsSeen(stack))).toEqual([]);
  expect(report.heard).toContain("you're booked for a haircut tomorrow at 10 am");
  expect(report.heard).not.toContain(apology.replace(/[.]$/, ''));
  const v2v = report.turns.map((t) => Math.round(t.voiceToVoiceMs ?? 0));
  const pauses = report.turns.map((t) => Math.round(t.longestPauseMs ?? 0));
  console.log(`[failover e2e] ${seam}: voice-to-voice per turn ${v2v.join(', ')} ms; longest pause inside a reply per turn ${pauses.join(', ')} ms`);
}

describe('a call that loses a provider mid-call', () => {
  it('STT: the Deepgram service goes down after the first turn; AssemblyAI hears the rest and the booking completes', async () => {
    const tlsBefore = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the AssemblyAI emulator's self-signed certificate (tests only)
    closers.push(async () => void (tlsBefore === undefined ? delete process.env.NODE_TLS_REJECT_UNAUTHORIZED : (process.env.NODE_TLS_REJECT_UNAUTHORIZED = tlsBefore)));
    const aai = await startAssemblyAiEmulator({ script: scriptOf(booking).slice(1) });
    closers.push(() => aai.close());
    const stack = await stackFor(booking, { env: { STT_PROVIDERS: 'deepgram,assemblyai', ASSEMBLYAI_API_KEY: 'local', ASSEMBLYAI_URL: aai.wsUrl } });
    closers.push(() => stack.close());
    const placed = call(stack, booking);
    await until('the first turn reached the LLM', () => stack.emulators.llm.requests.length >= 1);
    await stack.emulators.deepgram.close(); // every Deepgram socket dies and new connects are refused
    const report = await placed;
    await settled(stack, report.callSid);
    expectBooked('stt', 'deepgram', stack, report);
  }, 120_000);

  it('STT: AssemblyAI dies after the first turn; Google hears the rest and the booking completes', async () => {
    // The in-process media service must trust the emulator's self-signed certificate (the SDK speaks only wss).
    const tlsBefore = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    closers.push(async () => void (tlsBefore === undefined ? delete process.env.NODE_TLS_REJECT_UNAUTHORIZED : (process.env.NODE_TLS_REJECT_UNAUTHORIZED = tlsBefore)));
    const aai = await startAssemblyAiEmulator({ script: scriptOf(booking) });
    // One script cursor per connection: the backup's first burst is the caller's second line.
    const google = await startGoogleSttEmulator({ script: scriptOf(booking).slice(1) });
    closers.push(() => aai.close(), () => google.close());
    const stack = await stackFor(booking, {
      env: { STT_PROVIDERS: 'assemblyai,google', ASSEMBLYAI_API_KEY: 'local', ASSEMBLYAI_URL: aai.wsUrl, GOOGLE_STT_ENDPOINT: google.endpoint },
    });
    closers.push(() => stack.close());
    const placed = call(stack, booking);
    await until('the first turn reached the LLM', () => stack.emulators.llm.requests.length >= 1);
    aai.dropConnections();
    const report = await placed;
    await settled(stack, report.callSid);
    expectBooked('stt', 'assemblyai', stack, report);
  }, 120_000);

  it('LLM: Groq answers 503 from the second turn on; Fireworks finishes the booking', async () => {
    const fireworks = await startLlmEmulator({ rules: booking.llm as never, knobs: { ttftMs: 150 } });
    closers.push(() => fireworks.close());
    const stack = await stackFor(booking, {
      env: { LLM_PROVIDERS: 'groq,fireworks', FIREWORKS_API_KEY: 'local', FIREWORKS_BASE_URL: `${fireworks.url}/v1` },
    });
    closers.push(() => stack.close());
    const placed = call(stack, booking);
    await until('the first reply', () => stack.emulators.llm.requests.length >= 2);
    stack.emulators.llm.setKnobs({ failNext: { status: 503, count: 1000 } });
    const report = await placed;
    await settled(stack, report.callSid);
    expect(fireworks.requests.length).toBeGreaterThan(0);
    expectBooked('llm', 'groq', stack, report);
  }, 120_000);

  it('TTS: ElevenLabs dies while speaking a reply; Deepgram Aura-2 speaks from the next clause on', async () => {
    const aura = await startDeepgramTtsEmulator({});
    closers.push(() => aura.close());
    const stack = await stackFor(booking, { env: { TTS_PROVIDERS: 'elevenlabs,deepgram', DEEPGRAM_TTS_URL: aura.url } });
    closers.push(() => stack.close());
    const placed = call(stack, booking);
    await until('a reply being spoken', () => stack.emulators.elevenlabs.generations.some((g) => /Tomorrow I have/.test(g.text)));
    await stack.emulators.elevenlabs.close(); // every ElevenLabs socket dies mid-reply
    const report = await placed;
    await settled(stack, report.callSid);
    expect(aura.generations.length).toBeGreaterThan(0);
    expectBooked('tts', 'elevenlabs', stack, report);
  }, 120_000);
});
