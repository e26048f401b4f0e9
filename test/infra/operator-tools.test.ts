// Pins preflight, drill, secrets and seed --stage: each check against local endpoints that answer as the AWS APIs do.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stages } from '../../lib/config';
import { discoverTools } from '../../lib/constructs/tools-api';
import { seedMain } from '../../lambdas/shared/seed';
import { runFailoverDrill, summarizeDrill } from '../../local/drill';
import { checkDocker, formatResults, provisionedTotal, runPreflight } from '../../local/preflight';
import { fillSecrets, secretStrings } from '../../local/secrets';
import type { CallReport } from '../../local/caller/caller';
import { startDynalite } from '../fargate/store/dynalite';
import { type FakeAws, type FakeAwsState, fakeAws } from './fake-aws';
import { ROOT } from './synth';

const creds = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };
const prod = stages.prod;
const toolNames = discoverTools(path.join(ROOT, 'lambdas', 'tools')).map((t) => t.name);
const WEBHOOK = `https://${prod.domainName}/twiml`;
const TWILIO_OK = JSON.stringify({ accountSid: `AC${'a'.repeat(32)}`, authToken: 'b'.repeat(32) });

function healthyProd(): FakeAwsState {
  return {
    account: prod.account,
    stacks: {
      'VoiceAgent-prod-Data': {
        TwilioSecretArn: 'arn:twilio',
        DeepgramSecretArn: 'arn:deepgram',
        GroqSecretArn: 'arn:groq',
        ElevenLabsSecretArn: 'arn:elevenlabs',
        BusinessTableName: 'VoiceAgent-prod-Data-Business-1',
        RedisReplicationGroupId: 'voice-redis',
      },
      'VoiceAgent-prod-Service': { TwilioVoiceWebhook: WEBHOOK, AlarmTopicArn: 'arn:aws:sns:us-east-1:111111111111:alarms', ClusterName: 'voice-cluster', ServiceName: 'voice-media' },
    },
    certificate: { arn: prod.certificateArn!, status: 'ISSUED', domain: prod.domainName! },
    unreservedConcurrency: provisionedTotal(prod, toolNames) + 100,
    secrets: {
      'arn:twilio': { value: TWILIO_OK, versions: 2 },
      'arn:deepgram': { value: 'dg-key-0123456789abcdef', versions: 2 },
      'arn:groq': { value: 'gsk_0123456789abcdef', versions: 2 },
      'arn:elevenlabs': { value: 'sk_0123456789abcdef', versions: 2 },
    },
    subscriptions: [{ endpoint: prod.alarmEmail!, arn: 'arn:aws:sns:us-east-1:111111111111:alarms:sub-1' }],
    redisStatuses: ['available'],
    redis: { automaticFailover: 'enabled', multiAz: 'enabled' },
    twilioNumbers: { '+14155552671': { voice_url: WEBHOOK, voice_method: 'POST' } },
  };
}

const dockerOk = () => ({ status: 0, stdout: '27.0.1\n' });

