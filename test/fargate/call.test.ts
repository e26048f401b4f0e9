// Call loop helpers: what of the caller's words may reach the LLM, the system prompt, the default observer.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { systemPrompt } from '../../fargate/src/agents';
import { logObserver } from '../../fargate/src/observability/log-observer';
import { forLlm } from '../../fargate/src/privacy/redaction';
import { Agents, buildAgents, novaSpeculates } from '../../fargate/src/agents';
import { localAgents } from '../../local/agents';

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
  const agents = localAgents();

  it('routes called numbers to agents and falls back to the default', () => {
    expect(agents.forNumber('+15550002000')).toBe('shipment');
    expect(agents.forNumber('+19999999999')).toBe('booking');
    expect(agents.resolve('booking-patient').endpointing).toBe('conservative');
    expect(agents.resolve('nope').name).toBe('booking');
    for (const a of agents.all()) expect(a.greeting.length).toBeGreaterThan(0);
  });

  it('speculates on Nova by default, keeps plain and patient profiles without it, and never counts Flux as Nova', () => {
    expect(novaSpeculates(agents.resolve('booking'))).toBe(true);
    expect(novaSpeculates(agents.resolve('shipment'))).toBe(true);
    expect(novaSpeculates(agents.resolve('booking-patient-spec'))).toBe(true);
    expect(novaSpeculates(agents.resolve('booking-plain'))).toBe(false);
    expect(novaSpeculates(agents.resolve('booking-patient'))).toBe(false);
    expect(novaSpeculates(agents.resolve('booking-flux'))).toBe(false);
    expect(agents.forNumber('+15550001005')).toBe('booking-plain');
    expect(agents.forNumber('+15550001006')).toBe('booking-patient-spec');
  });

  it('fills {today} and appends the caller memory line', () => {
    const booking = agents.resolve('booking');
    const p = systemPrompt(booking, '2026-11-24', 'Returning caller. Name: Ana.');
    expect(p).toContain('Today is 2026-11-24.');
    expect(p.endsWith('\nReturning caller. Name: Ana.')).toBe(true);
    expect(systemPrompt(booking, '2026-11-24', '')).not.toContain('\n');
  });
});

describe('agent files', () => {
  const base = { name: 'base', systemPrompt: 'p', tools: [], endpointing: 'balanced', stt: 'nova-3', llm: 'small', voiceId: 'v', greeting: 'Hi.', fillers: [], handoffLine: 'h', apologyLine: 'a', paymentLine: 'p' };
  const build = (...json: unknown[]) => buildAgents(json.map((j, i) => ({ source: `f${i}.json`, json: j })));

  it('a variant extends another agent and overrides only what it names; the hold and resume lines have defaults', () => {
    const a = build(base, { extends: 'base', name: 'quick', endpointing: 'aggressive' });
    expect(a.get('quick')).toMatchObject({ ...base, name: 'quick', endpointing: 'aggressive', holdLine: 'One moment, please.', resumeLine: 'Thanks for waiting.' });
  });

  it.each([
    [[{ ...base, endpointing: 'fast' }], /f0\.json: endpointing/],
    [[{ ...base, greting: 'typo' }], /f0\.json: .*greting/],
    [[{ name: 'half', systemPrompt: 'p' }], /f0\.json: .*tools/],
    [[base, { extends: 'nobody', name: 'x' }], /extends unknown agent "nobody"/],
    [[base, base], /defined twice/],
    [[{ extends: 'b', name: 'a' }, { extends: 'a', name: 'b' }], /extends itself/],
  ])('refuses a bad agent file at boot, naming the file and field: %j', (files, message) => {
    expect(() => build(...files)).toThrow(message);
  });

  it('refuses a number map or default that names an unknown agent', () => {
    expect(() => new Agents(build(base), { '+15550000000': 'ghost' }, 'base')).toThrow(/\+15550000000 → unknown agent "ghost"/);
    expect(() => new Agents(build(base), {}, 'ghost')).toThrow(/DEFAULT_AGENT "ghost"/);
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
