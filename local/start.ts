// `npm start`: the whole local stack, one simulated booking call, its transcript and latency waterfall; `--keep-up` serves on.
import { parseArgs } from 'node:util';
import type { TurnMeasures } from '../fargate/src/call';
import { placeCall, type CallReport } from './caller/caller';
import { loadScenario, type Scenario } from './scenarios/scenario';
import { checkExpect, startLocalStack, toolCallsSeen, type LocalStack } from './stack';

const { values } = parseArgs({
  options: {
    'keep-up': { type: 'boolean', default: false },
    scenario: { type: 'string', default: 'booking' },
  },
});

const fmt = (v: number | undefined) => (v === undefined ? '    -' : String(Math.round(v)).padStart(5));

/** One line per reply: ms after the caller's last word for each stage, then voice-to-voice. */
export function waterfall(turns: TurnMeasures[]): string {
  const lines = ['reply  speech-end → stt-final  llm-1st-token  first-clause  tts-1st-byte  first-audio-out | v2v (pipeline)'];
  for (const m of turns) {
    const from = m.speechEndAt ?? m.sttFinalAt ?? m.replyStartedAt;
    const at = (t: number | undefined) => fmt(t === undefined ? undefined : t - from);
    const flags = [m.interrupted ? 'interrupted' : '', m.speculative ? 'speculative' : '', m.discarded ? 'discarded' : ''].filter(Boolean).join(' ');
    lines.push(
      `${m.replyId.padEnd(5)}  ${at(m.sttFinalAt)}            ${at(m.llmFirstTokenAt)}          ${at(m.firstClauseAt)}         ${at(m.ttsFirstByteAt)}        ${at(m.firstAudioAt)}     | ${fmt(m.voiceToVoiceMs)}` +
        `${m.tools.length ? `  tools ${m.tools.map((t) => `${t.name} ${Math.round(t.ms)}ms${t.ok ? '' : ' FAILED'}`).join(', ')}` : ''}${flags ? `  ${flags}` : ''}`,
    );
  }
  return lines.join('\n');
}

async function printTranscript(stack: LocalStack, scenario: Scenario, report: CallReport): Promise<void> {
  const items = await stack.transcript(report.callSid);
  console.log('\n── transcript (stored: what each side said; the agent side is what was heard) ──');
  for (const it of items) {
    if (Number(it.turn) === 0) continue;
    const who = it.role === 'user' ? 'caller' : 'agent ';
    console.log(`${who}: ${String(it.text)}${it.interrupted ? '  [interrupted]' : ''}`);
  }
  console.log('\n── what the simulated caller heard, turn by turn ──');
  for (const t of report.turns) console.log(`${t.kind === 'greeting' ? 'greeting' : `after "${t.input ?? ''}"`}: ${t.heard || '(nothing)'}`);
  void scenario;
}

async function main(): Promise<number> {
  const scenario = loadScenario(values.scenario!);
  const keepUp = values['keep-up']!;
  const stack = await startLocalStack({ scenario, fixedPorts: keepUp });
  if (keepUp) {
    console.log(`local stack up${stack.realProviders ? ' (real providers)' : ' (emulated providers)'}:`);
    console.log(`  webhook  POST ${stack.twimlUrl}`);
    console.log(`  media    ${stack.mediaUrl}`);
    console.log(`  tools    ${stack.tools.url}    dynalite ${stack.dynamoEndpoint}`);
    console.log(
      `  place a call: npm run call -- --twiml-url ${stack.twimlUrl} --auth-token ${stack.twilio.authToken} --account-sid ${stack.twilio.accountSid} --scenario ${scenario.name}`,
    );
    console.log(`  (emulators hold the "${scenario.name}" script and LLM rules; restart with --scenario <name> for another)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await stack.close();
    return 0;
  }
  try {
    const report = await placeCall({
      scenario,
      twimlUrl: stack.twimlUrl,
      authToken: stack.twilio.authToken,
      accountSid: stack.twilio.accountSid,
      events: stack.emulators.twilio.events,
    });
    // The handler persists the call after the caller hangs up: wait (bounded) for its summary.
    for (let i = 0; i < 100 && !stack.calls.get(report.callSid)?.summary; i++) await new Promise((r) => setTimeout(r, 50));
    await printTranscript(stack, scenario, report);
    const trace = stack.calls.get(report.callSid);
    console.log('\n── per-turn latency waterfall (ms after the caller\'s last word, media-service clock) ──');
    console.log(waterfall(trace?.turns ?? []));
    if (trace?.summary?.greetingMs !== undefined) console.log(`greeting: first frame ${Math.round(trace.summary.greetingMs)} ms after start`);
    console.log('\n── caller report ──');
    const { formatReport } = await import('./caller/caller');
    console.log(formatReport(report));
    const failures = checkExpect(scenario, report, toolCallsSeen(stack));
    if (failures.length) {
      console.error(`\nscenario ${scenario.name} FAILED:\n  ${failures.join('\n  ')}`);
      return 1;
    }
    console.log(`\nscenario ${scenario.name} passed`);
    return 0;
  } finally {
    await stack.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
