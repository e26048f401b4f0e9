// Pins local/node-support.ts: a local command no longer prints the AWS SDK's Node-version warning, and other warnings still print.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const spoolDir = mkdtempSync(join(tmpdir(), 'va-empty-spool-'));
afterAll(() => rmSync(spoolDir, { recursive: true, force: true }));

/** The SDK warns below this Node major (@aws-sdk/core emitWarningIfUnsupportedVersion). */
const SDK_WARNS = Number(process.versions.node.split('.')[0]) < 22;
const SDK_WARNING = /NodeVersionSupportWarning/;
const CANARY = 'canary: a warning that is not the AWS SDK one';

/**
 * `npm run transcripts -- replay` over an empty spool: it builds a DynamoDB client (which is where the SDK warns)
 * and writes nothing. A preloaded module emits one other warning, which must still reach stderr.
 */
function runTranscriptsReplay(env: Record<string, string | undefined>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', `data:text/javascript,process.emitWarning(${JSON.stringify(CANARY)})`, 'local/transcripts.ts', 'replay', '--table', 'transcripts', '--no-redis', '--dir', spoolDir, '--endpoint', 'http://127.0.0.1:9'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', ...env },
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the local tools and the AWS SDK Node-version warning', () => {
  it('a local command prints no NodeVersionSupportWarning, and another warning still prints', () => {
    const r = runTranscriptsReplay({});
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ table: 'transcripts', written: 0 });
    expect(r.stderr).not.toMatch(SDK_WARNING);
    expect(r.stderr).toContain(`Warning: ${CANARY}`);
  });

  it.runIf(SDK_WARNS)('the same command shows the warning when the environment asks for it (the filter is what silences it)', () => {
    const r = runTranscriptsReplay({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(SDK_WARNING);
    expect(r.stderr).toContain(`Warning: ${CANARY}`);
  });
});
