// `npm run secrets -- --stage NAME [--file F]`: fill a deployed stage's provider secrets (never echoed), then roll the service.
//
// Why a command and not a run-time read: ECS injects `secrets` into the container environment when a task starts,
// so a value put later reaches only tasks started after it ("if the secret is updated … you must launch a new
// task", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html). The
// media service builds its provider clients once at boot; reading keys per call would add a Secrets Manager round
// trip or a cache to every provider path owned elsewhere. One command that writes and then forces a new
// deployment (a rolling restart: new tasks start, old ones drain and migrate their calls) keeps it simple.
import './node-support';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { BACKUP_SECRETS, type BackupWithSecret } from '../contracts/providers';
import { type AwsClientConfig, clientConfig, requireOutput, stackNames, stackOutputs, runCli, stageFromArg, wantsHelp } from './aws-stage';

export const USAGE = `usage: npm run secrets -- --stage <dev|staging|prod> [--file secrets.json] [--no-roll]
Fills the stage's provider secrets and rolls the media service so new tasks read them.
Without --file it prompts for each value with input hidden; an empty answer keeps that secret as it is.
secrets.json (keep it out of git): {"twilio":{"accountSid":"AC…","authToken":"…"},"deepgram":"…","groq":"…","elevenlabs":"…"}
Backups the stage lists (lib/config.ts providers) have their own: "assemblyai", "fireworks", "together" (API keys) and
"google" (the service-account JSON, as an object or a string).`;

/** The provider secrets, by the Data stack output that holds each ARN. */
export const PROVIDER_SECRETS = { twilio: 'TwilioSecretArn', deepgram: 'DeepgramSecretArn', groq: 'GroqSecretArn', elevenlabs: 'ElevenLabsSecretArn' } as const;
/** Backup providers' secrets: they exist only on stages whose provider order lists them. */
export const BACKUP_PROVIDER_SECRETS = Object.fromEntries(Object.entries(BACKUP_SECRETS).map(([k, b]) => [k, `${b.secret}SecretArn`])) as Record<BackupWithSecret, string>;
export type ProviderSecret = keyof typeof PROVIDER_SECRETS | BackupWithSecret;
/** Every secret the command can fill, by output name. */
const ALL_SECRETS: Record<ProviderSecret, string> = { ...PROVIDER_SECRETS, ...BACKUP_PROVIDER_SECRETS };
export type SecretValues = Partial<Record<ProviderSecret, string>>;

/** Validates the values (names only in messages, never values) and returns the secret strings to put. */
export function secretStrings(input: Record<string, unknown>): SecretValues {
  const out: SecretValues = {};
  for (const key of Object.keys(input)) if (!(key in ALL_SECRETS)) throw new Error(`unknown secret "${key}": expected ${Object.keys(ALL_SECRETS).join(', ')}`);
  const tw = input.twilio as { accountSid?: unknown; authToken?: unknown } | undefined;
  if (tw !== undefined) {
    if (typeof tw.accountSid !== 'string' || !/^AC[0-9a-f]{32}$/.test(tw.accountSid)) throw new Error('twilio.accountSid must be AC followed by 32 hex digits');
    if (typeof tw.authToken !== 'string' || !/^[0-9a-f]{32}$/.test(tw.authToken)) throw new Error('twilio.authToken must be 32 hex digits');
    out.twilio = JSON.stringify({ accountSid: tw.accountSid, authToken: tw.authToken });
  }
  const google = input.google;
  if (google !== undefined && google !== '') {
    const json = typeof google === 'string' ? google : JSON.stringify(google);
    const v = (() => {
      try {
        return JSON.parse(json) as { client_email?: unknown; private_key?: unknown };
      } catch {
        return {};
      }
    })();
    if (typeof v.client_email !== 'string' || typeof v.private_key !== 'string') throw new Error('google must be service-account JSON with client_email and private_key');
    out.google = json;
  }
  for (const key of ['deepgram', 'groq', 'elevenlabs', 'assemblyai', 'fireworks', 'together'] as const) {
    const v = input[key];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string' || !/^\S{16,}$/.test(v)) throw new Error(`${key} must be a single API key of at least 16 characters, no spaces`);
    out[key] = v;
  }
  return out;
}

/** Asks for each value with the terminal echo off. */
async function promptHidden(): Promise<Record<string, unknown>> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stdout.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  const ask = async (q: string) => {
    process.stdout.write(q);
    muted = true;
    const a = (await rl.question('')).trim();
    muted = false;
    process.stdout.write('\n');
    return a;
  };
  try {
    const accountSid = await ask('Twilio account SID (AC…, Enter to skip): ');
    const authToken = accountSid ? await ask('Twilio auth token: ') : '';
    return {
      ...(accountSid ? { twilio: { accountSid, authToken } } : {}),
      deepgram: await ask('Deepgram API key (Enter to skip): '),
      groq: await ask('Groq API key (Enter to skip): '),
      elevenlabs: await ask('ElevenLabs API key (Enter to skip): '),
    };
  } finally {
    rl.close();
  }
}

/** Puts each value into its secret, then (unless `roll` is false) forces a new deployment of the media service. */
export async function fillSecrets(opts: { stage: string; values: SecretValues; roll: boolean; aws?: Partial<AwsClientConfig>; log?: (line: string) => void }): Promise<string[]> {
  const log = opts.log ?? console.log;
  const stage = stageFromArg(opts.stage);
  const cfg = clientConfig(stage, opts.aws);
  const cfn = new CloudFormationClient(cfg);
  const sm = new SecretsManagerClient(cfg);
  const ecs = new ECSClient(cfg);
  const names = stackNames(stage);
  try {
    const data = await stackOutputs(cfn, names.data);
    const written: string[] = [];
    for (const [key, value] of Object.entries(opts.values) as [ProviderSecret, string][]) {
      await sm.send(new PutSecretValueCommand({ SecretId: requireOutput(data, ALL_SECRETS[key], names.data), SecretString: value }));
      written.push(key);
      log(`put ${key}`);
    }
    if (written.length === 0) log('no values given: nothing written');
    if (opts.roll && written.length > 0) {
      const svc = await stackOutputs(cfn, names.service);
      const cluster = requireOutput(svc, 'ClusterName', names.service);
      const service = requireOutput(svc, 'ServiceName', names.service);
      await ecs.send(new UpdateServiceCommand({ cluster, service, forceNewDeployment: true }));
      log(`rolling ${service}: new tasks read the new values; watch with aws ecs wait services-stable --cluster ${cluster} --services ${service}`);
    }
    return written;
  } finally {
    for (const c of [cfn, sm, ecs]) c.destroy();
  }
}

/** Reads the JSON file; a parse error is reported without Node's snippet of the text, which would echo a key. */
function readSecretsFile(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: ${(err as NodeJS.ErrnoException).code ?? 'not valid JSON'}`);
  }
}

async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(USAGE);
    return 0;
  }
  const { values } = parseArgs({ args: argv, options: { stage: { type: 'string' }, file: { type: 'string' }, 'no-roll': { type: 'boolean' } } });
  if (!values.stage) throw new Error(`--stage is required\n${USAGE}`);
  const raw = values.file ? readSecretsFile(values.file) : await promptHidden();
  await fillSecrets({ stage: values.stage, values: secretStrings(raw), roll: !values['no-roll'] });
  return 0;
}

runCli(import.meta.url, 'secrets', main);
