// Per-stage deployment values (dev, staging, prod) and the provider price table: the only place values live.
// No aws-cdk-lib import here: the media service imports `PriceTable` and `DEFAULT_PRICES` from this file.

import type { ProviderOrder } from '../contracts/providers';

/** USD price of one LLM model, per million tokens. */
export interface LlmPrice {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
}

/**
 * List prices the cost meter multiplies usage by (USD). Sources: shared numbers.md §2.1 (US / us-east-1 list or
 * pay-as-you-go prices). Prices change often: confirm on each provider's page before budgeting.
 */
export interface PriceTable {
  /** Date the prices were last checked (ISO yyyy-mm-dd). */
  readonly pricesAsOf: string;
  readonly twilio: {
    /** Inbound call to a US local number, per minute; Twilio rounds every call up to whole minutes. */
    readonly inboundPerMin: number;
    /** Media Streams, per minute; also rounded up to whole minutes. */
    readonly mediaStreamsPerMin: number;
  };
  readonly deepgram: {
    /** Nova-3 streaming, monolingual, PAYG, per minute (billed per second). */
    readonly nova3PerMin: number;
    /** Flux streaming (English), PAYG, per minute. */
    readonly fluxPerMin: number;
  };
  /** Per model id as sent to the provider (e.g. `openai/gpt-oss-20b`). */
  readonly llm: Readonly<Record<string, LlmPrice>>;
  readonly elevenlabs: {
    /** Flash/Turbo models, per 1,000 characters. */
    readonly per1kChars: number;
  };
  readonly fargate: {
    /** Linux/ARM, per vCPU-hour. */
    readonly vcpuHour: number;
    /** Linux/ARM, per GB-hour. */
    readonly gbHour: number;
  };
  readonly lambda: {
    /** Per request (USD per single request, i.e. $0.20 per 1M). */
    readonly perRequest: number;
    /** arm64, per GB-second. */
    readonly perGbSecond: number;
  };
}

/** Prices from numbers.md §2.1, checked 2026-11-24. */
export const DEFAULT_PRICES: PriceTable = {
  pricesAsOf: '2026-11-24',
  twilio: { inboundPerMin: 0.0085, mediaStreamsPerMin: 0.0044 },
  deepgram: { nova3PerMin: 0.0077, fluxPerMin: 0.0065 },
  llm: {
    'openai/gpt-oss-20b': { inputPerMTok: 0.075, outputPerMTok: 0.3 },
    'openai/gpt-oss-120b': { inputPerMTok: 0.15, outputPerMTok: 0.6 },
  },
  // $0.04 (2026-10 repo note) to $0.06 (Business tier) per 1K are all quoted; the middle, June-2026 figure is used.
  elevenlabs: { per1kChars: 0.05 },
  fargate: { vcpuHour: 0.03238, gbHour: 0.00356 },
  lambda: { perRequest: 0.0000002, perGbSecond: 0.0000133334 },
};

/** Task counts and sizes of the Fargate media service. */
export interface MediaServiceSizing {
  /** Tasks kept running at all times (also the floor of autoscaling). */
  readonly minTasks: number;
  readonly maxTasks: number;
  /** 1024 = 1 vCPU. */
  readonly cpu: 256 | 512 | 1024 | 2048 | 4096;
  readonly memoryMiB: number;
  /**
   * Calls one task carries (MAX_CALLS): beyond it /ready answers 503. Planning figure 50 calls per vCPU
   * (numbers.md §3.4); load-test before raising it.
   */
  readonly callsPerTask: number;
  /** Autoscaling keeps the average ActiveCalls per task at this share of callsPerTask. */
  readonly targetUtilization: number;
  /**
   * ALB deregistration delay (s). What ECS really does when it stops a task behind a load balancer: it
   * deregisters the target, waits out this delay (the ALB sends no new requests to it and, when the delay ends,
   * closes the connections still open), and only then sends SIGTERM
   * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/load-balancer-connection-draining.html).
   * A long delay therefore keeps a doomed task's calls for minutes and then cuts them anyway. With live-call
   * migration on SIGTERM (issue 11) the delay only has to cover in-flight webhook requests, so it is short.
   * ALB allows 0–3600 s.
   */
  readonly deregistrationDelaySeconds: number;
}