describe('preflight', () => {
  let aws: FakeAws;
  beforeEach(async () => {
    aws = await fakeAws(healthyProd());
  });
  afterEach(async () => aws.close());
  const preflight = (extra: Partial<Parameters<typeof runPreflight>[0]> = {}) =>
    runPreflight({ stage: 'prod', aws: { endpoint: aws.endpoint, credentials: creds, maxAttempts: 1 }, twilioApiBase: aws.endpoint, runCommand: dockerOk, hostArch: 'arm64', number: '+14155552671', ...extra });
  const byName = async (extra?: Partial<Parameters<typeof runPreflight>[0]>) => Object.fromEntries((await preflight(extra)).map((r) => [r.name, r]));

  it('passes every check on a healthy deployed stage', async () => {
    const results = await preflight();
    expect(results.map((r) => [r.name, r.ok])).toEqual([
      ['credentials', true],
      ['certificate', true],
      ['lambda concurrency', true],
      ['docker', true],
      ['secrets', true],
      ['alarm subscription', true],
      ['redis', true],
      ['twilio number', true],
    ]);
  });

  it('names the wrong account and how to fix it', async () => {
    aws.state.account = '222222222222';
    const r = (await byName()).credentials!;
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('222222222222');
  });

  it('fails a certificate that is not ISSUED', async () => {
    aws.state.certificate!.status = 'PENDING_VALIDATION';
    const r = (await byName()).certificate!;
    expect(r).toMatchObject({ ok: false, detail: 'certificate is PENDING_VALIDATION' });
    expect(r.fix).toMatch(/DNS validation/);
  });

  it('fails when unreserved Lambda concurrency is below provisioned + 100', async () => {
    aws.state.unreservedConcurrency = provisionedTotal(prod, toolNames) + 99;
    const r = (await byName())['lambda concurrency']!;
    expect(r.ok).toBe(false);
    expect(r.fix).toMatch(/Service Quotas/);
  });

  it('fails an unfilled secret (only the generated version) and a template Twilio SID', async () => {
    aws.state.secrets['arn:groq']!.versions = 1;
    aws.state.secrets['arn:twilio']!.value = JSON.stringify({ accountSid: `AC${'0'.repeat(32)}`, authToken: 'x' });
    const r = (await byName()).secrets!;
    expect(r).toMatchObject({ ok: false, detail: 'still the generated placeholder: twilio, groq' });
    expect(r.fix).toContain('npm run secrets');
  });

  it('fails an unconfirmed alarm subscription', async () => {
    aws.state.subscriptions[0]!.arn = 'PendingConfirmation';
    expect((await byName())['alarm subscription']).toMatchObject({ ok: false });
  });

  it('fails Redis without automatic failover or not available', async () => {
    aws.state.redis.automaticFailover = 'disabled';
    aws.state.redisStatuses = ['modifying'];
    expect((await byName()).redis!.detail).toBe('voice-redis: status modifying, automatic failover disabled');
  });

  it("fails a Twilio number whose voice webhook points elsewhere, showing where", async () => {
    aws.state.twilioNumbers['+14155552671'] = { voice_url: 'https://old.example.net/voice', voice_method: 'GET' };
    const r = (await byName())['twilio number']!;
    expect(r).toMatchObject({ ok: false, detail: 'voice webhook is GET https://old.example.net/voice' });
    expect(r.fix).toContain(`POST ${WEBHOOK}`);
  });

  it('before deploy: the four account checks only; a missing stack says to deploy', async () => {
    expect((await preflight({ beforeDeploy: true })).map((r) => r.name)).toEqual(['credentials', 'certificate', 'lambda concurrency', 'docker']);
    delete aws.state.stacks['VoiceAgent-prod-Data'];
    const last = (await preflight()).at(-1)!;
    expect(last).toMatchObject({ name: 'deployed stacks', ok: false });
    expect(last.fix).toContain('cdk deploy');
  });

  it('docker: an x86_64 machine needs buildx with linux/arm64 for an arm64 stage', () => {
    const noArm = (cmd: string, args: string[]) => (args[0] === 'buildx' ? { status: 0, stdout: 'default docker\n  default running linux/amd64\n' } : dockerOk());
    expect(checkDocker(prod, noArm, 'x64')).toMatchObject({ ok: false });
    expect(checkDocker(prod, noArm, 'x64').fix).toContain('binfmt');
    const withArm = () => ({ status: 0, stdout: 'linux/amd64, linux/arm64\n' });
    expect(checkDocker(prod, withArm, 'x64').ok).toBe(true);
    expect(checkDocker({ ...prod, cpuArchitecture: 'x86_64' }, noArm, 'x64').ok).toBe(true);
    expect(checkDocker(prod, () => ({ status: 1, stdout: '' }), 'arm64')).toMatchObject({ ok: false, detail: 'docker does not answer' });
  });

  it('prints each failure with its fix', () => {
    expect(formatResults([{ name: 'x', ok: false, detail: 'bad', fix: 'do y' }])).toBe('✗ x: bad\n    fix: do y');
  });
});

describe('secrets', () => {
  let aws: FakeAws;
  beforeEach(async () => {
    aws = await fakeAws(healthyProd());
  });
  afterEach(async () => aws.close());

  it('puts each given value into its stage secret, then forces a new deployment of the media service; logs names only', async () => {
    const lines: string[] = [];
    const values = secretStrings({ twilio: { accountSid: `AC${'c'.repeat(32)}`, authToken: 'd'.repeat(32) }, deepgram: 'deepgram-key-0123456789' });
    const written = await fillSecrets({ stage: 'prod', values, roll: true, aws: { endpoint: aws.endpoint, credentials: creds }, log: (l) => lines.push(l) });
    expect(written).toEqual(['twilio', 'deepgram']);
    expect(aws.state.secrets['arn:deepgram']!.value).toBe('deepgram-key-0123456789');
    expect(JSON.parse(aws.state.secrets['arn:twilio']!.value)).toEqual({ accountSid: `AC${'c'.repeat(32)}`, authToken: 'd'.repeat(32) });
    expect(aws.calls.find((c) => c.action.endsWith('UpdateService'))!.params).toMatchObject({ cluster: 'voice-cluster', service: 'voice-media', forceNewDeployment: true });
    expect(lines.join('\n')).not.toMatch(/deepgram-key|cccc|dddd/);
  });

  it('refuses malformed values before writing anything, naming the field only', () => {
    expect(() => secretStrings({ twilio: { accountSid: 'nope', authToken: 'x' } })).toThrow('twilio.accountSid must be AC followed by 32 hex digits');
    expect(() => secretStrings({ groq: 'has a space in it ok' })).toThrow(/^groq must be/);
    expect(() => secretStrings({ openai: 'x' })).toThrow(/unknown secret "openai"/);
    expect(() => secretStrings({ google: '{"client_email":"a@b.c"}' })).toThrow('google must be service-account JSON with client_email and private_key');
  });

  it('accepts the backup providers\' secrets: API keys, and Google service-account JSON as an object or a string', () => {
    const sa = { client_email: 'stt@project.iam.gserviceaccount.com', private_key: '-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n' };
    expect(secretStrings({ assemblyai: 'aai-key-0123456789abcdef', fireworks: 'fw_0123456789abcdef', google: sa })).toEqual({
      assemblyai: 'aai-key-0123456789abcdef', fireworks: 'fw_0123456789abcdef', google: JSON.stringify(sa),
    });
    expect(secretStrings({ google: JSON.stringify(sa) }).google).toBe(JSON.stringify(sa));
  });
});

