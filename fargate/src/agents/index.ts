// The agents of a task: the built-in agent files plus any in AGENTS_DIR, validated at boot, and the stage's map of
// called numbers to agents.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import booking from './booking.json' with { type: 'json' };
import bookingFlux from './booking-flux.json' with { type: 'json' };
import shipment from './shipment.json' with { type: 'json' };
import { agentFileSchema, agentProfileSchema, type AgentFile, type AgentProfile } from './types';

export type { AgentProfile, SttModel } from './types';

/** The agent files bundled into the image. */
const BUILT_IN: unknown[] = [booking, bookingFlux, shipment];

/**
 * Called number (E.164, the webhook's `To`) → agent, when the stage's NUMBER_TO_AGENT names none: the local stack's
 * numbers. A deployed stage sets its own map in lib/config.ts (`numbers`).
 */
export const DEFAULT_NUMBERS: Readonly<Record<string, string>> = Object.freeze({
  '+15550001000': 'booking',
  '+15550001003': 'booking-flux',
  '+15550002000': 'shipment',
});

/** Said around a move to another task, when the agent names no `holdLine` / `resumeLine`. */
const DEFAULT_LINES = { holdLine: 'One moment, please.', resumeLine: 'Thanks for waiting.' } as const;

/** An agent file that fails its schema, names an unknown `extends`, or repeats a name. */
export class AgentError extends Error {}

/** Validates agent files and resolves `extends`; throws AgentError naming the file and field at fault. */
export function buildAgents(files: { source: string; json: unknown }[]): Map<string, AgentProfile> {
  const parsed = new Map<string, { source: string; file: AgentFile }>();
  for (const { source, json } of files) {
    const r = agentFileSchema.safeParse(json);
    if (!r.success) throw new AgentError(`${source}: ${r.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`);
    if (parsed.has(r.data.name)) throw new AgentError(`${source}: agent "${r.data.name}" is defined twice`);
    parsed.set(r.data.name, { source, file: r.data });
  }
  const out = new Map<string, AgentProfile>();
  const resolve = (name: string, seen: string[]): AgentProfile => {
    const done = out.get(name);
    if (done) return done;
    const entry = parsed.get(name);
    if (!entry) throw new AgentError(`${seen.at(-1) ?? name}: extends unknown agent "${name}"`);
    if (seen.includes(name)) throw new AgentError(`${entry.source}: extends itself through ${seen.join(' → ')}`);
    const { extends: base, ...own } = entry.file;
    const merged = base ? { ...resolve(base, [...seen, name]), ...own } : own;
    const r = agentProfileSchema.safeParse({ ...DEFAULT_LINES, ...merged });
    if (!r.success) throw new AgentError(`${entry.source}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    out.set(name, r.data);
    return r.data;
  };
  for (const name of parsed.keys()) resolve(name, []);
  return out;
}

/** The agent files in `dir` (`*.json`), for {@link buildAgents}. */
export function agentFilesIn(dir: string): { source: string; json: unknown }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && f !== 'numbers.json')
    .sort()
    .map((f) => {
      const source = join(dir, f);
      try {
        return { source, json: JSON.parse(readFileSync(source, 'utf8')) as unknown };
      } catch (err) {
        throw new AgentError(`${source}: not JSON (${(err as Error).message})`);
      }
    });
}

/** Every agent a task can run, and which number reaches which. */
export class Agents {
  constructor(
    private readonly byName: ReadonlyMap<string, AgentProfile>,
    private readonly numbers: Readonly<Record<string, string>>,
    private readonly fallback: string,
  ) {
    if (!byName.has(fallback)) throw new AgentError(`DEFAULT_AGENT "${fallback}" is not an agent (known: ${[...byName.keys()].join(', ')})`);
    for (const [number, name] of Object.entries(numbers)) {
      if (!byName.has(name)) throw new AgentError(`NUMBER_TO_AGENT: ${number} → unknown agent "${name}"`);
    }
  }

  /** The profile named `name` (the `agent` <Parameter>); unknown names get the default agent. */
  resolve(name: string | undefined): AgentProfile {
    return this.byName.get(name ?? '') ?? this.byName.get(this.fallback)!;
  }

  /** The agent for a called number; unknown numbers get the default agent. */
  forNumber(calledNumber: string): string {
    return this.numbers[calledNumber.trim()] ?? this.fallback;
  }

  all(): AgentProfile[] {
    return [...this.byName.values()];
  }
}

/** The task's agents: built-ins plus `dir`'s files, the number map (or {@link DEFAULT_NUMBERS}), the default agent. */
export function loadAgents(opts: { dir?: string; numbers?: Record<string, string>; fallback: string }): Agents {
  const files = [...BUILT_IN.map((json, i) => ({ source: `built-in agent #${i + 1}`, json })), ...(opts.dir ? agentFilesIn(opts.dir) : [])];
  return new Agents(buildAgents(files), opts.numbers ?? DEFAULT_NUMBERS, opts.fallback);
}

/** True when a Nova-3 profile speculates: its recogniser uses the eager endpointing and its detector holds the turn. */
export function novaSpeculates(profile: AgentProfile): boolean {
  return profile.stt === 'nova-3' && profile.speculate !== false;
}

/** The system prompt for a profile at call start: `{today}` filled, caller memory appended. */
export function systemPrompt(profile: AgentProfile, today: string, memoryLine: string): string {
  const base = profile.systemPrompt.replaceAll('{today}', today);
  return memoryLine ? `${base}\n${memoryLine}` : base;
}
