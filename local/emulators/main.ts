// `npm run emulators`: starts the four provider emulators on their default ports, loads a scenario, prints URLs and env.
import '../node-support';
import { parseArgs } from 'node:util';
import { loadScenario, type Scenario } from '../scenarios/scenario';
import { DEFAULT_PORTS, emulatorEnv, LOCAL_TWILIO, startEmulators, type EmulatorsOptions } from './index';

const USAGE = `usage: npm run emulators -- [--scenario <name|path>] [--deepgram-port N] [--llm-port N] [--elevenlabs-port N]
                         [--twilio-port N] [--knobs '<json>']
  ports default to ${Object.values(DEFAULT_PORTS).join(', ')} (env EMULATOR_DEEPGRAM_PORT, EMULATOR_LLM_PORT,
  EMULATOR_ELEVENLABS_PORT, EMULATOR_TWILIO_PORT); --knobs takes {"deepgram":{...},"llm":{...},"elevenlabs":{...},"twilio":{...}}
  (e.g. '{"deepgram":{"finalMs":{"p50":200,"p95":400}},"llm":{"ttftMs":300}}'). Twilio credentials: env TWILIO_ACCOUNT_SID /
  TWILIO_AUTH_TOKEN, else ${LOCAL_TWILIO.accountSid} / ${LOCAL_TWILIO.authToken}.`;

function port(flag: string | undefined, env: string | undefined, dflt: number, name: string): number {
  const raw = flag ?? env;
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number (got ${raw})`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      'deepgram-port': { type: 'string' },
      'llm-port': { type: 'string' },
      'elevenlabs-port': { type: 'string' },
      'twilio-port': { type: 'string' },
      knobs: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const env = process.env;
  let scenario: Scenario | undefined;
  if (values.scenario) {
    try {
      scenario = loadScenario(values.scenario);
    } catch (err) {
      // loadScenario's message names the path it looked for and the scenarios that exist.
      throw new Error(`cannot load scenario "${values.scenario}": ${(err as Error).message}`);
    }
  }
  let knobs: EmulatorsOptions['knobs'];
  if (values.knobs) {
    try {
      knobs = JSON.parse(values.knobs);
    } catch (err) {
      throw new Error(`--knobs must be JSON: ${(err as Error).message}`);
    }
  }
  const twilio = { accountSid: env.TWILIO_ACCOUNT_SID ?? LOCAL_TWILIO.accountSid, authToken: env.TWILIO_AUTH_TOKEN ?? LOCAL_TWILIO.authToken };
  const emulators = await startEmulators({
    ports: {
      deepgram: port(values['deepgram-port'], env.EMULATOR_DEEPGRAM_PORT, DEFAULT_PORTS.deepgram, 'deepgram port'),
      llm: port(values['llm-port'], env.EMULATOR_LLM_PORT, DEFAULT_PORTS.llm, 'llm port'),
      elevenlabs: port(values['elevenlabs-port'], env.EMULATOR_ELEVENLABS_PORT, DEFAULT_PORTS.elevenlabs, 'elevenlabs port'),
      twilio: port(values['twilio-port'], env.EMULATOR_TWILIO_PORT, DEFAULT_PORTS.twilio, 'twilio port'),
    },
    scenario,
    knobs,
    twilio,
  });
  const { deepgram, llm, elevenlabs, twilio: tw } = emulators;
  console.log(`Deepgram    ws://127.0.0.1:${deepgram.port}  (/v1/listen, /v2/listen)`);
  console.log(`Groq/OpenAI ${llm.url}  (/openai/v1/chat/completions, /v1/chat/completions)`);
  console.log(`ElevenLabs  ws://127.0.0.1:${elevenlabs.port}  (/v1/text-to-speech/{voice}/stream-input, /multi-stream-input, POST .../stream)`);
  console.log(`Twilio REST ${tw.url}  (/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json)`);
  console.log(scenario ? `scenario "${scenario.name}": ${scenario.steps.filter((s) => 'say' in s).length} script lines, ${scenario.llm.length} LLM rules` : 'no scenario loaded (--scenario <name>): empty script, fallback LLM reply');
  console.log('\nmedia-service environment:');
  for (const [k, v] of Object.entries(emulatorEnv(emulators, twilio))) console.log(`${k}=${v}`);
  const stop = () => {
    void emulators.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: Error) => {
  console.error(err.message);
  console.error(USAGE);
  process.exit(1);
});