/** Alarm thresholds. */
export interface AlarmThresholds {
  /** p95 VoiceToVoice (ms) above which the latency alarm fires. */
  readonly p95VoiceToVoiceMs: number;
  /** p95 ToolRoundTrip per tool (ms): the tool call as the media service waits for it. */
  readonly p95ToolMs: number;
  /** Average CostPerCall (USD) over the alarm period. */
  readonly avgCostPerCallUsd: number;
  /** ProviderErrors per 5 minutes (sum over providers). */
  readonly providerErrorsPer5Min: number;
  /**
   * ProviderFailover per 5 minutes (sum over providers and seams): calls moving to a backup. Each move is one call
   * saved, but a sustained rate means a primary is sick and the backup carries the stage (its latency and price).
   */
  readonly providerFailoversPer5Min: number;
}

/** CPU architecture of the media image and its Fargate tasks. */
export type CpuArchitecture = 'arm64' | 'x86_64';

/** Everything that differs between deployments of the stack. */
export interface StageConfig {
  readonly name: string;
  /** AWS account id; '111111111111' is a synth-only placeholder — set your own before `cdk deploy`. */
  readonly account: string;
  /**
   * AWS region, chosen for co-location with the providers every turn depends on:
   *
   * - Twilio: the default processing region US1 is in the eastern US (Twilio's default edge is `ashburn`,
   *   Virginia); Media Streams opens its WebSocket from there, so an ALB in us-east-1 is one metro away.
   *   Other Twilio regions (IE1 Dublin, AU1 Sydney) exist and change the answer for non-US numbers.
   * - Deepgram: the default `api.deepgram.com` serves from the US; `api.eu.deepgram.com` (GA 2025-12-03)
   *   keeps processing in the EU and never falls back outside it
   *   (https://developers.deepgram.com/reference/regional-endpoints).
   * - Groq: data centres in the US, Canada, Europe (Helsinki since July 2025, with Equinix) and the Middle East
   *   (https://rcrtech.com/ai-infrastructure-news/groqai-data-center); `api.groq.com` is the public endpoint.
   * - ElevenLabs: `api.elevenlabs.io` serves from the US; EU data residency is a separate environment
   *   `api.eu.residency.elevenlabs.io` with its own keys (`_residency_eu` suffix).
   *
   * So us-east-1 puts the media service within a few milliseconds of Twilio US1 and of the US endpoints of all
   * three AI providers; every cross-continent hop would add roughly 70–100 ms round trip to each of the
   * ~4 sequential network legs of a turn. For EU callers with residency needs choose eu-west-1 / eu-central-1
   * together with Twilio IE1 and the three providers' EU endpoints (DEEPGRAM_URL, ELEVENLABS_URL overrides).
   */
  readonly region: string;
  /** Two AZs of `region`, explicit so `cdk synth` needs no AWS lookup (and no credentials). */
  readonly availabilityZones: readonly [string, string];
  /**
   * The stage's VPC range. Distinct per stage (10.40/16, 10.41/16, 10.42/16), so stages can be peered or joined by
   * a transit gateway: VPC peering does not support overlapping CIDR blocks
   * (https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html).
   */
  readonly vpcCidr: string;
  /**
   * Architecture of the media image and tasks. arm64 (Graviton) is ~20% cheaper per vCPU-hour; building it on an
   * x86_64 machine needs QEMU emulation through Docker buildx (see README Deploy). x86_64 builds natively there.
   */
  readonly cpuArchitecture: CpuArchitecture;
  /** NAT gateways: 1 saves ~$33/month in dev; 2 keeps egress up when one AZ fails. */
  readonly natGateways: 1 | 2;
  /** Public host name Twilio reaches (e.g. voice.example.com); needed with a certificate. */
  readonly domainName?: string;
  /**
   * ACM certificate for `domainName`, in `region`. Without it the ALB listens on plain HTTP only — fine for the
   * simulated caller, but Twilio requires a `wss://` Media Streams URL, so real calls need a certificate.
   */
  readonly certificateArn?: string;
  readonly media: MediaServiceSizing;
  /**
   * Provider order per seam (STT_PROVIDERS, LLM_PROVIDERS, TTS_PROVIDERS): the first is the primary, the rest are
   * failover backups (fargate/src/providers/failover.ts). Each backup with an account of its own gets a Secrets
   * Manager secret to fill (`npm run secrets`); Deepgram Aura-2 TTS shares the Deepgram key.
   */
  readonly providers: ProviderOrder;
  /** The stage's called number (E.164) → agent map (NUMBER_TO_AGENT). @default the media service's built-in map */
  readonly numberToAgent?: Readonly<Record<string, string>>;
  /**
   * Provisioned concurrency of each Lambda's `live` alias: `default` for every tool and the Vapi handler,
   * `overrides` by tool name (snake_case, as routed) or `vapi`. 0 = none (cold starts of ~120–400 ms,
   * numbers.md §4, are acceptable in dev).
   */
  readonly provisionedConcurrency: { readonly default: number; readonly overrides: Readonly<Record<string, number>> };
  /** Days a transcript lives before DynamoDB TTL deletes it. */
  readonly transcriptRetentionDays: number;
  readonly alarms: AlarmThresholds;
  /** Where alarm notifications go; no subscription when absent. */
  readonly alarmEmail?: string;
  readonly llm: { readonly modelSmall: string; readonly modelLarge: string };
  /** E.164 number a call transfers to when it escalates to a human. */
  readonly transferNumber: string;
  /** A call whose running cost passes this moves to the small model and wraps up (USD). */
  readonly costCapUsd: number;
  readonly prices: PriceTable;
  /** ElastiCache node type of the two-node Redis replication group. */
  readonly redisNodeType: string;
  /** Daily Redis snapshots kept (0 disables; the cache is rebuildable, memory is not). */
  readonly redisSnapshotRetentionDays: number;
  /** Days CloudWatch keeps the stack's log groups. */
  readonly logRetentionDays: number;
  /** true: termination protection on DataStack, RETAIN on stateful resources, deletion protection on tables. */
  readonly protectData: boolean;
  /** The live operations console (issue 13): lib/constructs/operations-console.ts. */
  readonly console: ConsoleSettings;
}

