// `npm run call`: one simulated Twilio call into any Media Streams server (local or deployed), printed as a table or JSON.
import '../node-support';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { placeCall } from './caller';
import { networkFor } from './network';
import { formatReport, reportJson } from './report';

const USAGE = `usage: npm run call -- --scenario <name|path> (--url <ws(s)://…/media> | --twiml-url <http(s)://…/twiml>)
       [--auth-token T] [--account-sid AC…] [--param k=v ...] [--from +1…] [--to +1…] [--json] [--save-audio file.ulaw]

  --twiml-url   POST the signed incoming-call webhook there and dial the <Connect><Stream> it returns
  --url         dial this Media Streams URL directly (custom parameters: agent, caller, plus --param)
  --param k=v   direct dial: start.customParameters; with --twiml-url: extra webhook form params
  --auth-token  signs the webhook and the upgrade (default: $TWILIO_AUTH_TOKEN)
  --account-sid default: $TWILIO_ACCOUNT_SID, else random
  --save-audio  write the agent audio the caller heard (raw 8 kHz μ-law) to a file
  --network     zero (default: the real network is in the way already) or pstn (adds 150 ± 20 ms each way)
Exit code 0 when every turn passed, 1 when a turn failed, 2 on a setup error.`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        url: { type: 'string' },
        'twiml-url': { type: 'string' },
        scenario: { type: 'string' },
        'auth-token': { type: 'string' },
        'account-sid': { type: 'string' },
        param: { type: 'string', multiple: true },
        from: { type: 'string' },
        to: { type: 'string' },
        json: { type: 'boolean', default: false },
        'save-audio': { type: 'string' },
        network: { type: 'string', default: 'zero' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (!args.scenario || (!args.url && !args['twiml-url'])) {
    console.error(USAGE);
    return 2;
  }
  const parameters: Record<string, string> = {};
  for (const p of args.param ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) {
      console.error(`--param must be k=v (got "${p}")`);
      return 2;
    }
    parameters[p.slice(0, eq)] = p.slice(eq + 1);
  }
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const accountSid = args['account-sid'] ?? process.env.TWILIO_ACCOUNT_SID;
  const authToken = args['auth-token'] ?? process.env.TWILIO_AUTH_TOKEN;
  const report = await placeCall({
    scenario: args.scenario,
    ...(args.url ? { url: args.url } : {}),
    ...(args['twiml-url'] ? { twimlUrl: args['twiml-url'] } : {}),
    ...(authToken ? { authToken } : {}),
    ...(accountSid ? { accountSid } : {}),
    ...(args.from ? { from: args.from } : {}),
    ...(args.to ? { to: args.to } : {}),
    parameters,
    network: networkFor(args.network!),
    signal: abort.signal,
  });
  if (args['save-audio']) {
    writeFileSync(args['save-audio'], Buffer.concat(report.turns.map((t) => t.audio)));
  }
  console.log(args.json ? JSON.stringify(reportJson(report), null, 2) : formatReport(report));
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`call failed: ${(err as Error).message}`);
    process.exit(2);
  },
);
