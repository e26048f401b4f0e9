// Starts all four provider emulators together for the local stack and tests, optionally loaded with a scenario.
import type { Scenario } from '../scenarios/scenario';
import { scriptOf } from '../scenarios/scenario';
import { startDeepgramEmulator, type DeepgramEmulator, type DeepgramKnobs } from './deepgram';
import { startElevenLabsEmulator, type ElevenLabsEmulator, type ElevenLabsKnobs } from './elevenlabs';
import { startLlmEmulator, type LlmEmulator, type LlmKnobs } from './llm';
import { validateRules, type LlmRule } from './rules';
import { startTwilioEmulator, type TwilioEmulator, type TwilioKnobs } from './twilio';

export * from './deepgram';
export * from './elevenlabs';
export * from './knobs';
export * from './llm';
export * from './rules';
export * from './twilio';

/** Default ports (CONTRACTS.md): Deepgram 4101, Groq/OpenAI 4102, ElevenLabs 4103, Twilio REST 4104. */
export const DEFAULT_PORTS = { deepgram: 4101, llm: 4102, elevenlabs: 4103, twilio: 4104 } as const;

/** Local Twilio credentials the emulator accepts unless told otherwise (the SID matches the media service's AC+32 hex check). */
export const LOCAL_TWILIO = { accountSid: 'AC00000000000000000000000000000000', authToken: 'local-auth-token' } as const;

/** Options of startEmulators. */
export interface EmulatorsOptions {
  /** Ports per emulator. @default 0 for each (ephemeral); pass DEFAULT_PORTS for the well-known ones. */
  ports?: Partial<Record<keyof typeof DEFAULT_PORTS, number>>;
  /** Loads the Deepgram script (the say steps' text), the LLM rules and the scenario's `emulators` settings (over `knobs`). */
  scenario?: Scenario;
  /** Overrides the scenario's script. */
  script?: string[];
  /** Overrides the scenario's LLM rules. */
  rules?: LlmRule[];
  knobs?: { deepgram?: DeepgramKnobs; llm?: LlmKnobs; elevenlabs?: ElevenLabsKnobs; twilio?: TwilioKnobs };
  /** @default LOCAL_TWILIO */
  twilio?: { accountSid: string; authToken: string };
  /** When set, the ElevenLabs emulator accepts only this key. */
  elevenLabsApiKey?: string;
  /** Deepgram script cursor (DeepgramEmulatorOptions.scriptCursor). @default 'connection' */
  scriptCursor?: 'connection' | 'emulator';
}

/** The four running emulators. */
export interface Emulators {
  deepgram: DeepgramEmulator;
  llm: LlmEmulator;
  elevenlabs: ElevenLabsEmulator;
  twilio: TwilioEmulator;
  /** Loads another scenario's script and rules into the running emulators. */
  setScenario(scenario: Scenario): void;
  close(): Promise<void>;
}

/** Starts Deepgram, LLM, ElevenLabs and Twilio emulators on loopback; if one fails to start, the others are closed. */
export async function startEmulators(opts: EmulatorsOptions = {}): Promise<Emulators> {
  const ports = opts.ports ?? {};
  const script = opts.script ?? (opts.scenario ? scriptOf(opts.scenario) : []);
  const rules = validateRules(opts.rules ?? (opts.scenario?.llm as LlmRule[] | undefined) ?? []);
  const started: { close(): Promise<void> }[] = [];
  const track = async <T extends { close(): Promise<void> }>(p: Promise<T>): Promise<T> => {
    const e = await p;
    started.push(e);
    return e;
  };
  try {
    const deepgram = await track(startDeepgramEmulator({ port: ports.deepgram ?? 0, script, scriptCursor: opts.scriptCursor, knobs: { ...opts.knobs?.deepgram, ...opts.scenario?.emulators?.deepgram } }));
    const llm = await track(startLlmEmulator({ port: ports.llm ?? 0, rules, knobs: opts.knobs?.llm }));
    const elevenlabs = await track(startElevenLabsEmulator({ port: ports.elevenlabs ?? 0, knobs: opts.knobs?.elevenlabs, apiKey: opts.elevenLabsApiKey }));
    const twilio = await track(startTwilioEmulator({ port: ports.twilio ?? 0, ...(opts.twilio ?? LOCAL_TWILIO), knobs: opts.knobs?.twilio }));
    return {
      deepgram,
      llm,
      elevenlabs,
      twilio,
      setScenario(scenario) {
        deepgram.setScript(scriptOf(scenario));
        if (scenario.emulators?.deepgram) deepgram.setKnobs(scenario.emulators.deepgram);
        llm.setRules(validateRules(scenario.llm));
      },
      async close() {
        await Promise.all(started.map((e) => e.close()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((e) => e.close()));
    throw err;
  }
}

/**
 * Media-service environment pointing every provider at these emulators (names from fargate/src/config.ts), with
 * placeholder keys the emulators accept.
 */
export function emulatorEnv(e: Emulators, twilioCreds: { accountSid: string; authToken: string } = LOCAL_TWILIO): Record<string, string> {
  return {
    DEEPGRAM_URL: `ws://127.0.0.1:${e.deepgram.port}`,
    DEEPGRAM_API_KEY: 'local-deepgram-key',
    LLM_PROVIDER: 'groq',
    GROQ_BASE_URL: e.llm.url,
    GROQ_API_KEY: 'gsk_local',
    ELEVENLABS_URL: `ws://127.0.0.1:${e.elevenlabs.port}`,
    ELEVENLABS_API_KEY: 'local-elevenlabs-key',
    TWILIO_API_URL: e.twilio.url,
    TWILIO_ACCOUNT_SID: twilioCreds.accountSid,
    TWILIO_AUTH_TOKEN: twilioCreds.authToken,
  };
}