/** Who may do what in the operations console. Anyone the account lets `execute-api:Invoke` its `$connect` may watch and act. */
export interface ConsoleSettings {
  /**
   * IAM principal ARN patterns (`*` = any run of characters) whose connections also receive caller and agent words.
   * Matched against the `$connect` caller ARN, which for a role session is `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
   * Empty: nobody sees transcript text (calls, latency, cost and flags are still shown).
   */
  readonly transcriptReaders: readonly string[];
}

/**
 * Staging and prod: only sessions of a role named voice-agent-transcript-readers (create it to grant the right). The
 * account is `*` because only principals the stage's account authorizes for `$connect` ever reach the check.
 */
const TRANSCRIPT_READER_ROLE: ConsoleSettings = { transcriptReaders: ['arn:aws:sts::*:assumed-role/voice-agent-transcript-readers/*'] };

/** Groq's current models (numbers.md §0: the Llama models were decommissioned for self-serve 2026-08-16). */
const GROQ_MODELS = { modelSmall: 'openai/gpt-oss-20b', modelLarge: 'openai/gpt-oss-120b' } as const;

/**
 * 30 s: long enough for a webhook or a `<Connect><Stream>` upgrade already in flight to finish; live calls do not
 * wait it out, they migrate to another task on SIGTERM (issue 11), which comes only after this delay.
 */
export const DEREGISTRATION_DELAY_SECONDS = 30;

