// `npm run preflight -- --stage NAME [--number +1…] [--before-deploy]`: what synth cannot check, with AWS SDK v3.
import './node-support';
import { spawnSync } from 'node:child_process';
import { arch } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { provisionedConcurrencyFor, type StageConfig } from '../lib/config';
import { discoverTools } from '../lib/constructs/tools-api';
import { type AwsClientConfig, clientConfig, stackNames, stackOutputs, runCli, stageFromArg, wantsHelp } from './aws-stage';
import { BACKUP_PROVIDER_SECRETS, PROVIDER_SECRETS } from './secrets';

export const USAGE = `usage: npm run preflight -- --stage <dev|staging|prod> [--number +1NPANXXXXXX] [--before-deploy]
Checks with your AWS credentials what synth cannot: the account and region, the certificate, Lambda concurrency,
Docker (with arm64 builds when the stage needs them); once deployed also the secrets, the alarm subscription,
Redis failover and (with --number) that the Twilio number's voice webhook points at this stage.
Each failure says how to fix it. Exit 0 when every check passes, 1 otherwise.`;

/** One check's outcome. */
export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** How to fix it (failures only). */
  readonly fix?: string;
}

const pass = (name: string, detail: string): CheckResult => ({ name, ok: true, detail });
const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, ok: false, detail, fix });
const errText = (err: unknown) => `${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`;

/** Credentials resolve, and to the stage's account. */
export async function checkCredentials(sts: STSClient, stage: StageConfig): Promise<CheckResult> {
  const name = 'credentials';
  try {
    const id = await sts.send(new GetCallerIdentityCommand({}));
    if (id.Account !== stage.account) return fail(name, `credentials are for account ${id.Account}, stage ${stage.name} is ${stage.account}`, `use credentials for ${stage.account}, or set stages.${stage.name}.account in lib/config.ts`);
    return pass(name, `account ${id.Account} (${id.Arn}), region ${stage.region}`);
  } catch (err) {
    return fail(name, `no usable AWS credentials (${errText(err)})`, 'configure credentials: aws configure sso (or export AWS_PROFILE=…), then aws sts get-caller-identity');
  }
}

/** The certificate is ISSUED in the stage's region (Twilio needs wss://, so a stage without one takes no real calls). */
export async function checkCertificate(acm: ACMClient, stage: StageConfig): Promise<CheckResult> {
  const name = 'certificate';
  if (!stage.certificateArn) return fail(name, `stage ${stage.name} has no certificate: the ALB is plain HTTP and Twilio Media Streams require wss://`, `aws acm request-certificate --domain-name <host> --validation-method DNS --region ${stage.region}, then set domainName and certificateArn`);
  try {
    const { Certificate: c } = await acm.send(new DescribeCertificateCommand({ CertificateArn: stage.certificateArn }));
    if (c?.Status !== 'ISSUED') return fail(name, `certificate is ${c?.Status ?? 'unknown'}`, 'finish DNS validation: add the CNAME shown by aws acm describe-certificate (ResourceRecord), then wait for ISSUED');
    if (stage.domainName && !(c.SubjectAlternativeNames ?? [c.DomainName]).some((n) => n === stage.domainName || (n?.startsWith('*.') && stage.domainName!.endsWith(n.slice(1))))) {
      return fail(name, `certificate does not cover ${stage.domainName}`, 'request a certificate for that exact host name');
    }
    return pass(name, `ISSUED for ${c.DomainName} in ${stage.region}`);
  } catch (err) {
    return fail(name, `cannot read ${stage.certificateArn} (${errText(err)})`, `the ARN must be an ACM certificate in ${stage.region} of account ${stage.account}`);
  }
}

/** Total provisioned concurrency the stage asks for (every tool plus the Vapi handler). */
export function provisionedTotal(stage: StageConfig, toolNames: readonly string[]): number {
  return [...toolNames, 'vapi'].reduce((sum, n) => sum + provisionedConcurrencyFor(stage, n), 0);
}

