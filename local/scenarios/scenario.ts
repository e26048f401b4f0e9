// Scenario files (CONTRACTS.md "Scenario files"): the zod schema, the loader, the STT script and the caller's audio.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Folder holding `<name>.json` scenarios. */
export const SCENARIO_DIR = dirname(fileURLToPath(import.meta.url));
/** Folder holding `<say id>.ulaw` (8 kHz mono μ-law, raw) made by generate-audio.sh. */
export const AUDIO_DIR = join(SCENARIO_DIR, 'audio');

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be E.164, e.g. +15551230001');
const regex = z.string().refine((s) => {
  try {
    new RegExp(s, 'i');
    return true;
  } catch {
    return false;
  }
}, 'must be a valid regular expression');

/** Caller speaks the recorded utterance `audio/<say>.ulaw`; `text` is what it says (the STT emulator's script line). */
export const sayStep = z.strictObject({
  say: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'say id must be kebab-case (it names audio/<id>.ulaw)'),
  text: z.string().min(1),
  /** Start speaking this many ms after the agent starts talking (barge-in), instead of at once. */
  bargeInAfterMs: z.number().int().nonnegative().optional(),
});
/** Wait until the agent has spoken and gone quiet (≥ 700 ms without agent audio). */
export const waitStep = z.strictObject({ waitForAgent: z.literal(true) });
/** Silence (ms), still streaming silent frames like a phone line. */
export const pauseStep = z.strictObject({ pause: z.number().int().positive() });
/** Keypad digits, one Twilio `dtmf` message per key. */
export const dtmfStep = z.strictObject({ dtmf: z.string().regex(/^[0-9*#]+$/, 'dtmf must be keypad keys 0-9 * #') });
/** The caller hangs up: `stop`, then close. */
export const hangupStep = z.strictObject({ hangup: z.literal(true) });

export const stepSchema = z.union([sayStep, waitStep, pauseStep, dtmfStep, hangupStep]);

/** A tool call the LLM emulator makes; argument names must match contracts/tools/<tool>.ts. */
export const toolCallSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'tool names are snake_case'),
  /** An object (sent as JSON) or a raw JSON string (to test malformed arguments). */
  arguments: z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
  id: z.string().optional(),
});

/**
 * The LLM emulator's reply: text, a tool call, several tool calls, or text then tool calls (the shapes
 * local/emulators/rules.ts streams).
 */
export const replySchema = z
  .strictObject({
    text: z.string().optional(),
    toolCall: toolCallSchema.optional(),
    toolCalls: z.array(toolCallSchema).optional(),
  })
  .refine((r) => r.text !== undefined || r.toolCall !== undefined || (r.toolCalls?.length ?? 0) > 0, 'reply needs "text" or "toolCall"');

/** Rule conditions: all optional, all must match, each a case-insensitive regex. */
export const whenSchema = z.strictObject({
  lastUser: regex.optional(),
  lastTool: regex.optional(),
  lastToolResult: regex.optional(),
  system: regex.optional(),
});

export const llmRuleSchema = z.strictObject({ when: whenSchema, reply: replySchema });

/**
 * Emulator settings a scenario runs with, over the stack's base knobs (a test can still `setKnobs` afterwards):
 * the STT's interim cadence (s of audio between interim Results; Deepgram's ~1 s by default) and its
 * SpeechStarted/StartOfTurn delay (ms).
 */
export const emulatorSettingsSchema = z.strictObject({
  deepgram: z
    .strictObject({
      interimEverySec: z.number().positive().max(10).optional(),
      speechStartedMs: z.number().nonnegative().max(5000).optional(),
    })
    .optional(),
});

export const scenarioSchema = z.strictObject({
  name: z.string().min(1),
  /** Agent profile the call is routed to. */
  agent: z.string().min(1),
  from: e164,
  to: e164,
  steps: z.array(stepSchema).min(1),
  /** First match wins. */
  llm: z.array(llmRuleSchema),
  emulators: emulatorSettingsSchema.optional(),
  expect: z
    .strictObject({
      /** Tool names the run must have called, in this order (others may come between). */
      toolCalls: z.array(z.string()).optional(),
      /** Phrases (lower case) the caller must have heard in the agent audio it played. */
      heard: z.array(z.string()).optional(),
      /** Whether the call must end transferred to a human. */
      transfer: z.boolean().optional(),
    })
    .default({}),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioStep = z.output<typeof stepSchema>;
export type SayStep = z.output<typeof sayStep>;
export type LlmRuleSpec = z.output<typeof llmRuleSchema>;

/** Parses and validates a scenario object; the error names the source and every bad field. */
export function parseScenario(raw: unknown, source = 'scenario'): Scenario {
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${source} is not a valid scenario: ${issues}`);
  }
  return parsed.data;
}

/** Path of a scenario: a bare name means local/scenarios/<name>.json, anything with a slash or `.json` is a path. */
export function scenarioPath(nameOrPath: string): string {
  return /[\\/]|\.json$/i.test(nameOrPath) ? resolve(nameOrPath) : join(SCENARIO_DIR, `${nameOrPath}.json`);
}

/** Loads and validates `local/scenarios/<name>.json`, or a scenario file at a path. */
export function loadScenario(nameOrPath: string): Scenario {
  const path = scenarioPath(nameOrPath);
  if (!existsSync(path)) {
    throw new Error(`no scenario "${nameOrPath}" (looked for ${path}); available: ${listScenarios().join(', ')}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseScenario(raw, path);
}

/** Names of the scenarios shipped in local/scenarios. */
export function listScenarios(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** The say steps, in order. */
export function sayStepsOf(scenario: Scenario): SayStep[] {
  return scenario.steps.filter((s): s is SayStep => 'say' in s);
}

/** The STT emulator's script: the `text` of the say steps, in order (one line per speech burst). */
export function scriptOf(scenario: Scenario): string[] {
  return sayStepsOf(scenario).map((s) => s.text);
}

/** Reads `audio/<id>.ulaw` (raw 8 kHz mono μ-law). */
export function loadSayAudio(id: string, dir = AUDIO_DIR): Uint8Array {
  const path = join(dir, `${id}.ulaw`);
  if (!existsSync(path)) throw new Error(`missing scenario audio ${path}; run local/scenarios/generate-audio.sh`);
  return new Uint8Array(readFileSync(path));
}

/** Audio of every say step of a scenario, keyed by say id; throws naming the first missing file. */
export function loadScenarioAudio(scenario: Scenario, dir = AUDIO_DIR): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const step of sayStepsOf(scenario)) if (!out.has(step.say)) out.set(step.say, loadSayAudio(step.say, dir));
  return out;
}