/** The deployable stages, selected with `cdk synth -c stage=NAME`. */
export const stages = {
  dev: {
    name: 'dev',
    account: '111111111111',
    region: 'us-east-1',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    vpcCidr: '10.40.0.0/16',
    cpuArchitecture: 'arm64',
    natGateways: 1,
    media: { minTasks: 1, maxTasks: 2, cpu: 1024, memoryMiB: 2048, callsPerTask: 50, targetUtilization: 0.7, deregistrationDelaySeconds: DEREGISTRATION_DELAY_SECONDS },
    provisionedConcurrency: { default: 0, overrides: {} },
    transcriptRetentionDays: 7,
    alarms: { p95VoiceToVoiceMs: 1500, p95ToolMs: 300, avgCostPerCallUsd: 0.15, providerErrorsPer5Min: 20, providerFailoversPer5Min: 10 },
    // dev runs on the primaries only: no backup accounts to open for a trial.
    providers: { stt: ['deepgram'], llm: ['groq'], tts: ['elevenlabs'] },
    llm: GROQ_MODELS,
    transferNumber: '+15550100000',
    costCapUsd: 0.5,
    prices: DEFAULT_PRICES,
    redisNodeType: 'cache.t4g.micro',
    redisSnapshotRetentionDays: 1,
    logRetentionDays: 14,
    protectData: false,
    // dev carries test calls only: every console connection may read them.
    console: { transcriptReaders: ['*'] },
  },
  staging: {
    name: 'staging',
    account: '111111111111',
    region: 'us-east-1',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    vpcCidr: '10.41.0.0/16',
    cpuArchitecture: 'arm64',
    natGateways: 1,
    domainName: 'voice-staging.example.com',
    certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000001',
    media: { minTasks: 2, maxTasks: 4, cpu: 1024, memoryMiB: 2048, callsPerTask: 50, targetUtilization: 0.7, deregistrationDelaySeconds: DEREGISTRATION_DELAY_SECONDS },
    provisionedConcurrency: { default: 1, overrides: {} },
    transcriptRetentionDays: 30,
    alarms: { p95VoiceToVoiceMs: 1400, p95ToolMs: 200, avgCostPerCallUsd: 0.12, providerErrorsPer5Min: 10, providerFailoversPer5Min: 5 },
    providers: { stt: ['deepgram', 'assemblyai'], llm: ['groq', 'fireworks'], tts: ['elevenlabs', 'deepgram'] },
    alarmEmail: 'voice-agent-alerts@example.com',
    llm: GROQ_MODELS,
    transferNumber: '+15550100000',
    costCapUsd: 0.5,
    prices: DEFAULT_PRICES,
    redisNodeType: 'cache.t4g.small',
    redisSnapshotRetentionDays: 3,
    logRetentionDays: 30,
    protectData: false,
    console: TRANSCRIPT_READER_ROLE,
  },
  prod: {
    name: 'prod',
    account: '111111111111',
    region: 'us-east-1',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    vpcCidr: '10.42.0.0/16',
    cpuArchitecture: 'arm64',
    natGateways: 2,
    domainName: 'voice.example.com',
    certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000002',
    media: { minTasks: 2, maxTasks: 20, cpu: 1024, memoryMiB: 2048, callsPerTask: 50, targetUtilization: 0.7, deregistrationDelaySeconds: DEREGISTRATION_DELAY_SECONDS },
    // check_availability runs in nearly every booking call before the agent can answer: keep more warm.
    provisionedConcurrency: { default: 2, overrides: { check_availability: 4 } },
    transcriptRetentionDays: 90,
    // p95 1.4 s is Twilio's upper limit at the caller's ear (numbers.md §1.5); tools p95 < 150 ms warm (§4).
    alarms: { p95VoiceToVoiceMs: 1400, p95ToolMs: 150, avgCostPerCallUsd: 0.1, providerErrorsPer5Min: 10, providerFailoversPer5Min: 5 },
    // Every seam survives losing its primary: a second STT and TTS vendor, two more gpt-oss hosts.
    providers: { stt: ['deepgram', 'assemblyai'], llm: ['groq', 'fireworks', 'together'], tts: ['elevenlabs', 'deepgram'] },
    alarmEmail: 'voice-agent-oncall@example.com',
    llm: GROQ_MODELS,
    transferNumber: '+15550100000',
    costCapUsd: 0.5,
    prices: DEFAULT_PRICES,
    redisNodeType: 'cache.t4g.small',
    redisSnapshotRetentionDays: 7,
    logRetentionDays: 365,
    protectData: true,
    console: TRANSCRIPT_READER_ROLE,
  },
} as const satisfies Record<string, StageConfig>;