/**
 * Lambda's unreserved concurrency covers the stage's provisioned concurrency plus 100: Lambda refuses an allocation
 * that would leave less than 100 unreserved ("Lambda requires at least 100 … unreserved",
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html). New accounts start far lower than 1000.
 */
export async function checkLambdaConcurrency(lambda: LambdaClient, stage: StageConfig, toolNames: readonly string[]): Promise<CheckResult> {
  const name = 'lambda concurrency';
  const need = provisionedTotal(stage, toolNames) + 100;
  try {
    const s = await lambda.send(new GetAccountSettingsCommand({}));
    const unreserved = s.AccountLimit?.UnreservedConcurrentExecutions ?? 0;
    if (unreserved < need) return fail(name, `unreserved concurrency ${unreserved} < ${need} (provisioned ${need - 100} + 100)`, `ask for more in Service Quotas (Lambda "Concurrent executions", region ${stage.region}) or lower stages.${stage.name}.provisionedConcurrency`);
    return pass(name, `unreserved ${unreserved} ≥ ${need}`);
  } catch (err) {
    return fail(name, `cannot read Lambda account settings (${errText(err)})`, 'the credentials need lambda:GetAccountSettings');
  }
}

/** Runs a command and returns its output (injected in tests). */
export type RunCommand = (cmd: string, args: string[]) => { status: number | null; stdout: string };
const run: RunCommand = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout ?? '' };
};

/** Docker answers, and can build the stage's architecture (arm64 on an x86_64 machine needs buildx + QEMU). */
export function checkDocker(stage: StageConfig, runCommand: RunCommand = run, hostArch: string = arch()): CheckResult {
  const name = 'docker';
  const v = runCommand('docker', ['version', '--format', '{{.Server.Version}}']);
  if (v.status !== 0) return fail(name, 'docker does not answer', 'install Docker and start its daemon (cdk deploy builds the media image locally)');
  const want = stage.cpuArchitecture === 'arm64' ? 'linux/arm64' : 'linux/amd64';
  const native = (hostArch === 'arm64') === (stage.cpuArchitecture === 'arm64');
  if (native) return pass(name, `server ${v.stdout.trim()}, builds ${want} natively`);
  const ls = runCommand('docker', ['buildx', 'ls']);
  if (ls.status === 0 && ls.stdout.includes(want)) return pass(name, `server ${v.stdout.trim()}, buildx lists ${want}`);
  return fail(name, `this ${hostArch} machine cannot build ${want} images`, `docker run --privileged --rm tonistiigi/binfmt --install ${stage.cpuArchitecture === 'arm64' ? 'arm64' : 'amd64'} (QEMU for buildx), or deploy with -c arch=${hostArch === 'arm64' ? 'arm64' : 'x86_64'}`);
}

/** The provider secrets hold real values (a put added a version after the generated one; Twilio's SID is not the template). */
export async function checkSecrets(sm: SecretsManagerClient, data: Record<string, string>): Promise<CheckResult> {
  const name = 'secrets';
  const unfilled: string[] = [];
  // The backups' secrets exist only where the stage lists them: check the ones the Data stack has.
  const backups = Object.entries(BACKUP_PROVIDER_SECRETS).filter(([, output]) => data[output]);
  for (const [key, output] of [...Object.entries(PROVIDER_SECRETS), ...backups]) {
    const arn = data[output];
    if (!arn) return fail(name, `Data stack has no ${output}`, 'redeploy with this version');
    const d = await sm.send(new DescribeSecretCommand({ SecretId: arn }));
    let filled = Object.keys(d.VersionIdsToStages ?? {}).length > 1;
    if ((key === 'twilio' || key === 'google') && filled) {
      const v = await sm.send(new GetSecretValueCommand({ SecretId: arn }));
      filled = !/"accountSid"\s*:\s*"AC0{32}"|set-me@example\.invalid/.test(v.SecretString ?? '');
    }
    if (!filled) unfilled.push(key);
  }
  if (unfilled.length > 0) return fail(name, `still the generated placeholder: ${unfilled.join(', ')}`, 'npm run secrets -- --stage <name> (fills them and rolls the service)');
  return pass(name, 'every provider secret has been filled');
}

