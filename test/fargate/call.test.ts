// Call loop helpers: what of the caller's words may reach the LLM, the system prompt, the default observer.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { systemPrompt } from '../../fargate/src/agents';
import { logObserver } from '../../fargate/src/observability/log-observer';
import { forLlm } from '../../fargate/src/privacy/redaction';
import { bookingAgent } from '../../fargate/src/agents/booking';
import { agentForNumber, AGENTS, novaSpeculates, resolveAgent } from '../../fargate/src/agents';

describe('forLlm', () => {
  it.each([
    ['[keypad] 4111111111111111', '[keypad] [card]'],
    ['my card is 4111 1111 1111 1111 thanks', 'my card is [card] thanks'],
    ['four one one one one one one one one one one one one one one one', '[card]'],
    ['my ssn is 123-45-6789', 'my ssn is [ssn]'],
    ['[keypad] 1002', '[keypad] 1002'],
    ['ten AM works', 'ten AM works'],
    ['call me at 555 123 4567', 'call me at 555 123 4567'],
  ])('%j → %j', (input, expected) => expect(forLlm(input)).toBe(expected));
});

describe('agent selection and prompt', () => {
  it('routes called numbers to agents and falls back to the default', () => {
    expect(agentForNumber('+15550002000', 'booking')).toBe('shipment');
    expect(agentForNumber('+19999999999', 'booking')).toBe('booking');
    expect(resolveAgent('booking-patient', 'booking').endpointing).toBe('conservative');
    expect(resolveAgent('nope', 'shipment').name).toBe('shipment');
    for (const a of Object.values(AGENTS)) expect(a.greeting.length).toBeGreaterThan(0);
  });

  it('speculates on Nova by default, keeps plain and patient profiles without it, and never counts Flux as Nova', () => {
    expect(novaSpeculates(AGENTS.booking!)).toBe(true);
    expect(novaSpeculates(AGENTS.shipment!)).toBe(true);
    expect(novaSpeculates(AGENTS['booking-patient-spec']!)).toBe(true);
    expect(novaSpeculates(AGENTS['booking-plain']!)).toBe(false);
    expect(novaSpeculates(AGENTS['booking-patient']!)).toBe(false);
    expect(novaSpeculates(AGENTS['booking-flux']!)).toBe(false);
    expect(agentForNumber('+15550001005', 'booking')).toBe('booking-plain');
    expect(agentForNumber('+15550001006', 'booking')).toBe('booking-patient-spec');
  });

  it('fills {today} and appends the caller memory line', () => {
    const p = systemPrompt(bookingAgent, '2026-11-24', 'Returning caller. Name: Ana.');
    expect(p).toContain('Today is 2026-11-24.');
    expect(p.endsWith('\nReturning caller. Name: Ana.')).toBe(true);
    expect(systemPrompt(bookingAgent, '2026-11-24', '')).not.toContain('\n');
  });
});

describe('logObserver', () => {
  it('logs one line per turn with the waterfall relative to the caller\'s last word, and no transcript text', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
    const obs = logObserver(pino({ level: 'info' }, sink));
    obs.turn({
      callSid: 'CA1', turn: 1, replyId: 'r1', speechEndAt: 1000, sttFinalAt: 1700, replyStartedAt: 1701, llmFirstTokenAt: 1860,
      firstClauseAt: 1880, ttsFirstByteAt: 2035, firstAudioAt: 2036, voiceToVoiceMs: 1036, tools: [], interrupted: false, speculative: false, discarded: false,
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'turn latency', voiceToVoiceMs: 1036, waterfall: { speechEnd: 0, sttFinal: 700, llmFirstToken: 860, firstClause: 880, ttsFirstByte: 1035, firstAudioOut: 1036 } });
  });
});