/** Name of a deployable stage. */
export type StageName = keyof typeof stages;

/** The valid stage names, in declaration order. */
export const stageNames = Object.keys(stages) as StageName[];

/** Thrown when `-c stage=` is missing or names no stage. */
export class UnknownStageError extends Error {}

/** Returns the stage called `name`; throws UnknownStageError listing the valid names when missing or unknown. */
export function resolveStage(name: unknown): StageConfig {
  const valid = stageNames.join(', ');
  if (typeof name !== 'string' || name === '') {
    throw new UnknownStageError(`no stage given: pass -c stage=NAME, where NAME is one of: ${valid}`);
  }
  if (!Object.hasOwn(stages, name)) {
    throw new UnknownStageError(`unknown stage "${name}": valid stages are ${valid}`);
  }
  return stages[name as StageName];
}

/** Provisioned concurrency for the function `name` (tool name or `vapi`) in `stage`. */
export function provisionedConcurrencyFor(stage: StageConfig, name: string): number {
  return stage.provisionedConcurrency.overrides[name] ?? stage.provisionedConcurrency.default;
}

/** A stage value that only stands in for the operator's own (synth works, a deploy must not). */
export interface Placeholder {
  readonly field: string;
  readonly value: string;
  readonly fix: string;
}

/** The synth-only stand-in account; no real account has this id. */
export const PLACEHOLDER_ACCOUNT = '111111111111';

/**
 * The placeholders left in `stage`. example.com is reserved for documentation (RFC 2606 §3); 555-0100…0199 are
 * the North American numbers reserved for fiction and
 * area code 555 is not in service, so no transfer would ever reach a person.
 */
export function placeholdersIn(stage: StageConfig): Placeholder[] {
  const found: Placeholder[] = [];
  const add = (field: string, value: string | undefined, bad: (v: string) => boolean, fix: string) => {
    if (value !== undefined && bad(value)) found.push({ field, value, fix });
  };
  const where = `lib/config.ts stages.${stage.name}`;
  add('account', stage.account, (v) => v === PLACEHOLDER_ACCOUNT, `set ${where}.account to your 12-digit account id (aws sts get-caller-identity)`);
  add(
    'certificateArn',
    stage.certificateArn,
    (v) => v.includes(`:${PLACEHOLDER_ACCOUNT}:`) || /certificate\/0{8}-0{4}-0{4}-0{4}-0{11}\d$/.test(v),
    `request a certificate for ${stage.domainName ?? 'your domain'} in ${stage.region} (aws acm request-certificate) and put its ARN in ${where}.certificateArn`,
  );
  add('domainName', stage.domainName, (v) => /(^|\.)example\.(com|org|net)$/.test(v), `set ${where}.domainName to a host name you control`);
  add('transferNumber', stage.transferNumber, (v) => /^\+1555\d{7}$|^\+1\d{3}55501\d{2}$/.test(v), `set ${where}.transferNumber to the E.164 number of a real person`);
  add('alarmEmail', stage.alarmEmail, (v) => /@example\.(com|org|net)$/.test(v), `set ${where}.alarmEmail to an inbox someone reads`);
  return found;
}

/** Thrown when a deploy would use a placeholder; the message names each one and how to replace it. */
export class PlaceholderError extends Error {}

/** The message listing `found` (empty string when none). */
export function describePlaceholders(stage: StageConfig, found: readonly Placeholder[]): string {
  if (found.length === 0) return '';
  const lines = found.map((p) => `  ${p.field} = ${p.value}: ${p.fix}`);
  return `stage ${stage.name} still has placeholder values:\n${lines.join('\n')}`;
}
