// Builds the CDK app for one stage: DataStack + ServiceStack, with the cdk-nag AwsSolutions and PCI DSS packs.
import { App, type AppProps, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, PCIDSS321Checks } from 'cdk-nag';
import { resolveStage, type StageConfig } from '../lib/config';
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
export function buildApp(props: AppProps = {}): VoiceAgentApp {
  const app = new App(props);
  const stage = resolveStage(app.node.tryGetContext('stage'));
  const env = { account: stage.account, region: stage.region };
  const prefix = `VoiceAgent-${stage.name}`;

  const data = new DataStack(app, `${prefix}-Data`, { env, stage, description: `Voice agent (${stage.name}): stateful resources` });
  const service = new ServiceStack(app, `${prefix}-Service`, { env, stage, data, description: `Voice agent (${stage.name}): stateless services` });
  service.addStackDependency(data);

  Tags.of(app).add('project', 'voice-agent');
  Tags.of(app).add('stage', stage.name);

  // cdk-nag 3 is a policy-validation plugin: findings fail the synth unless acknowledged with a reason.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new PCIDSS321Checks(app));
  return { app, stage, data, service };
}
