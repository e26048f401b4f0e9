// The one tool catalog the media service offers the LLM: the business tools (Lambdas) plus the pipeline's own tools.
import { z } from 'zod';
import type { ToolContract } from '../../../contracts/tool-contract';
import { toolContracts } from '../../../contracts/catalog';
import type { LlmTool } from '../providers/types';
import { pipelineContracts } from './escalation-contracts';

const byName = new Map<string, ToolContract>();
for (const c of [...toolContracts, ...pipelineContracts]) {
  if (byName.has(c.name)) throw new Error(`duplicate tool contract name: ${c.name}`);
  byName.set(c.name, c);
}
const pipelineNames = new Set(pipelineContracts.map((c) => c.name));

/** The contract named `name`, or undefined when no tool has that name. */
export function contractFor(name: string): ToolContract | undefined {
  return byName.get(name);
}

/** True for tools the call loop runs itself (transfer_to_human, take_payment) instead of the tools API. */
export function isPipelineTool(name: string): boolean {
  return pipelineNames.has(name);
}

/** Every tool name, business tools first. */
export function toolNames(): string[] {
  return [...byName.keys()];
}

/**
 * The LLM's tool list for an agent: its tool names in the given order, JSON Schema from the zod contracts
 * (`io: 'input'`, so arguments with defaults are optional for the model). Throws naming any unknown tool, so an
 * agent profile typo fails at boot instead of mid-call.
 */
export function toolsFor(agentToolNames: string[]): LlmTool[] {
  const unknown = agentToolNames.filter((n) => !byName.has(n));
  if (unknown.length) throw new Error(`unknown tool(s) ${unknown.join(', ')}; known: ${toolNames().join(', ')}`);
  return agentToolNames.map((name) => {
    const c = byName.get(name)!;
    const { $schema: _drop, ...parameters } = z.toJSONSchema(c.input, { io: 'input' }) as Record<string, unknown>;
    return { name: c.name, description: c.description, parameters };
  });
}
