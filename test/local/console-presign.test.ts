// npm run console's presigned wss:// URL: SigV4 query parameters for execute-api, a 300 s expiry, and a signature that checks out by the SigV4 rules.
import { createHash, createHmac } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { consoleUrl, pageUrlWith, PRESIGN_SECONDS, presignWebSocketUrl } from '../../local/console';
import { fakeAws, type FakeAwsState } from '../infra/fake-aws';

const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session/token+with=chars' };
const WS = 'wss://abc123def4.execute-api.us-east-1.amazonaws.com/dev';
const AT = new Date('2026-12-02T01:02:03Z');

const presign = (over: Partial<Parameters<typeof presignWebSocketUrl>[0]> = {}) =>
  presignWebSocketUrl({ url: WS, region: 'us-east-1', credentials: CREDS, signingDate: AT, ...over });

/** SigV4 query-string signature computed by hand from the spec (IAM user guide, "Create a signed AWS API request"). */
function expectedSignature(url: URL, secret: string, region: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const params = [...url.searchParams].filter(([k]) => k !== 'X-Amz-Signature').map(([k, v]) => [enc(k), enc(v)] as const);
  params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonicalQuery = params.map(([k, v]) => `${k}=${v}`).join('&');
  const emptyHash = createHash('sha256').update('').digest('hex');
  const canonicalRequest = ['GET', url.pathname, canonicalQuery, `host:${url.host}`, '', 'host', emptyHash].join('\n');
  const amzDate = url.searchParams.get('X-Amz-Date')!;
  const scope = `${amzDate.slice(0, 8)}/${region}/execute-api/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${secret}`, amzDate.slice(0, 8)), region), 'execute-api'), 'aws4_request');
  return createHmac('sha256', kSigning).update(toSign).digest('hex');
}

describe('presignWebSocketUrl', () => {
  it('carries the SigV4 query parameters with the execute-api credential scope and a 300 s expiry', async () => {
    const url = new URL(await presign());
    expect(url.protocol).toBe('wss:');
    expect(url.host).toBe('abc123def4.execute-api.us-east-1.amazonaws.com');
    expect(url.pathname).toBe('/dev');
    const q = url.searchParams;
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20261202/us-east-1/execute-api/aws4_request');
    expect(q.get('X-Amz-Date')).toBe('20261202T010203Z');
    expect(q.get('X-Amz-Expires')).toBe(String(PRESIGN_SECONDS));
    expect(PRESIGN_SECONDS).toBe(300);
    expect(q.get('X-Amz-SignedHeaders')).toBe('host');
    expect(q.get('X-Amz-Security-Token')).toBe(CREDS.sessionToken);
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('has a signature equal to the one the SigV4 rules give, computed independently', async () => {
    const url = new URL(await presign());
    expect(url.searchParams.get('X-Amz-Signature')).toBe(expectedSignature(url, CREDS.secretAccessKey, 'us-east-1'));
    // A different secret, region or path gives a different signature: the check is not vacuous.
    expect(expectedSignature(url, 'other-secret', 'us-east-1')).not.toBe(url.searchParams.get('X-Amz-Signature'));
    const moved = new URL(url);
    moved.pathname = '/prod';
    expect(expectedSignature(moved, CREDS.secretAccessKey, 'us-east-1')).not.toBe(url.searchParams.get('X-Amz-Signature'));
  });

  it('is reproduced by @smithy/signature-v4 re-signing the same request', async () => {
    const url = new URL(await presign());
    const signer = new SignatureV4({ service: 'execute-api', region: 'us-east-1', credentials: CREDS, sha256: Sha256 });
    const again = await signer.presign(
      new HttpRequest({ method: 'GET', protocol: 'wss:', hostname: url.hostname, path: url.pathname, headers: { host: url.host } }),
      { expiresIn: Number(url.searchParams.get('X-Amz-Expires')), signingDate: AT },
    );
    expect(again.query?.['X-Amz-Signature']).toBe(url.searchParams.get('X-Amz-Signature'));
  });

  it('resolves credentials from a provider (the default chain in the CLI)', async () => {
    const url = new URL(await presign({ credentials: async () => ({ accessKeyId: 'ASIAPROVIDER', secretAccessKey: 'secret' }) }));
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^ASIAPROVIDER\/20261202\/us-east-1\/execute-api\/aws4_request$/);
    expect(url.searchParams.has('X-Amz-Security-Token')).toBe(false);
  });

  it('refuses a non-wss URL and an expiry outside SigV4 limits', async () => {
    await expect(presign({ url: 'https://abc.execute-api.us-east-1.amazonaws.com/dev' })).rejects.toThrow(/wss:\/\//);
    await expect(presign({ expiresIn: 0 })).rejects.toThrow(/expiresIn/);
    await expect(presign({ expiresIn: 604_801 })).rejects.toThrow(/expiresIn/);
  });
});

describe('pageUrlWith', () => {
  it('puts the presigned URL, encoded, in the page URL as ?ws=, and it decodes back unchanged', async () => {
    const presigned = await presign();
    const page = pageUrlWith('https://d111111abcdef8.cloudfront.net/', presigned);
    expect(page.startsWith('https://d111111abcdef8.cloudfront.net/?ws=wss%3A%2F%2F')).toBe(true);
    expect(new URL(page).searchParams.get('ws')).toBe(presigned);
  });
});

describe('consoleUrl (npm run console)', () => {
  const state = (outputs: Record<string, string>): FakeAwsState => ({
    account: '123456789012',
    stacks: { 'VoiceAgent-dev-Service': outputs },
    unreservedConcurrency: 1000,
    secrets: {},
    subscriptions: [],
    redisStatuses: ['available'],
    redis: { automaticFailover: 'enabled', multiAz: 'enabled' },
    twilioNumbers: {},
  });
  const aws = (endpoint: string) => ({ endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });

  it("reads the stage's ConsoleWebSocketUrl and ConsolePageUrl outputs and returns the page URL with the presigned URL", async () => {
    const fake = await fakeAws(state({ ConsoleWebSocketUrl: WS, ConsolePageUrl: 'https://d111111abcdef8.cloudfront.net/' }));
    try {
      const page = new URL(await consoleUrl({ stage: 'dev', aws: aws(fake.endpoint), credentials: CREDS }));
      expect(page.origin).toBe('https://d111111abcdef8.cloudfront.net');
      const ws = new URL(page.searchParams.get('ws')!);
      expect(`${ws.protocol}//${ws.host}${ws.pathname}`).toBe(WS);
      expect(ws.searchParams.get('X-Amz-Expires')).toBe('300');
      expect(ws.searchParams.get('X-Amz-Signature')).toBe(expectedSignature(ws, CREDS.secretAccessKey, 'us-east-1'));
    } finally {
      await fake.close();
    }
  });

  it('says to redeploy when the stack has no console outputs yet', async () => {
    const fake = await fakeAws(state({ ToolsUrl: 'https://x.execute-api.us-east-1.amazonaws.com' }));
    try {
      await expect(consoleUrl({ stage: 'dev', aws: aws(fake.endpoint), credentials: CREDS })).rejects.toThrow(/no output ConsoleWebSocketUrl: redeploy/);
    } finally {
      await fake.close();
    }
  });
});
