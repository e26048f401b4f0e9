// Shows the cdk-nag wiring bites: the same packs fail a synth on an unacknowledged finding, pass once acknowledged.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks, PCIDSS321Checks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';

/** A one-topic app with the packs bin/app.ts registers; the topic lacks KMS (AwsSolutions-SNS2, PCI SNSEncryptedKMS). */
function appWithPlainTopic(acknowledge: boolean): App {
  const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'voice-agent-nag-')) });
  const stack = new Stack(app, 'NagProbe', { env: { account: '111111111111', region: 'us-east-1' } });
  const topic = new sns.Topic(stack, 'Plain', { enforceSSL: true });
  if (acknowledge) {
    Validations.of(topic).acknowledge({ id: 'AwsSolutions-SNS2', reason: 'probe' });
    Validations.of(topic).acknowledge({ id: 'PCI.DSS.321-SNSEncryptedKMS', reason: 'probe' });
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new PCIDSS321Checks(app));
  return app;
}

describe('cdk-nag at synth', () => {
  it('fails the synth on an unacknowledged AwsSolutions and PCI DSS finding', () => {
    let message = '';
    try {
      appWithPlainTopic(false).synth();
    } catch (err) {
      message = String(err);
    }
    expect(message).toContain('AwsSolutions-SNS2');
    expect(message).toContain('PCI.DSS.321-SNSEncryptedKMS');
  });

  it('passes once each finding is acknowledged with a reason', () => {
    expect(() => appWithPlainTopic(true).synth()).not.toThrow();
  });
});