/** The alarm e-mail subscription is confirmed (alarms reach nobody until the recipient clicks the link). */
export async function checkAlarmSubscription(sns: SNSClient, stage: StageConfig, topicArn: string | undefined): Promise<CheckResult> {
  const name = 'alarm subscription';
  if (!stage.alarmEmail) return fail(name, `stage ${stage.name} has no alarmEmail: alarms notify nobody`, `set stages.${stage.name}.alarmEmail (or subscribe something to the AlarmTopicArn output)`);
  if (!topicArn) return fail(name, 'Service stack has no AlarmTopicArn output', 'deploy the Service stack');
  const { Subscriptions: subs = [] } = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }));
  const mine = subs.filter((s) => s.Endpoint === stage.alarmEmail);
  if (mine.length === 0) return fail(name, `${stage.alarmEmail} is not subscribed`, 'redeploy the Service stack');
  if (mine.every((s) => s.SubscriptionArn === 'PendingConfirmation')) return fail(name, `${stage.alarmEmail} has not confirmed`, 'click "Confirm subscription" in the AWS Notification e-mail (or redeploy to resend it)');
  return pass(name, `${stage.alarmEmail} confirmed`);
}

/** The Redis replication group is available with automatic failover and Multi-AZ. */
export async function checkRedis(ec: ElastiCacheClient, groupId: string | undefined): Promise<CheckResult> {
  const name = 'redis';
  if (!groupId) return fail(name, 'Data stack has no RedisReplicationGroupId output', 'redeploy with this version');
  const { ReplicationGroups: [g] = [] } = await ec.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: groupId }));
  if (!g) return fail(name, `replication group ${groupId} not found`, 'deploy the Data stack');
  const problems = [
    g.Status !== 'available' && `status ${g.Status}`,
    g.AutomaticFailover !== 'enabled' && `automatic failover ${g.AutomaticFailover}`,
    g.MultiAZ !== 'enabled' && `Multi-AZ ${g.MultiAZ}`,
  ].filter(Boolean);
  if (problems.length > 0) return fail(name, `${groupId}: ${problems.join(', ')}`, 'wait for the group to become available; failover settings come from the Data stack (redeploy it)');
  return pass(name, `${groupId} available, automatic failover and Multi-AZ enabled`);
}

/** The Twilio number's voice webhook is this stage's (Twilio REST: IncomingPhoneNumbers, voice_url / voice_method). */
export async function checkTwilioNumber(opts: { number: string; webhook: string; accountSid: string; authToken: string; apiBase?: string; fetch?: typeof fetch }): Promise<CheckResult> {
  const name = 'twilio number';
  const base = opts.apiBase ?? 'https://api.twilio.com';
  const url = `${base}/2010-04-01/Accounts/${opts.accountSid}/IncomingPhoneNumbers.json?PhoneNumber=${encodeURIComponent(opts.number)}`;
  const res = await (opts.fetch ?? fetch)(url, { headers: { Authorization: `Basic ${Buffer.from(`${opts.accountSid}:${opts.authToken}`).toString('base64')}` } });
  if (!res.ok) return fail(name, `Twilio answered ${res.status}`, 'check the Twilio secret (npm run secrets) and that the number belongs to that account');
  const body = (await res.json()) as { incoming_phone_numbers?: { voice_url?: string; voice_method?: string }[] };
  const n = body.incoming_phone_numbers?.[0];
  if (!n) return fail(name, `${opts.number} is not a number of account ${opts.accountSid}`, 'buy or port the number into this Twilio account');
  if (n.voice_url !== opts.webhook || (n.voice_method ?? 'POST').toUpperCase() !== 'POST') {
    return fail(name, `voice webhook is ${n.voice_method ?? ''} ${n.voice_url ?? '(none)'}`, `set it to POST ${opts.webhook} (Console → Phone Numbers → Voice configuration, or twilio api:core:incoming-phone-numbers:update)`);
  }
  return pass(name, `${opts.number} → POST ${opts.webhook}`);
}

