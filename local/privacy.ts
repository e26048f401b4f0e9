// `npm run privacy -- forget|export --phone +1…`: data subject requests against local dynalite/Redis or AWS.
import './node-support';
import { openDataSubjectDeps, parseDataSubjectRequest, runDataSubjectRequest } from '../fargate/src/privacy/data-subject';

const USAGE = `usage: npm run privacy -- <forget|export> --phone <E.164 number>
env: TRANSCRIPTS_TABLE, CALLER_HASH_KEY (or CALLER_HASH_KEY_SECRET_ARN), REDIS_URL (or REDIS_HOST/PORT/TLS),
     DYNAMODB_ENDPOINT (local dynalite; omit for AWS), AWS_REGION`;

/** Parses `<action> --phone <number>` (also `--phone=<number>`). */
function parseArgs(argv: string[]): { action: string; phone: string } {
  let action = '';
  let phone = '';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--phone') phone = argv[++i] ?? '';
    else if (a.startsWith('--phone=')) phone = a.slice('--phone='.length);
    else if (!a.startsWith('-') && !action) action = a;
  }
  return { action, phone };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const args = parseArgs(argv);
  if (!args.action || !args.phone) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const request = parseDataSubjectRequest(args); // bad input fails before any connection is opened
  const deps = await openDataSubjectDeps(process.env);
  try {
    const result = await runDataSubjectRequest(deps, request);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } finally {
    await deps.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`privacy: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
