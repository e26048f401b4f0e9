// `npm run drill -- redis-failover --stage NAME`: ElastiCache TestFailover while simulated calls run against the stage.
import './node-support';
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DescribeReplicationGroupsCommand, ElastiCacheClient, TestFailoverCommand } from '@aws-sdk/client-elasticache';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CallReport } from './caller/caller';
import { type AwsClientConfig, clientConfig, requireOutput, stackNames, stackOutputs, runCli, stageFromArg, wantsHelp } from './aws-stage';

export const USAGE = `usage: npm run drill -- redis-failover --stage <dev|staging|prod> [--calls 3] [--scenario booking] [--timeout-min 20]
Starts simulated calls against the stage's voice webhook (signed with the stage's Twilio auth token; real
Deepgram/Groq/ElevenLabs usage is billed), runs ElastiCache TestFailover on the stage's Redis group while they
talk, keeps calling until the group is available again, then reports every turn lost and the longest gap a
caller heard. Exit 0 when no turn was lost, 1 otherwise. Run it in a quiet hour: TestFailover really fails over.`;

/** What the drill measured. */
export interface DrillSummary {
  calls: number;
  callsNotOk: number;
  turns: number;
  /** Turns the agent never answered (or that failed): the turns a caller lost. */
  turnsLost: number;
  /** Longest wait, on the caller's clock, from the end of their speech to the agent's first audio (ms). */
  longestGapMs: number;
  /** `callSid#turn` of each lost turn. */
  lost: string[];
}

/** Pure: the drill's figures from the calls' reports. */
export function summarizeDrill(reports: readonly CallReport[]): DrillSummary {
  const lost: string[] = [];
  let longestGapMs = 0;
  let turns = 0;
  for (const r of reports) {
    for (const t of r.turns) {
      if (t.kind === 'greeting') continue;
      turns++;
      if (!t.ok || t.voiceToVoiceMs === undefined) lost.push(`${r.callSid}#${t.index}`);
      else longestGapMs = Math.max(longestGapMs, t.voiceToVoiceMs);
    }
  }
  return { calls: reports.length, callsNotOk: reports.filter((r) => !r.ok).length, turns, turnsLost: lost.length, longestGapMs, lost };
}

/** Places one call (the simulated caller in production; a stand-in in tests). */
export type CallRunner = (signal: AbortSignal) => Promise<CallReport>;

/**
 * TestFailover on node group 0001 (a cluster-mode-disabled group has exactly that one;
 * https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_TestFailover.html), then waits until the group
 * has left `available` and come back to it. Resolves with the status sequence seen.
 */
export async function failoverAndWait(ec: ElastiCacheClient, groupId: string, opts: { pollMs?: number; timeoutMs?: number; log?: (l: string) => void } = {}): Promise<string[]> {
  const seen: string[] = [];
  await ec.send(new TestFailoverCommand({ ReplicationGroupId: groupId, NodeGroupId: '0001' }));
  opts.log?.(`TestFailover started on ${groupId}`);
  const deadline = Date.now() + (opts.timeoutMs ?? 20 * 60_000);
  let left = false;
  for (;;) {
    const { ReplicationGroups: [g] = [] } = await ec.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: groupId }));
    const status = g?.Status ?? 'unknown';
    if (seen.at(-1) !== status) {
      seen.push(status);
      opts.log?.(`replication group ${groupId}: ${status}`);
    }
    if (status !== 'available') left = true;
    else if (left) return seen;
    if (Date.now() > deadline) throw new Error(`${groupId} did not return to available in time (statuses: ${seen.join(' → ')})`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 5000));
  }
}

/** Runs `calls` call loops, fails Redis over once they are talking, stops the loops after the group recovers. */
export async function runFailoverDrill(o: { ec: ElastiCacheClient; groupId: string; calls: number; runCall: CallRunner; warmupMs?: number; pollMs?: number; timeoutMs?: number; log?: (l: string) => void }): Promise<{ summary: DrillSummary; statuses: string[] }> {
  const reports: CallReport[] = [];
  const stop = new AbortController();
  let recovered = false;
  const loop = async () => {
    // Each loop keeps placing calls until the group has recovered, then places one more on the new primary.
    for (let after = 0; after < 1; ) {
      if (recovered) after++;
      reports.push(await o.runCall(stop.signal));
    }
  };
  const loops = Array.from({ length: o.calls }, loop);
  await new Promise((r) => setTimeout(r, o.warmupMs ?? 5000));
  let statuses: string[] = [];
  let failed: unknown;
  try {
    statuses = await failoverAndWait(o.ec, o.groupId, { pollMs: o.pollMs, timeoutMs: o.timeoutMs, log: o.log });
  } catch (err) {
    failed = err;
  }
  recovered = true;
  // Let the calls in flight finish either way, so no caller is cut by the drill itself.
  await Promise.all(loops);
  if (failed) throw failed;
  return { summary: summarizeDrill(reports), statuses };
}

async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(USAGE);
    return 0;
  }
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { stage: { type: 'string' }, calls: { type: 'string' }, scenario: { type: 'string' }, 'timeout-min': { type: 'string' } } });
  if (positionals[0] !== 'redis-failover') throw new Error(`unknown drill "${positionals[0] ?? ''}": the one drill is redis-failover\n${USAGE}`);
  if (!values.stage) throw new Error(`--stage is required\n${USAGE}`);
  const stage = stageFromArg(values.stage);
  const cfg: AwsClientConfig = clientConfig(stage);
  const cfn = new CloudFormationClient(cfg);
  const ec = new ElastiCacheClient(cfg);
  const sm = new SecretsManagerClient(cfg);
  try {
    const names = stackNames(stage);
    const data = await stackOutputs(cfn, names.data);
    const service = await stackOutputs(cfn, names.service);
    const twimlUrl = requireOutput(service, 'TwilioVoiceWebhook', names.service);
    const twilio = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: requireOutput(data, 'TwilioSecretArn', names.data) }))).SecretString ?? '{}') as { accountSid: string; authToken: string };
    const { placeCall } = await import('./caller/caller');
    const scenario = values.scenario ?? 'booking';
    const { summary, statuses } = await runFailoverDrill({
      ec,
      groupId: requireOutput(data, 'RedisReplicationGroupId', names.data),
      calls: Number(values.calls ?? 3),
      timeoutMs: Number(values['timeout-min'] ?? 20) * 60_000,
      runCall: (signal) => placeCall({ scenario, twimlUrl, authToken: twilio.authToken, accountSid: twilio.accountSid, signal }),
      log: (l) => console.log(l),
    });
    console.log(`redis statuses: ${statuses.join(' → ')}`);
    console.log(`calls ${summary.calls} (not ok ${summary.callsNotOk}), turns ${summary.turns}, turns lost ${summary.turnsLost}${summary.lost.length ? ` (${summary.lost.join(', ')})` : ''}, longest gap ${summary.longestGapMs} ms`);
    return summary.turnsLost === 0 ? 0 : 1;
  } finally {
    for (const c of [cfn, ec, sm]) c.destroy();
  }
}

runCli(import.meta.url, 'drill', main, 2);
