// Test fixture: one realistic booking call as the pipeline reports it (turn measures, tool calls, usage, summary).
import { expect } from 'vitest';
import type { Observability } from '../../../fargate/src/observability/instruments';
import type { Logger } from '../../../fargate/src/observability/logger';
import type { CallSummary, ReplyUsage, TurnMeasures } from '../../../fargate/src/observability/observer';

export const T0 = Date.UTC(2026, 10, 24, 9, 0, 0);
export const CALL_SID = 'CA0123456789abcdef0123456789abcdef';

/** Builds turn measures from offsets (ms after T0) of each stamp; the *Ms deltas are derived as reply.ts/call.ts do. */
export function turnAt(turn: number, at: { speechEnd?: number; sttFinal?: number; start: number; llm?: number; clause?: number; tts?: number; audio?: number }, extra: Partial<TurnMeasures> = {}): TurnMeasures {
  const abs = (v: number | undefined) => (v === undefined ? undefined : T0 + v);
  const m: TurnMeasures = {
    callSid: CALL_SID, turn, replyId: `r${turn}`,
    speechEndAt: abs(at.speechEnd), sttFinalAt: abs(at.sttFinal), replyStartedAt: T0 + at.start,
    llmFirstTokenAt: abs(at.llm), firstClauseAt: abs(at.clause), ttsFirstByteAt: abs(at.tts), firstAudioAt: abs(at.audio),
    tools: [], interrupted: false, speculative: false, discarded: false, ...extra,
  };
  if (m.speechEndAt !== undefined && m.sttFinalAt !== undefined) m.sttFinalDelayMs = m.sttFinalAt - m.speechEndAt;
  if (m.llmFirstTokenAt !== undefined) m.llmTimeToFirstTokenMs = m.llmFirstTokenAt - m.replyStartedAt;
  if (m.ttsFirstByteAt !== undefined && m.firstClauseAt !== undefined) m.ttsTimeToFirstByteMs = m.ttsFirstByteAt - m.firstClauseAt;
  if (m.firstAudioAt !== undefined && m.speechEndAt !== undefined) m.voiceToVoiceMs = m.firstAudioAt - m.speechEndAt;
  return m;
}

/** Four replies: plain, with a tool, interrupted, and a discarded speculative one; then a 93 s call ends. */
export const TURNS: TurnMeasures[] = [
  turnAt(1, { speechEnd: 5000, sttFinal: 5210, start: 5212, llm: 5420, clause: 5480, tts: 5630, audio: 5640 }),
  turnAt(2, { speechEnd: 15000, sttFinal: 15300, start: 15301, llm: 15900, clause: 15950, tts: 16090, audio: 16100 }, {
    tools: [{ name: 'check_availability', ms: 95, ok: true }],
  }),
  turnAt(3, { speechEnd: 30000, sttFinal: 30250, start: 30251, llm: 30450, clause: 30500, tts: 30680, audio: 30700 }, { interrupted: true }),
  turnAt(4, { speechEnd: 41000, sttFinal: 41100, start: 41100, llm: 41300 }, { speculative: true, discarded: true }),
];

export const USAGE: ReplyUsage[] = [
  { model: 'openai/gpt-oss-20b', inputTokens: 1800, outputTokens: 40, ttsChars: 62, wasted: false },
  { model: 'openai/gpt-oss-120b', inputTokens: 4200, outputTokens: 90, ttsChars: 120, wasted: false },
  { model: 'openai/gpt-oss-20b', inputTokens: 2300, outputTokens: 30, ttsChars: 48, wasted: false },
  { model: 'openai/gpt-oss-20b', inputTokens: 2400, outputTokens: 12, ttsChars: 0, wasted: true },
];

export const SUMMARY: CallSummary = {
  callSid: CALL_SID, agent: 'booking', startedAt: T0, endedAt: T0 + 93_000, turns: 4, interruptions: 1,
  escalated: false, failed: false, sttSeconds: 92.4, greetingMs: 35,
};

/** Parses captured EMF lines (each must be one JSON document). */
export function parseLines(lines: string[]): Record<string, any>[] {
  return lines.map((l) => {
    expect(l).not.toContain('\n');
    return JSON.parse(l) as Record<string, any>;
  });
}

/** Plays the fixture call (TURNS, USAGE, tools, SUMMARY) through `obs`'s per-call instruments, then one provider error and failover. */
export function playFixtureCall(obs: Observability, log: Logger, errorSeam = 'stt'): void {
  const inst = obs.instrumentsFor({ start: { callSid: CALL_SID, startedAt: T0 }, log }, { name: 'booking', stt: 'nova-3', llm: 'small' });
  TURNS.forEach((m, i) => {
    inst.observer.usage(USAGE[i]!);
    for (const t of m.tools) inst.observer.toolCall(t.name, t.ms, t.ok);
    inst.observer.turn(m);
  });
  inst.observer.end(SUMMARY);
  inst.providerError(errorSeam);
  obs.service.providerFailover('deepgram', 'stt');
}
