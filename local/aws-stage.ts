// Shared by the operator tools (preflight, drill, secrets, seed --stage): a deployed stage's names, outputs and SDK config.
import { pathToFileURL } from 'node:url';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { resolveStage, type StageConfig } from '../lib/config';

/** The CloudFormation stack names buildApp gives a stage (bin/app.ts). */
export function stackNames(stage: StageConfig): { data: string; service: string } {
  const prefix = `VoiceAgent-${stage.name}`;
  return { data: `${prefix}-Data`, service: `${prefix}-Service` };
}

/**
 * Options every SDK v3 client of the tools is built with: the stage's region, plus `endpoint` and static
 * credentials when given (the tests point the clients at local HTTP servers that answer as the APIs do).
 */
export interface AwsClientConfig {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  maxAttempts?: number;
}

/** The client config for `stage` (region from the stage table; endpoint/credentials only for tests). */
export function clientConfig(stage: StageConfig, overrides: Partial<AwsClientConfig> = {}): AwsClientConfig {
  return { region: stage.region, maxAttempts: 3, ...overrides };
}

/** Thrown when a stack is not deployed or lacks an output the tool needs; the message says what to run. */
export class StackNotReadyError extends Error {}

/** The outputs of stack `name` as a record; throws StackNotReadyError when the stack does not exist. */
export async function stackOutputs(cfn: CloudFormationClient, name: string): Promise<Record<string, string>> {
  let out;
  try {
    out = await cfn.send(new DescribeStacksCommand({ StackName: name }));
  } catch (err) {
    if ((err as { name?: string }).name === 'ValidationError') {
      throw new StackNotReadyError(`stack ${name} is not deployed: run npx cdk deploy --all -c stage=<name> first`);
    }
    throw err;
  }
  const stack = out.Stacks?.[0];
  if (!stack) throw new StackNotReadyError(`stack ${name} is not deployed`);
  return Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
}

/** Returns `outputs[key]`, or throws naming the stack and key. */
export function requireOutput(outputs: Record<string, string>, key: string, stack: string): string {
  const v = outputs[key];
  if (!v) throw new StackNotReadyError(`stack ${stack} has no output ${key}: redeploy it with this version (npx cdk deploy --all -c stage=<name>)`);
  return v;
}

/** `--stage NAME` → the stage, with the stage module's error listing the valid names. */
export function stageFromArg(name: string | undefined): StageConfig {
  return resolveStage(name);
}

/** True when argv asks for usage. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** Runs `main` when `moduleUrl` is the script node was started with; exits with its code, or `errorCode` on a throw. */
export function runCli(moduleUrl: string, prog: string, main: (argv: string[]) => Promise<number>, errorCode = 1): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`${prog}: ${(err as Error).message}`);
      process.exit(errorCode);
    },
  );
}
