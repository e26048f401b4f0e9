// The media service's tool catalog: business contracts plus the pipeline's transfer/payment tools, as the LLM sees them.
import { describe, expect, it } from 'vitest';
import { toolContracts } from '../../../contracts/catalog';
import { contractFor, isPipelineTool, toolNames, toolsFor } from '../../../fargate/src/tools/catalog';
import { takePaymentContract } from '../../../fargate/src/tools/escalation-contracts';

describe('tool catalog', () => {
  it('lists every business tool and the two pipeline tools, each once', () => {
    const names = toolNames();
    expect(names).toEqual([...toolContracts.map((c) => c.name), 'transfer_to_human', 'take_payment']);
    expect(new Set(names).size).toBe(names.length);
  });

  it('gives the LLM JSON Schema in the agent order, with defaulted arguments optional', () => {
    const tools = toolsFor(['transfer_to_human', 'check_availability']);
    expect(tools.map((t) => t.name)).toEqual(['transfer_to_human', 'check_availability']);
    const check = tools[1]!.parameters as { type: string; properties: Record<string, unknown>; required?: string[] };
    expect(check.type).toBe('object');
    expect(Object.keys(check.properties)).toEqual(expect.arrayContaining(['service', 'date', 'partOfDay']));
    expect(check.required).toEqual(['service']); // date and partOfDay have defaults
    expect(tools[1]!.parameters).not.toHaveProperty('$schema');
    expect(tools[0]!.parameters).toMatchObject({ properties: { reason: { type: 'string' } }, required: ['reason'] });
  });

  it('never offers card fields on take_payment: the card goes through Twilio <Pay>', () => {
    const [pay] = toolsFor(['take_payment']);
    const props = Object.keys((pay!.parameters as { properties: Record<string, unknown> }).properties);
    expect(props.sort()).toEqual(['amount', 'description']);
    expect(takePaymentContract.input.safeParse({ amount: 45.5, description: 'deposit', cardNumber: '4111111111111111' }).data).toEqual({ amount: 45.5, description: 'deposit' });
  });

  it('refuses an unknown tool name, naming it', () => {
    expect(() => toolsFor(['check_availability', 'launch_rockets'])).toThrow(/launch_rockets/);
  });

  it('finds contracts by name and tells pipeline tools apart', () => {
    expect(contractFor('book_appointment')?.latencyClass).toBe('slow');
    expect(contractFor('nope')).toBeUndefined();
    expect(isPipelineTool('transfer_to_human')).toBe(true);
    expect(isPipelineTool('check_availability')).toBe(false);
  });
});
