// Pins the production bundle: fargate/build.ts's esbuild options produce one ESM file that serves calls under plain `node`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { mediaServiceBuild } from '../../fargate/build';
import { testEnv } from './fixtures/env';
import { openStream, postWebhook, streamParameters, until } from './fixtures/twilio-peer';

const dir = mkdtempSync(join(tmpdir(), 'media-bundle-'));
const echoCall = fileURLToPath(new URL('./fixtures/echo-call.ts', import.meta.url));

// Swap main.ts's './runtime' for the echo runtime so the bundle is tested without the pipeline's providers.
const echoRuntime: Plugin = {
  name: 'echo-call',
  setup(b) {
    b.onResolve({ filter: /^\.\/runtime$/ }, (args) => (args.importer.endsWith(join('fargate', 'src', 'main.ts')) ? { path: echoCall } : undefined));
  },
};

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('media-service bundle', () => {
  it('builds to a single ESM file that boots under plain node, answers a webhook and a stream, and exits 0 on SIGTERM', async () => {
    const outfile = join(dir, 'media-service.mjs');
    const result = await build({ ...mediaServiceBuild, outfile, plugins: [echoRuntime], logLevel: 'silent' });
    expect(result.errors).toEqual([]);
    expect(statSync(`${outfile}.map`).size).toBeGreaterThan(0);

    const auth = 'twilio-auth-token-test';
    const publicUrl = 'https://voice.example.test';
    const child = spawn(process.execPath, [outfile], {
      cwd: dir, // nothing from the repo's node_modules is reachable from here
      // The image runs Node 22 (fargate/Dockerfile); on this Node 20 the AWS SDK prints its one NodeVersionSupportWarning
      // (@aws-sdk/core emitWarningIfUnsupportedVersion), which its documented switch turns off.
      env: { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...testEnv({ LOG_LEVEL: 'info', PORT: '0', PUBLIC_URL: publicUrl, TWILIO_AUTH_TOKEN: auth, METRICS_PORT: '0' }) } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    try {
      let port = 0;
      createInterface({ input: child.stdout }).on('line', (l) => {
        const m = /"port":(\d+).*"msg":"media service listening"/.exec(l);
        if (m) port = Number(m[1]);
      });
      await until(() => port > 0 || child.exitCode !== null, 30_000, 'bundle to listen');
      expect(stderr).toBe('');
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);

      const callSid = 'CA' + '6'.repeat(32);
      const hook = await postWebhook(base, { authToken: auth, publicUrl, params: { CallSid: callSid, From: '+15551230001', To: '+15550001000' } });
      expect(hook.status).toBe(200);
      const client = await openStream(`ws://127.0.0.1:${port}`);
      client.begin({ callSid, customParameters: streamParameters(hook.body).params });
      client.media(Uint8Array.of(9, 8, 7));
      const [echo] = await client.waitFor((m) => m.event === 'media');
      expect(Buffer.from((echo!.media as { payload: string }).payload, 'base64')).toEqual(Buffer.from([9, 8, 7]));
      client.stop(callSid);
      await client.closedWith();

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
