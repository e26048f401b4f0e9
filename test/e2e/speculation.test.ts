// Speculative replies end to end, for Deepgram Flux (EagerEndOfTurn) and Nova-3 (early endpoint): a held reply answers
// sooner than waiting for the end of the turn, and a caller who resumes after a pause never hears the dropped one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallReport } from '../../local/caller/caller';
import { loadScenario, type Scenario } from '../../local/scenarios/scenario';
import type { LocalStack } from '../../local/stack';
import { call, settled, stackFor } from './helpers';

const booking = loadScenario('booking');
const pause = loadScenario('pause');
const oneTurn = (name: string, agent: string, to: string): Scenario => ({
  ...booking,
  name,
  agent,
  to,
  steps: [{ waitForAgent: true }, { say: 'booking-2', text: 'Ten AM works for me.' }, { waitForAgent: true }, { hangup: true }],
});

const engines = [
  {
    engine: 'Flux',
    speculative: oneTurn('flux-speculative', 'booking-flux', '+15550001003'),
    plain: oneTurn('flux-plain', 'booking-flux-plain', '+15550001004'),
    /** The caller pauses 450 ms mid-sentence: long enough for EagerEndOfTurn (350 ms), short of EndOfTurn (550 ms). */
    resumed: {
      ...pause,
      name: 'flux-resumed',
      agent: 'booking-flux',
      to: '+15550001003',
      steps: [{ waitForAgent: true }, { say: 'pause-1', text: "I'd like to book..." }, { pause: 450 }, { say: 'pause-2', text: 'a haircut on Friday.' }, { waitForAgent: true }, { hangup: true }],
    } satisfies Scenario,
  },
  {
    engine: 'Nova-3',
    speculative: oneTurn('nova-speculative', 'booking', '+15550001000'),
    plain: oneTurn('nova-plain', 'booking-plain', '+15550001005'),
    /** The stock pause scenario (conservative, 800 ms window; the caller pauses 600 ms mid-sentence), to the speculating twin. */
    resumed: { ...pause, name: 'nova-resumed', agent: 'booking-patient-spec', to: '+15550001006' } satisfies Scenario,
  },
];

describe.each(engines)('$engine speculation', ({ speculative, plain, resumed }) => {
  let stackA: LocalStack;
  let stackB: LocalStack;
  let spec: CallReport;
  let base: CallReport;
  let res: CallReport;

  beforeAll(async () => {
    [stackA, stackB] = await Promise.all([stackFor(speculative), stackFor(resumed)]);
    // Same run, same emulated latencies: the speculative and the plain agent answer the same words side by side.
    [spec, base, res] = await Promise.all([call(stackA, speculative), call(stackA, plain), call(stackB, resumed)]);
    await Promise.all([settled(stackA, spec.callSid), settled(stackA, base.callSid), settled(stackB, res.callSid)]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([stackA?.close(), stackB?.close()]);
  });

  it('answers sooner than waiting for the end of the turn, with the same words', () => {
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

  it('drops the held reply when the caller resumes: none of its audio plays, its tokens count as wasted', () => {
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
