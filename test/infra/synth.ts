// Test helper: synthesizes the real app for one stage (cdk.json context, cdk-nag plugins on) into a temp dir.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp, type VoiceAgentApp } from '../../bin/app';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The context `cdk synth` would pass: cdk.json's feature flags plus `stage`. */
export function cliContext(stage: string): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return { ...cdkJson.context, stage };
}

/** One policy-validation finding as CDK writes it to validation-report.json. */
export interface ReportViolation {
  readonly ruleName: string;
  readonly description: string;
}

export interface Synthesized extends VoiceAgentApp {
  readonly dataTemplate: Template;
  readonly serviceTemplate: Template;
  /** Unacknowledged findings of every validation plugin (cdk-nag packs, CloudFormation validate). */
  readonly violations: ReportViolation[];
  /** Acknowledged findings with their plugin. */
  readonly acknowledged: ReportViolation[];
}

/**
 * Synthesizes like `cdk synth -c stage=NAME` (Lambdas bundled with esbuild unless `bundle: false`). Synthesis throws if cdk-nag
 * reports an unacknowledged error, so a returned value already means "no failing findings".
 */
export function synthStage(stage: string, opts: { bundle?: boolean } = {}): Synthesized {
  const outdir = mkdtempSync(path.join(tmpdir(), `voice-agent-infra-${stage}-`));
  // `aws:cdk:bundling-stacks: []` is what `cdk synth OtherStack` sets: assets are not bundled, templates unchanged.
  const context = opts.bundle === false ? { ...cliContext(stage), 'aws:cdk:bundling-stacks': [] } : cliContext(stage);
  // No process environment: a developer's CDK_DEFAULT_ACCOUNT must not turn placeholder warnings into errors here.
  const built = buildApp({ outdir, context }, {});
  const assembly = built.app.synth();
  const report = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8')) as {
    pluginReports: { pluginName: string; violations: ReportViolation[]; suppressedViolations?: ReportViolation[] }[];
  };
  return {
    ...built,
    dataTemplate: Template.fromStack(built.data),
    serviceTemplate: Template.fromStack(built.service),
    violations: report.pluginReports.flatMap((p) => p.violations),
    acknowledged: report.pluginReports.flatMap((p) => p.suppressedViolations ?? []),
  };
}

/** The CloudFormation logical id of a construct's L1 resource. */
export function logicalId(construct: IConstruct): string {
  const child = construct.node.defaultChild ?? construct;
  return Stack.of(construct).getLogicalId(child as CfnElement);
}

/** A resource's Properties by logical id. */
export function propsOf(template: Template, id: string): Record<string, any> {
  const resource = template.toJSON().Resources[id];
  if (!resource) throw new Error(`no resource ${id}`);
  return resource.Properties ?? {};
}

/** All resources of a type: [logicalId, resource]. */
export function resourcesOf(template: Template, type: string): [string, Record<string, any>][] {
  return Object.entries(template.toJSON().Resources as Record<string, Record<string, any>>).filter(([, r]) => r.Type === type);
}
