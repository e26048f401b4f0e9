// The local stack's agents: the built-in ones plus the listening variants in this folder (test and bench profiles),
// and the numbers that reach them. Forks add their own agents the same way, through AGENTS_DIR and NUMBER_TO_AGENT.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_NUMBERS, loadAgents, type Agents } from '../../fargate/src/agents';

/** This folder, as the media service's AGENTS_DIR. */
export const LOCAL_AGENTS_DIR = fileURLToPath(new URL('.', import.meta.url));

/** Every local number → agent: the built-in defaults plus the variants' numbers (numbers.json). */
export const LOCAL_NUMBERS: Readonly<Record<string, string>> = Object.freeze({
  ...DEFAULT_NUMBERS,
  ...(JSON.parse(readFileSync(new URL('./numbers.json', import.meta.url), 'utf8')) as Record<string, string>),
});

/** The agents the local stack runs, as the media service loads them. */
export function localAgents(fallback = 'booking'): Agents {
  return loadAgents({ dir: LOCAL_AGENTS_DIR, numbers: { ...LOCAL_NUMBERS }, fallback });
}

/** The local number that reaches `agent`, if any. */
export function localNumberOf(agent: string): string | undefined {
  return Object.entries(LOCAL_NUMBERS).find(([, a]) => a === agent)?.[0];
}
