// `npm run console -- --stage NAME [--open]`: presign the stage's console WebSocket URL with your own AWS credentials and open the console page with it.
//
// The WebSocket API authorizes `$connect` with IAM, so the client must sign that request with SigV4
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-control-access-iam.html). A
// browser's WebSocket cannot set an Authorization header, so the signature travels in the query string (SigV4 query
// parameters: X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature,
// plus X-Amz-Security-Token for temporary credentials; https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html).
// The URL is good for 300 s, long enough to open the page; the connection it opens then lives up to API Gateway's 2 h.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { type AwsClientConfig, clientConfig, requireOutput, runCli, stackNames, stackOutputs, stageFromArg, wantsHelp } from './aws-stage';

export const USAGE = `usage: npm run console -- --stage <dev|staging|prod> [--open] [--expires SECONDS]
Presigns the stage's operations-console WebSocket URL (SigV4, service execute-api) with your AWS credentials
(the default chain: AWS_PROFILE, SSO, environment, ...) and prints the console page URL carrying it as ?ws=.
--open also launches it in your browser. Your principal needs execute-api:Invoke on the ConsoleConnectArn output.`;

/** How long the presigned URL may be used to connect. */
export const PRESIGN_SECONDS = 300;

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Signs `wss://host/stage` for `execute-api` in `region` with query-string SigV4; returns the wss:// URL. */
export async function presignWebSocketUrl(opts: {
  url: string;
  region: string;
  credentials: Credentials | (() => Promise<Credentials>);
  expiresIn?: number;
  signingDate?: Date;
}): Promise<string> {
  const url = new URL(opts.url);
  if (url.protocol !== 'wss:') throw new Error(`expected a wss:// URL, got ${opts.url}`);
  const expiresIn = opts.expiresIn ?? PRESIGN_SECONDS;
  // SigV4 query signing allows at most 7 days (604800 s); API Gateway checks the expiry at $connect.
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > 604_800) throw new Error(`expiresIn must be 1..604800 seconds, got ${expiresIn}`);
  const signer = new SignatureV4({ service: 'execute-api', region: opts.region, credentials: opts.credentials, sha256: Sha256 });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'wss:',
    hostname: url.hostname,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { host: url.host },
  });
  const signed = await signer.presign(request, { expiresIn, ...(opts.signingDate ? { signingDate: opts.signingDate } : {}) });
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(signed.query ?? {})) {
    for (const one of [v].flat()) if (typeof one === 'string') query.append(k, one);
  }
  return `wss://${url.host}${url.pathname}?${query.toString()}`;
}

/** The page URL with the presigned WebSocket URL as its `ws` query parameter (what console/ reads). */
export function pageUrlWith(pageUrl: string, presigned: string): string {
  const page = new URL(pageUrl);
  page.searchParams.set('ws', presigned);
  return page.toString();
}

/** Reads the stage's console outputs, presigns, and returns the page URL to open. */
export async function consoleUrl(opts: { stage: string; expiresIn?: number; aws?: Partial<AwsClientConfig>; credentials?: Credentials }): Promise<string> {
  const stage = stageFromArg(opts.stage);
  const config = clientConfig(stage, opts.aws);
  const cfn = new CloudFormationClient(config);
  try {
    const { service } = stackNames(stage);
    const outputs = await stackOutputs(cfn, service);
    const wsUrl = requireOutput(outputs, 'ConsoleWebSocketUrl', service);
    const pageUrl = requireOutput(outputs, 'ConsolePageUrl', service);
    const presigned = await presignWebSocketUrl({ url: wsUrl, region: stage.region, credentials: opts.credentials ?? defaultProvider(), expiresIn: opts.expiresIn });
    return pageUrlWith(pageUrl, presigned);
  } finally {
    cfn.destroy();
  }
}

/** The platform's "open this URL" command. */
function openInBrowser(url: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  const child = spawn(cmd, args as string[], { detached: true, stdio: 'ignore' });
  child.on('error', (err) => console.error(`could not launch a browser (${err.message}); open the URL above yourself`));
  child.unref();
}

export async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(USAGE);
    return 0;
  }
  const { values } = parseArgs({ args: argv, options: { stage: { type: 'string' }, open: { type: 'boolean' }, expires: { type: 'string' } }, strict: true });
  const expiresIn = values.expires === undefined ? PRESIGN_SECONDS : Number(values.expires);
  const url = await consoleUrl({ stage: values.stage ?? '', expiresIn });
  console.log(url);
  console.error(`(the embedded WebSocket URL is signed with your credentials and can be used to connect for ${expiresIn} s: do not share it)`);
  if (values.open) openInBrowser(url);
  return 0;
}

runCli(import.meta.url, 'console', main);
