// Builds the CDK app for one stage: DataStack + ServiceStack, with the cdk-nag AwsSolutions and PCI DSS packs.
import { Annotations, App, type AppProps, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, PCIDSS321Checks } from 'cdk-nag';
import { type CpuArchitecture, describePlaceholders, PlaceholderError, placeholdersIn, resolveStage, type StageConfig, UnknownStageError } from '../lib/config';
import { DataStack } from '../lib/data-stack';
import { ServiceStack } from '../lib/service-stack';

export interface VoiceAgentApp {
  readonly app: App;
  readonly stage: StageConfig;
  readonly data: DataStack;
  readonly service: ServiceStack;
}

/**
 * Creates the app for the stage named by the `stage` context (`-c stage=NAME`).
 * Throws UnknownStageError listing the valid stages when it is missing or unknown.
 */
export function buildApp(props: AppProps = {}, processEnv: NodeJS.ProcessEnv = process.env): VoiceAgentApp {
  const app = new App(props);
  const stage = withArchitecture(resolveStage(app.node.tryGetContext('stage')), app.node.tryGetContext('arch'));
  const placeholders = describePlaceholders(stage, placeholdersIn(stage));
  if (placeholders && placeholderMode(app, processEnv) === 'error') {
    throw new PlaceholderError(`${placeholders}\nA deploy with these would fail or reach nobody. Replace them, then deploy again.`);
  }
  const env = { account: stage.account, region: stage.region };
  const prefix = `VoiceAgent-${stage.name}`;

  const data = new DataStack(app, `${prefix}-Data`, { env, stage, description: `Voice agent (${stage.name}): stateful resources` });
  const service = new ServiceStack(app, `${prefix}-Service`, { env, stage, data, description: `Voice agent (${stage.name}): stateless services` });
  service.addStackDependency(data);

  Tags.of(app).add('project', 'voice-agent');
  Tags.of(app).add('stage', stage.name);

  // cdk-nag 3 is a policy-validation plugin: findings fail the synth unless acknowledged with a reason.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new PCIDSS321Checks(app));
  if (placeholders) Annotations.of(data).addWarningV2('voice-agent:placeholders', `${placeholders}\n(offline synth only: a deploy stops here)`);
  return { app, stage, data, service };
}

/**
 * Placeholders stop the app ('error') whenever it runs with AWS credentials: the CDK CLI sets CDK_DEFAULT_ACCOUNT
 * from the credentials it found (https://docs.aws.amazon.com/cdk/v2/guide/environments.html), and without
 * credentials no `cdk deploy` can happen. An offline `cdk synth` (CI, tests) has no credentials and only warns.
 * `-c placeholders=error` forces the check offline (tests); `-c placeholders=warn` is deliberately not honoured
 * with credentials, so nothing can deploy a placeholder by accident.
 */
function placeholderMode(app: App, env: NodeJS.ProcessEnv): 'error' | 'warn' {
  if (env.CDK_DEFAULT_ACCOUNT) return 'error';
  return app.node.tryGetContext('placeholders') === 'error' ? 'error' : 'warn';
}

/**
 * `-c arch=x86_64|arm64` overrides the stage's image architecture for one synth/deploy (e.g. a build machine without
 * arm64 emulation); anything else is refused with the valid values.
 */
function withArchitecture(stage: StageConfig, arch: unknown): StageConfig {
  if (arch === undefined) return stage;
  const valid: CpuArchitecture[] = ['arm64', 'x86_64'];
  if (!valid.includes(arch as CpuArchitecture)) throw new UnknownStageError(`unknown arch "${String(arch)}": valid values are ${valid.join(', ')}`);
  return { ...stage, cpuArchitecture: arch as CpuArchitecture };
}