describe('drill redis-failover', () => {
  let aws: FakeAws;
  afterAll(async () => aws?.close());

  const report = (sid: string, turns: { ok: boolean; v2v?: number }[]): CallReport =>
    ({ callSid: sid, ok: turns.every((t) => t.ok), turns: [{ index: 0, kind: 'greeting', ok: true }, ...turns.map((t, i) => ({ index: i + 1, kind: 'say', ok: t.ok, voiceToVoiceMs: t.v2v }))] }) as unknown as CallReport;

  it('counts lost turns and the longest gap a caller waited', () => {
    const s = summarizeDrill([report('CA1', [{ ok: true, v2v: 800 }, { ok: true, v2v: 2400 }]), report('CA2', [{ ok: false }, { ok: true, v2v: 900 }])]);
    expect(s).toEqual({ calls: 2, callsNotOk: 1, turns: 4, turnsLost: 1, longestGapMs: 2400, lost: ['CA2#1'] });
  });

  it('runs TestFailover on node group 0001 while calls run, waits for the group to come back, and keeps calling across it', async () => {
    aws = await fakeAws({ ...healthyProd(), redisStatuses: ['modifying', 'modifying', 'available'] });
    const ec = new ElastiCacheClient({ region: 'us-east-1', endpoint: aws.endpoint, credentials: creds });
    let placed = 0;
    const runCall = async () => {
      placed++;
      await new Promise((r) => setTimeout(r, 5));
      return report(`CA${placed}`, [{ ok: true, v2v: 700 + placed }]);
    };
    const { summary, statuses } = await runFailoverDrill({ ec, groupId: 'voice-redis', calls: 2, runCall, warmupMs: 1, pollMs: 1 });
    ec.destroy();
    expect(aws.calls.find((c) => c.action === 'TestFailover')!.params).toMatchObject({ ReplicationGroupId: 'voice-redis', NodeGroupId: '0001' });
    expect(statuses).toEqual(['modifying', 'available']);
    expect(summary.turnsLost).toBe(0);
    expect(summary.calls).toBeGreaterThanOrEqual(2);
    expect(summary.longestGapMs).toBe(700 + placed);
  });
});

describe('seed --stage', () => {
  it('writes into the deployed table named by the Data stack output, and refuses to run without a target', async () => {
    const dyn = await startDynalite({ table: null });
    const aws = await fakeAws(healthyProd());
    try {
      const { createDynamoClient, ensureTables } = await import('../../lambdas/shared/tables');
      const client = createDynamoClient({ region: 'us-east-1', endpoint: dyn.endpoint });
      await ensureTables(client, { businessTable: 'VoiceAgent-prod-Data-Business-1', idempotencyTable: 'VoiceAgent-prod-Data-Idem-1' } as never);
      const lines: string[] = [];
      expect(await seedMain(['--stage', 'prod', '--days', '1'], {}, { aws: { endpoint: aws.endpoint, credentials: creds }, dynamoEndpoint: dyn.endpoint }, (l) => lines.push(l))).toBe(0);
      expect(lines[0]).toMatch(/^seeded VoiceAgent-prod-Data-Business-1 \(stage prod\)/);
      const { ListTablesCommand } = await import('@aws-sdk/client-dynamodb');
      expect((await client.send(new ListTablesCommand({}))).TableNames).not.toContain('business');
      client.destroy();
      await expect(seedMain([], {})).rejects.toThrow(/no target: pass --stage NAME/);
    } finally {
      await aws.close();
      await dyn.close();
    }
  }, 30_000);
});

describe('--help', () => {
  it.each([
    ['local/preflight.ts', 'usage: npm run preflight'],
    ['local/drill.ts', 'usage: npm run drill'],
    ['local/secrets.ts', 'usage: npm run secrets'],
    ['local/privacy.ts', 'usage: npm run privacy'],
    ['lambdas/shared/seed.ts', 'usage: npm run seed'],
  ])('%s --help prints usage and exits 0', (file, usage) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, file), '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(usage);
  });
});
