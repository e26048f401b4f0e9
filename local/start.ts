// `npm start`: the whole local stack, one simulated booking call, its transcript and latency waterfall; `--keep-up` serves on.
import './node-support';
import { parseArgs } from 'node:util';
import { formatWaterfall } from '../fargate/src/observability/waterfall';
import { placeCall, type CallReport } from './caller/caller';
import { networkFor } from './caller/network';
import { loadScenario, type Scenario } from './scenarios/scenario';
import { checkExpect, startLocalStack, toolCallsSeen, type LocalStack } from './stack';

const { values } = parseArgs({
  options: {
    'keep-up': { type: 'boolean', default: false },
    scenario: { type: 'string', default: 'booking' },
    /** The simulated caller's phone network: `pstn` (150 ± 20 ms one way) or `zero`. */
    network: { type: 'string', default: 'pstn' },
  },
});

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
  const network = networkFor(values.network!);
  const keepUp = values['keep-up']!;
  const stack = await startLocalStack({ scenario, fixedPorts: keepUp, console: keepUp });
  if (keepUp) {
    console.log(`local stack up${stack.realProviders ? ' (real providers)' : ' (emulated providers)'}:`);
    console.log(`  webhook  POST ${stack.twimlUrl}`);
    console.log(`  media    ${stack.mediaUrl}`);
    console.log(`  tools    ${stack.tools.url}    dynalite ${stack.dynamoEndpoint}`);
    if (stack.console) console.log(`  console  ${stack.console.pageUrl}  (WebSocket ${stack.console.wsUrl}, @connections ${stack.console.managementEndpoint})`);
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
      network,
    });
    console.log(`(caller network: ${network.oneWayMs} ± ${network.jitterMs} ms one way; --network zero for none)`);
    // The handler persists the call after the caller hangs up: wait (bounded) for its summary.
    for (let i = 0; i < 100 && !stack.calls.get(report.callSid)?.summary; i++) await new Promise((r) => setTimeout(r, 50));
    await printTranscript(stack, scenario, report);
    const trace = stack.calls.get(report.callSid);
    console.log('\n── per-turn latency waterfall (ms after the caller\'s last word, media-service clock) ──');
    console.log(formatWaterfall(trace?.turns ?? []));
    const end = stack.emf.map((l) => JSON.parse(l) as Record<string, any>).find((d) => d.callSid === report.callSid && 'CostPerCall' in d);
    if (end) {
      const c = end.cost as Record<string, number>;
      const usd = (v: number) => `$${v.toFixed(5)}`;
      console.log(`\ncost ${usd(c.total!)} (prices of ${end.cost.pricesAsOf}): telephony ${usd(c.telephony!)} (${c.billedMinutes} min), stt ${usd(c.stt!)}, llm ${usd(c.llm!)}, tts ${usd(c.tts!)}, compute ${usd(c.compute!)}, tools ${usd(c.tools!)}; replies small/large ${end.tiers.small}/${end.tiers.large}`);
    }
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
