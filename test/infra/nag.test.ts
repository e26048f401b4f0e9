// Shows the cdk-nag wiring bites: the same packs fail a synth on unacknowledged findings, pass once acknowledged.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks, PCIDSS321Checks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';

/** The findings a role with `s3:*` on `*` raises in the two packs bin/app.ts registers. */
const FINDINGS = [
  'AwsSolutions-IAM5[Action::s3:*]',
  'AwsSolutions-IAM5[Resource::*]',
  'PCI.DSS.321-IAMNoInlinePolicy',
  'PCI.DSS.321-IAMPolicyNoStatementsWithFullAccess',
];

/** A one-role app with the same packs as the real app; optionally acknowledges every finding with a reason. */
function appWithWildcardRole(acknowledge: boolean): App {
  const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'voice-agent-nag-')) });
  const stack = new Stack(app, 'NagProbe', { env: { account: '111111111111', region: 'us-east-1' } });
  const role = new iam.Role(stack, 'Wide', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
  if (acknowledge) for (const id of FINDINGS) Validations.of(role).acknowledge({ id, reason: 'probe: proves acknowledgements are honoured' });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new PCIDSS321Checks(app));
  return app;
}

function reportOf(app: App): { pluginReports: { violations: { ruleName: string }[] }[] } {
  return JSON.parse(readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8'));
}

describe('cdk-nag at synth', () => {
  it('fails the synth on unacknowledged AwsSolutions and PCI DSS findings', () => {
    const app = appWithWildcardRole(false);
    expect(() => app.synth()).toThrow(/ERROR/);
    // CDK writes the report before it throws.
    const failing = reportOf(app).pluginReports.flatMap((p) => p.violations.map((v) => v.ruleName));
    expect(failing.sort()).toEqual([...FINDINGS].sort());
  });

  it('passes once each finding is acknowledged with a reason', () => {
    const app = appWithWildcardRole(true);
    expect(() => app.synth()).not.toThrow();
    expect(reportOf(app).pluginReports.flatMap((p) => p.violations)).toEqual([]);
  });
});
