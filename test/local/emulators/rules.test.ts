// Pins the scenario LLM rule semantics (CONTRACTS.md `when` keys) used by the LLM emulator.
import { describe, expect, it } from 'vitest';
import { argumentsJson, matchRule, validateRules, type LlmRule } from '../../../local/emulators/rules';

const rules: LlmRule[] = [
  { when: { lastUser: 'haircut' }, reply: { toolCall: { name: 'check_availability', arguments: { service: 'haircut' } } } },
  { when: { lastTool: 'check_availability', lastToolResult: '"slots":\\[\\]' }, reply: { text: 'Nothing free.' } },
  { when: { lastTool: 'check_availability' }, reply: { text: 'I have 9 AM.' } },
  { when: { system: 'spanish' }, reply: { text: 'Hola.' } },
  { when: {}, reply: { text: 'Sorry?' } },
];
const assistantCall = { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'check_availability', arguments: '{}' } }] };

describe('matchRule', () => {
  it('matches lastUser case-insensitively when the user spoke last', () => {
    expect(matchRule(rules, [{ role: 'system', content: 'x' }, { role: 'user', content: 'A HAIRCUT please' }])?.toolCall?.name).toBe('check_availability');
  });

  it('does not re-fire a lastUser rule after its own tool result (no tool loop)', () => {
    const reply = matchRule(rules, [{ role: 'user', content: 'haircut' }, assistantCall, { role: 'tool', tool_call_id: 'c1', content: '{"slots":["9"]}' }]);
    expect(reply).toEqual({ text: 'I have 9 AM.' });
  });

  it('names the tool of a tool message through its tool_call_id and tests lastToolResult on its content', () => {
    const reply = matchRule(rules, [{ role: 'user', content: 'x' }, assistantCall, { role: 'tool', tool_call_id: 'c1', content: '{"slots":[]}' }]);
    expect(reply).toEqual({ text: 'Nothing free.' });
  });

  it('matches the system prompt and reads content arrays', () => {
    expect(matchRule(rules, [{ role: 'system', content: [{ type: 'text', text: 'Answer in Spanish.' }] }, { role: 'user', content: 'hi' }])).toEqual({ text: 'Hola.' });
  });

  it('falls through to the catch-all and returns undefined when nothing matches', () => {
    expect(matchRule(rules, [{ role: 'user', content: 'hello' }])).toEqual({ text: 'Sorry?' });
    expect(matchRule(rules.slice(0, 3), [{ role: 'user', content: 'hello' }])).toBeUndefined();
  });

  it('skips a tool-call rule when that tool was not offered in the request', () => {
    const msgs = [{ role: 'user', content: 'haircut' }];
    expect(matchRule(rules, msgs, ['check_availability'])?.toolCall?.name).toBe('check_availability');
    expect(matchRule(rules, msgs, [])).toEqual({ text: 'Sorry?' });
  });

  it('serializes object arguments to JSON and passes strings through', () => {
    expect(argumentsJson({ a: 1 })).toBe('{"a":1}');
    expect(argumentsJson('{"b":2}')).toBe('{"b":2}');
    expect(argumentsJson(undefined)).toBe('{}');
  });

  it('rejects malformed rules with a message naming the rule', () => {
    expect(() => validateRules([{ when: {}, reply: {} }])).toThrow(/llm rule 0/);
    expect(() => validateRules([{ when: { lastUser: '(' }, reply: { text: 'x' } }])).toThrow(/not a valid regex/);
    expect(() => validateRules([{ when: { lastAgent: 'x' }, reply: { text: 'x' } }])).toThrow(/unknown "when" key/);
    expect(validateRules(rules)).toBe(rules);
  });
});
