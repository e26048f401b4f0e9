// The HTTP ToolClient: against the real local tools API (dynalite + Redis) and plain test servers for timeouts, errors, abort and SigV4.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startToolsServer, type ToolsServer } from '../../../local/tools-server';
import { defineTool } from '../../../contracts/tool-contract';
import { NOW, startStack, type Stack } from '../../lambdas/harness';
import { createToolClient, spokenField } from '../../../fargate/src/tools/tool-client';
import { log } from '../providers/helpers';

const call = (name: string, args: unknown, id = 'call_1') => ({ id, name, arguments: typeof args === 'string' ? args : JSON.stringify(args) });
const ctx = (signal = new AbortController().signal) => ({ callSid: 'CA00000000000000000000000000000001', callerPhone: '+15551230001', signal });

describe('tool client against the local tools API', () => {
  let stack: Stack;
  let server: ToolsServer;
  beforeAll(async () => {
    stack = await startStack('tool-client');
    server = await startToolsServer({ env: stack.env, runtime: { clock: () => NOW } });
  });
  afterAll(async () => {
    await server.close();
    await stack.close();
  });

  it('returns the tool result as the tool message content', async () => {
    const client = createToolClient({ baseUrl: server.url, auth: 'none', region: 'us-east-1', log, defaultTimeoutMs: 5000 });
    const r = await client.call(call('check_availability', { service: 'haircut', date: 'tomorrow' }), ctx());
    client.close();
    expect(r).toMatchObject({ toolCallId: 'call_1', name: 'check_availability', ok: true });
    const content = JSON.parse(r.content);
    expect(content.result).toBeTypeOf('object');
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('turns a 400 into a speakable failure naming the field', async () => {
    const client = createToolClient({ baseUrl: server.url, auth: 'none', region: 'us-east-1', log });
    const r = await client.call(call('check_availability', { service: 'haircut', date: 'someday' }), ctx());
    client.close();
    expect(r.ok).toBe(false);
    const content = JSON.parse(r.content);
    expect(content.field).toBe('date');
    expect(content.speakable).toMatch(/valid date/);
  });
});

describe('tool client failure handling', () => {
  let server: Server;
  let url: string;
  let connections = 0;
  const requests: { path: string; headers: IncomingMessage['headers']; body: string }[] = [];
  let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = () => {};
  const slow = defineTool({ name: 'slow_tool', description: 'slow', input: z.object({}), latencyClass: 'slow', idempotent: true, timeoutMs: 150 });
  const fast = defineTool({ name: 'fast_tool', description: 'fast', input: z.object({ when: z.string() }), latencyClass: 'instant', idempotent: true });
  const contractFor = (n: string) => ({ slow_tool: slow, fast_tool: fast })[n];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        requests.push({ path: req.url ?? '', headers: req.headers, body });
        handler(req, res, body);
      });
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stage`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = (o: Partial<Parameters<typeof createToolClient>[0]> = {}) => createToolClient({ baseUrl: url, auth: 'none', region: 'us-east-1', log, contractFor, ...o });
  const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  it('posts the CONTRACTS.md body under the base path and reuses one keep-alive connection', async () => {
    handler = (_req, res) => json(res, 200, { result: { ok: 1 }, speakable: 'Done.' });
    requests.length = 0;
    connections = 0;
    const c = client();
    const a = await c.call(call('fast_tool', { when: 'today' }), ctx());
    const b = await c.call(call('fast_tool', { when: 'tomorrow' }, 'call_2'), ctx());
    c.close();
    expect([a.ok, b.ok]).toEqual([true, true]);
    expect(JSON.parse(a.content)).toEqual({ result: { ok: 1 }, speakable: 'Done.' });
    expect(requests[0]!.path).toBe('/stage/tools/fast_tool');
    expect(JSON.parse(requests[0]!.body)).toEqual({ callSid: 'CA00000000000000000000000000000001', toolCallId: 'call_1', callerPhone: '+15551230001', arguments: { when: 'today' } });
    expect(connections).toBe(1);
  });

  it('turns a timeout into a speakable failure instead of an exception', async () => {
    handler = () => {}; // never answers
    const c = client();
    const r = await c.call(call('slow_tool', {}), ctx());
    c.close();
    expect(r.ok).toBe(false);
    expect(JSON.parse(r.content)).toMatchObject({ error: 'timed out after 150 ms', speakable: expect.stringMatching(/too long/) });
  });

  it('rejects with the call signal reason when the call is aborted', async () => {
    handler = () => {};
    const c = client();
    const ac = new AbortController();
    const p = c.call(call('slow_tool', {}), ctx(ac.signal));
    setTimeout(() => ac.abort(new Error('caller hung up')), 20);
    await expect(p).rejects.toThrow('caller hung up');
    c.close();
  });

  it('speaks a 5xx, an unknown tool and broken JSON arguments as failures', async () => {
    handler = (_req, res) => json(res, 502, { message: 'Bad Gateway' });
    requests.length = 0;
    const c = client();
    const upstream = await c.call(call('fast_tool', { when: 'x' }, 'u1'), ctx());
    const unknown = await c.call(call('launch_rockets', {}, 'u2'), ctx());
    const broken = await c.call(call('fast_tool', '{"when": "tom', 'u3'), ctx());
    c.close();
    expect(JSON.parse(upstream.content).speakable).toMatch(/couldn't reach/);
    expect(JSON.parse(unknown.content).speakable).toMatch(/not able/);
    expect(JSON.parse(broken.content).error).toMatch(/not a JSON object/);
    expect([upstream.ok, unknown.ok, broken.ok]).toEqual([false, false, false]);
    // unknown tools and broken arguments never leave the task
    expect(requests.map((r) => JSON.parse(r.body).toolCallId).filter((id: string) => id.startsWith('u'))).toEqual(['u1']);
  });

  it('signs requests with SigV4 for execute-api when TOOLS_AUTH=iam', async () => {
    handler = (_req, res) => json(res, 200, { result: {} });
    requests.length = 0;
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
    const c = client({ auth: 'iam', region: 'eu-west-1', credentials });
    await c.call(call('fast_tool', { when: 'now' }), ctx());
    c.close();
    const got = requests[0]!;
    const auth = String(got.headers.authorization);
    expect(auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request/);
    // Verify like API Gateway would: re-sign the received request at its x-amz-date and compare.
    const amzDate = String(got.headers['x-amz-date']);
    const date = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    const port = (server.address() as AddressInfo).port;
    const signer = new SignatureV4({ service: 'execute-api', region: 'eu-west-1', credentials, sha256: Sha256 });
    const resigned = await signer.sign(
      new HttpRequest({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port, path: got.path, headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(got.body)) }, body: got.body }),
      { signingDate: date },
    );
    expect(resigned.headers.authorization).toBe(auth);
  });

  it('says field names the way a person would', () => {
    expect(spokenField('endDate')).toBe('end date');
    expect(spokenField('customer.phoneNumber')).toBe('customer phone number');
  });
});