/** Everything preflight needs to reach; endpoints/credentials only in tests. */
export interface PreflightOptions {
  stage: string;
  number?: string;
  beforeDeploy?: boolean;
  aws?: Partial<AwsClientConfig>;
  twilioApiBase?: string;
  runCommand?: RunCommand;
  hostArch?: string;
}

/** Runs every check in order and returns the results (never throws for a failing check). */
export async function runPreflight(o: PreflightOptions): Promise<CheckResult[]> {
  const stage = stageFromArg(o.stage);
  const cfg = clientConfig(stage, o.aws);
  const clients = { sts: new STSClient(cfg), acm: new ACMClient(cfg), lambda: new LambdaClient(cfg), cfn: new CloudFormationClient(cfg), sm: new SecretsManagerClient(cfg), sns: new SNSClient(cfg), ec: new ElastiCacheClient(cfg) };
  const toolNames = discoverTools(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lambdas', 'tools')).map((t) => t.name);
  try {
    const results = [await checkCredentials(clients.sts, stage), await checkCertificate(clients.acm, stage), await checkLambdaConcurrency(clients.lambda, stage, toolNames), checkDocker(stage, o.runCommand, o.hostArch)];
    if (o.beforeDeploy) return results;
    const names = stackNames(stage);
    let data: Record<string, string>;
    let service: Record<string, string>;
    try {
      [data, service] = [await stackOutputs(clients.cfn, names.data), await stackOutputs(clients.cfn, names.service)];
    } catch (err) {
      return [...results, fail('deployed stacks', errText(err), `npx cdk deploy --all -c stage=${stage.name}, then run preflight again (or pass --before-deploy)`)];
    }
    const guard = async (name: string, f: () => Promise<CheckResult>) => f().catch((err: unknown) => fail(name, errText(err), 'see the error; the credentials may lack read access'));
    results.push(await guard('secrets', () => checkSecrets(clients.sm, data)));
    results.push(await guard('alarm subscription', () => checkAlarmSubscription(clients.sns, stage, service.AlarmTopicArn)));
    results.push(await guard('redis', () => checkRedis(clients.ec, data.RedisReplicationGroupId)));
    if (o.number) {
      results.push(
        await guard('twilio number', async () => {
          const raw = (await clients.sm.send(new GetSecretValueCommand({ SecretId: data.TwilioSecretArn }))).SecretString ?? '{}';
          const { accountSid, authToken } = JSON.parse(raw) as { accountSid: string; authToken: string };
          return checkTwilioNumber({ number: o.number!, webhook: service.TwilioVoiceWebhook ?? '', accountSid, authToken, apiBase: o.twilioApiBase });
        }),
      );
    }
    return results;
  } finally {
    for (const c of Object.values(clients)) c.destroy();
  }
}

/** One line per check: ✓/✗, name, detail, and the fix for failures. */
export function formatResults(results: readonly CheckResult[]): string {
  return results.map((r) => `${r.ok ? '✓' : '✗'} ${r.name}: ${r.detail}${r.ok ? '' : `\n    fix: ${r.fix}`}`).join('\n');
}

async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(USAGE);
    return 0;
  }
  const { values } = parseArgs({ args: argv, options: { stage: { type: 'string' }, number: { type: 'string' }, 'before-deploy': { type: 'boolean' } } });
  if (!values.stage) throw new Error(`--stage is required\n${USAGE}`);
  const results = await runPreflight({ stage: values.stage, number: values.number, beforeDeploy: values['before-deploy'] });
  console.log(formatResults(results));
  return results.every((r) => r.ok) ? 0 : 1;
}

runCli(import.meta.url, 'preflight', main, 2);
