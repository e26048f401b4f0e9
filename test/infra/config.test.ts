// Pins stage selection and the stage table: unknown stages fail listing the valid ones, values are coherent.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../bin/app';
import { DEFAULT_PRICES, provisionedConcurrencyFor, resolveStage, stageNames, stages, UnknownStageError } from '../../lib/config';
import { ROOT, cliContext } from './synth';

describe('stage selection', () => {
  it('refuses an unknown stage with a message listing dev, staging and prod', () => {
    expect(() => resolveStage('qa')).toThrow(UnknownStageError);
    expect(() => resolveStage('qa')).toThrow('unknown stage "qa": valid stages are dev, staging, prod');
  });

  it('refuses a missing stage and says how to pass one', () => {
    expect(() => resolveStage(undefined)).toThrow('no stage given: pass -c stage=NAME, where NAME is one of: dev, staging, prod');
    expect(() => resolveStage('')).toThrow(UnknownStageError);
  });

  it('does not mistake Object.prototype members for stages', () => {
    expect(() => resolveStage('toString')).toThrow(UnknownStageError);
  });

  it('buildApp fails before creating any stack when the context names no valid stage', () => {
    expect(() => buildApp({ context: cliContext('production') })).toThrow(/valid stages are dev, staging, prod/);
  });

  it('the CDK entry point exits 1 and prints the valid stages for an unknown stage', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'voice-agent.ts')], {
      cwd: ROOT,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ stage: 'qa' }), CDK_OUTDIR: mkdtempSync(path.join(tmpdir(), 'voice-agent-bin-')) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('unknown stage "qa": valid stages are dev, staging, prod');
  });
});

describe('stage table', () => {
  it('lists exactly dev, staging and prod', () => {
    expect(stageNames).toEqual(['dev', 'staging', 'prod']);
  });

  it.each(stageNames)('%s names two distinct AZs inside its own region', (name) => {
    const stage = stages[name];
    expect(new Set(stage.availabilityZones).size).toBe(2);
    for (const az of stage.availabilityZones) expect(az.startsWith(stage.region)).toBe(true);
  });

  it.each(stageNames)('%s prices both of its LLM models and keeps a certificate only together with a domain in its region', (name) => {
    const stage: import('../../lib/config').StageConfig = stages[name];
    expect(stage.prices.llm[stage.llm.modelSmall]).toBeDefined();
    expect(stage.prices.llm[stage.llm.modelLarge]).toBeDefined();
    if (stage.certificateArn) {
      expect(stage.domainName).toBeDefined();
      expect(stage.certificateArn.split(':')[3]).toBe(stage.region);
    }
    // The ALB allows a deregistration delay of 0–3600 s; Fargate's stopTimeout cap is unrelated to it.
    expect(stage.media.deregistrationDelaySeconds).toBeGreaterThan(0);
    expect(stage.media.deregistrationDelaySeconds).toBeLessThanOrEqual(3600);
    expect(stage.media.minTasks).toBeLessThanOrEqual(stage.media.maxTasks);
  });

  it('dev runs without a certificate (plain HTTP); prod needs one and protects its data', () => {
    const dev: import('../../lib/config').StageConfig = stages.dev;
    expect(dev.certificateArn).toBeUndefined();
    expect(stages.prod.certificateArn).toMatch(/^arn:aws:acm:/);
    expect(stages.prod.protectData).toBe(true);
    expect(stages.dev.protectData).toBe(false);
  });

  it('resolves provisioned concurrency per tool: overrides first, then the stage default', () => {
    expect(provisionedConcurrencyFor(stages.dev, 'check_availability')).toBe(0);
    expect(provisionedConcurrencyFor(stages.staging, 'check_availability')).toBe(1);
    expect(provisionedConcurrencyFor(stages.prod, 'check_availability')).toBe(4);
    expect(provisionedConcurrencyFor(stages.prod, 'lookup_customer')).toBe(2);
    expect(provisionedConcurrencyFor(stages.prod, 'vapi')).toBe(2);
  });

  it("uses Groq's current gpt-oss models in every stage", () => {
    for (const name of stageNames) expect(stages[name].llm).toEqual({ modelSmall: 'openai/gpt-oss-20b', modelLarge: 'openai/gpt-oss-120b' });
  });
});

describe('price table', () => {
  it('carries the numbers.md §2.1 list prices and the date they were checked', () => {
    expect(DEFAULT_PRICES.pricesAsOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(DEFAULT_PRICES.twilio).toEqual({ inboundPerMin: 0.0085, mediaStreamsPerMin: 0.0044 });
    expect(DEFAULT_PRICES.deepgram).toEqual({ nova3PerMin: 0.0077, fluxPerMin: 0.0065 });
    expect(DEFAULT_PRICES.llm['openai/gpt-oss-20b']).toEqual({ inputPerMTok: 0.075, outputPerMTok: 0.3 });
    expect(DEFAULT_PRICES.llm['openai/gpt-oss-120b']).toEqual({ inputPerMTok: 0.15, outputPerMTok: 0.6 });
    expect(DEFAULT_PRICES.fargate).toEqual({ vcpuHour: 0.03238, gbHour: 0.00356 });
    expect(DEFAULT_PRICES.lambda.perRequest * 1_000_000).toBeCloseTo(0.2, 10);
    expect(DEFAULT_PRICES.lambda.perGbSecond).toBe(0.0000133334);
    expect(DEFAULT_PRICES.elevenlabs.per1kChars).toBeGreaterThanOrEqual(0.04);
    expect(DEFAULT_PRICES.elevenlabs.per1kChars).toBeLessThanOrEqual(0.06);
  });

  it('survives the JSON round trip the media service receives as PRICES_JSON', () => {
    expect(JSON.parse(JSON.stringify(DEFAULT_PRICES))).toEqual(DEFAULT_PRICES);
  });

  it('lib/config.ts stays free of aws-cdk-lib so the media service can import it', () => {
    const source = readFileSync(path.join(ROOT, 'lib', 'config.ts'), 'utf8');
    expect(source).not.toMatch(/from ['"](aws-cdk-lib|constructs|cdk-nag)/);
    // Only type imports of the shared contracts (erased at build), nothing that loads code.
    for (const line of source.match(/^import .*$/gm) ?? []) expect(line).toMatch(/^import type .* from '\.\.\/contracts\//);
  });
});
