// Deepgram Nova-3 end to end: a held reply started at the early endpoint answers sooner; a thinking pause drops it unheard.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallReport } from '../../local/caller/caller';
import { loadScenario, type Scenario } from '../../local/scenarios/scenario';
import type { LocalStack } from '../../local/stack';
import { call, settled, stackFor } from './helpers';

const booking = loadScenario('booking');
/** The stock pause scenario (conservative, 800 ms window; the caller pauses 600 ms mid-sentence), to the speculating twin. */
const pause: Scenario = { ...loadScenario('pause'), name: 'nova-resumed', agent: 'booking-patient-spec', to: '+15550001006' };
const oneTurn = (name: string, agent: string, to: string): Scenario => ({
  ...booking,
  name,
  agent,
  to,
  steps: [{ waitForAgent: true }, { say: 'booking-2', text: 'Ten AM works for me.' }, { waitForAgent: true }, { hangup: true }],
});
const speculative = oneTurn('nova-speculative', 'booking', '+15550001000');
const plain = oneTurn('nova-plain', 'booking-plain', '+15550001005');

let stackA: LocalStack;
let stackB: LocalStack;
let spec: CallReport;
let base: CallReport;
let res: CallReport;

beforeAll(async () => {
  [stackA, stackB] = await Promise.all([stackFor(speculative), stackFor(pause)]);
  // Same run, same emulated latencies: the speculative and the plain Nova agent answer the same words side by side.
  [spec, base, res] = await Promise.all([call(stackA, speculative), call(stackA, plain), call(stackB, pause)]);
  await Promise.all([settled(stackA, spec.callSid), settled(stackA, base.callSid), settled(stackB, res.callSid)]);
}, 120_000);

afterAll(async () => {
  await Promise.all([stackA?.close(), stackB?.close()]);
});

describe('Nova-3 speculation', () => {
  it('answers sooner than waiting for the full endpointing window, with the same words', () => {
    const v2v = (r: CallReport) => r.turns.find((t) => t.say === 'booking-2')!.voiceToVoiceMs!;
    expect(spec.ok && base.ok).toBe(true);
    expect(v2v(spec)).toBeLessThan(v2v(base));
    const answer = (r: CallReport) => r.turns.find((t) => t.say === 'booking-2')!.heard;
    expect(answer(spec)).toBe(answer(base));
    expect(answer(spec)).toContain('shall i book it?');
    const turns = stackA.calls.get(spec.callSid)!.turns;
    expect(turns.some((m) => m.speculative && !m.discarded && m.firstAudioAt !== undefined)).toBe(true);
    expect(stackA.calls.get(base.callSid)!.turns.every((m) => !m.speculative)).toBe(true);
  });

  it('does not cut off a thinking pause: the held reply is dropped when speech resumes, none of its audio plays', () => {
    expect(res.ok).toBe(true);
    const trace = stackB.calls.get(res.callSid)!;
    expect(trace.turns.some((m) => m.speculative && m.discarded && m.firstAudioAt === undefined)).toBe(true);
    expect(trace.usage.some((u) => u.wasted)).toBe(true);
    // The LLM did see the half sentence (that is the speculation) ...
    const lastUsers = stackB.emulators.llm.requests.map((r) => (r.body.messages as { role: string; content: string }[]).filter((m) => m.role === 'user').at(-1)?.content);
    expect(lastUsers).toContain("I'd like to book...");
    // ... but the caller only heard the answer to the whole one, and the agent never talked over the pause.
    expect(res.heard).not.toContain('what would you like to book');
    expect(res.heard).toContain('haircut on friday');
    expect(res.clears).toBe(0);
  });
});
