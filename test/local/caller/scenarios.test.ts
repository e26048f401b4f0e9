// Pins the shipped scenarios: they parse, their audio is one clean speech burst each, and their tool calls fit the tool contracts.
import { describe, expect, it } from 'vitest';
import { FRAME_BYTES, isSpeech } from '../../../local/audio/mulaw';
import {
  listScenarios,
  loadScenario,
  loadScenarioAudio,
  parseScenario,
  sayStepsOf,
  scriptOf,
} from '../../../local/scenarios/scenario';
import { localAgents } from '../../../local/agents';
import { contractFor } from '../../../fargate/src/tools/catalog';

const names = listScenarios();

describe('scenario files', () => {
  it('ships the shipped scenarios', () => {
    expect(names).toEqual(['booking', 'digits-adaptive', 'frustrated', 'human', 'interrupt', 'keypad', 'pause', 'pause-adaptive', 'shipment']);
  });

  it.each(names)('%s parses and its STT script is the say texts in order', (name) => {
    const s = loadScenario(name);
    expect(s.name).toBe(name);
    expect(scriptOf(s)).toEqual(s.steps.flatMap((step) => ('say' in step ? [step.text] : [])));
  });

  it.each(names)('%s audio: one speech burst (no internal quiet ≥ 150 ms), trimmed, a few seconds', (name) => {
    const s = loadScenario(name);
    for (const [id, audio] of loadScenarioAudio(s)) {
      const speech: boolean[] = [];
      for (let i = 0; i < audio.length; i += FRAME_BYTES) speech.push(isSpeech(audio.subarray(i, i + FRAME_BYTES)));
      let run = 0;
      let longest = 0;
      for (const sp of speech) {
        run = sp ? 0 : run + 1;
        longest = Math.max(longest, run);
      }
      expect({ id, startsWithSpeech: speech.slice(0, 2).includes(true), endsWithSpeech: speech.slice(-2).includes(true) }).toEqual({
        id,
        startsWithSpeech: true,
        endsWithSpeech: true,
      });
      expect(longest * 20, `${id} longest quiet run`).toBeLessThan(150);
      expect(audio.length / 8000, `${id} seconds`).toBeLessThan(5);
    }
  });

  it.each(names)('%s routes to a real agent that offers every tool its LLM rules call, with contract-valid arguments', (name) => {
    const s = loadScenario(name);
    const agents = localAgents();
    const agent = agents.resolve(s.agent);
    expect(agent.name, `agent ${s.agent}`).toBe(s.agent);
    // The webhook picks the agent from the called number, so `to` must reach the scenario's agent.
    expect(agents.forNumber(s.to)).toBe(s.agent);
    for (const rule of s.llm) {
      for (const call of [...(rule.reply.toolCall ? [rule.reply.toolCall] : []), ...(rule.reply.toolCalls ?? [])]) {
        const args = typeof call.arguments === 'string' ? JSON.parse(call.arguments) : (call.arguments ?? {});
        const contract = contractFor(call.name);
        expect(contract, `${name}: unknown tool ${call.name}`).toBeDefined();
        expect(contract!.input.safeParse(args).success, `${name}: ${call.name} ${JSON.stringify(args)}`).toBe(true);
        // The LLM emulator skips rules for tools the request did not offer, so the agent must list the tool.
        expect(agent!.tools, `${s.agent} tools`).toContain(call.name);
      }
    }
  });

  it('the scenarios cover tools, barge-in, a backchannel, a thinking pause, a transfer and keypad entry', () => {
    const all = names.map(loadScenario);
    const tools = all.flatMap((s) => s.expect.toolCalls ?? []);
    expect(tools).toEqual(expect.arrayContaining(['check_availability', 'book_appointment', 'get_shipment_status']));
    const says = all.flatMap(sayStepsOf);
    expect(says.filter((s) => s.bargeInAfterMs !== undefined).map((s) => s.bargeInAfterMs)).toEqual([800, 2000]);
    expect(all.some((s) => s.steps.some((step) => 'pause' in step))).toBe(true);
    expect(all.some((s) => s.expect.transfer === true)).toBe(true);
    expect(all.some((s) => s.steps.some((step) => 'dtmf' in step))).toBe(true);
  });
});

describe('scenario loader', () => {
  const valid = { name: 'x', agent: 'booking', from: '+15551230001', to: '+15550001000', steps: [{ hangup: true }], llm: [] };

  it('names every bad field of an invalid scenario', () => {
    expect(() => parseScenario({ ...valid, from: '555', steps: [{ say: 'Bad Id', text: 'hi' }] }, 'x.json')).toThrow(
      /x\.json is not a valid scenario: .*from: must be E\.164.*steps\.0/,
    );
  });

  it('refuses unknown step kinds and invalid rule regexes', () => {
    expect(() => parseScenario({ ...valid, steps: [{ sing: 'la' }] })).toThrow(/steps\.0/);
    expect(() => parseScenario({ ...valid, llm: [{ when: { lastUser: '(' }, reply: { text: 'x' } }] })).toThrow(/valid regular expression/);
    expect(() => parseScenario({ ...valid, llm: [{ when: {}, reply: {} }] })).toThrow(/reply needs "text" or "toolCall"/);
  });

  it('lists the available scenarios when a name is unknown', () => {
    expect(() => loadScenario('no-such-scenario')).toThrow(/available: booking, digits-adaptive, frustrated, human/);
  });

  it('defaults expect to {} so consumers can read it without checks', () => {
    expect(parseScenario(valid).expect).toEqual({});
  });
});
