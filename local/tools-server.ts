// Local adapter: serves the tool Lambdas and the Vapi webhook over node:http by building API Gateway HTTP API v2 events.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { toolsHttpHandler } from '../lambdas/shared/dispatch';
import { createRuntime, type RuntimeOptions } from '../lambdas/shared/runtime';
import { createAndSeed, type SeedSummary } from '../lambdas/shared/seed';
import { resolveSecret } from '../lambdas/shared/secrets';
import { toolImplementations } from '../lambdas/tools/implementations';
import { createAuthorizer } from '../lambdas/vapi/authorizer';
import { vapiHandler } from '../lambdas/vapi/handler';

/** API Gateway HTTP APIs accept up to 10 MB; the adapter stops reading at 1 MiB (the handlers' own limits are far lower). */
const ADAPTER_MAX_BYTES = 1024 * 1024;

export interface ToolsServerOptions {
  /** @default 0 (ephemeral) */
  port?: number;
  /** Lambda environment (CONTRACTS.md names), over process.env. DYNAMODB_ENDPOINT defaults to dynalite on 4106. */
  env?: Record<string, string>;
  /** @default '127.0.0.1' */
  host?: string;
  /** Runtime overrides (clock, data source, store); EMF metrics are off locally unless TOOLS_EMF=true. */
  runtime?: RuntimeOptions;
}

export interface ToolsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

type Route = { kind: 'tools'; name: string } | { kind: 'vapi' } | { kind: 'health' };

function route(method: string, path: string): Route | undefined {
  if (method === 'GET' && path === '/healthz') return { kind: 'health' };
  if (method !== 'POST') return undefined;
  const m = /^\/tools\/([^/]+)\/?$/.exec(path);
  if (m) return { kind: 'tools', name: decodeURIComponent(m[1]!) };
  if (path === '/vapi/tool-calls' || path === '/vapi/tool-calls/') return { kind: 'vapi' };
  return undefined;
}

/** The HTTP API v2 event API Gateway would hand the Lambda (lower-cased headers, comma-joined repeats). */
function toEvent(req: IncomingMessage, url: URL, body: string, routeKey: string, pathParameters?: Record<string, string>): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  const now = Date.now();
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    pathParameters,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: 'local',
      http: { method: req.method ?? 'POST', path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    body,
    isBase64Encoded: false,
  };
}

function send(res: ServerResponse, out: APIGatewayProxyStructuredResultV2): void {
  res.writeHead(out.statusCode ?? 200, { 'content-type': 'application/json', ...(out.headers as Record<string, string> | undefined) });
  res.end(out.body ?? '');
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > ADAPTER_MAX_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Starts the adapter: `POST /tools/{name}` → the tool handler path, `POST /vapi/tool-calls` → the Vapi
 * authorizer then the Vapi handler, `GET /healthz`. One runtime (Redis connection, DynamoDB client) per server.
 */
export async function startToolsServer(opts: ToolsServerOptions = {}): Promise<ToolsServer> {
  const env: Record<string, string | undefined> = {
    DYNAMODB_ENDPOINT: 'http://127.0.0.1:4106',
    STAGE: 'local',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    ...process.env,
    ...opts.env,
  };
  const runtime = createRuntime(env, { metrics: env.TOOLS_EMF === 'true', ...opts.runtime });
  const tools = toolsHttpHandler(toolImplementations, () => runtime);
  const vapi = vapiHandler(() => runtime, toolImplementations);
  const authorize = createAuthorizer(() => resolveSecret(runtime.config.vapiSecret));
  await runtime.warm();

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const r = route(req.method ?? 'GET', url.pathname);
      if (!r) return send(res, { statusCode: 404, body: JSON.stringify({ message: 'Not Found' }) });
      if (r.kind === 'health') return send(res, { statusCode: 200, body: JSON.stringify({ ok: true }) });
      const body = await readBody(req);
      if (body === undefined) return send(res, { statusCode: 413, body: JSON.stringify({ message: 'Request Entity Too Large' }) });
      if (r.kind === 'tools') {
        return send(res, await tools(toEvent(req, url, body, 'POST /tools/{name}', { name: r.name })));
      }
      const event = toEvent(req, url, body, 'POST /vapi/tool-calls');
      // HTTP API with a simple-response authorizer answers 403 {"message":"Forbidden"} when isAuthorized is false.
      if (!(await authorize(event)).isAuthorized) return send(res, { statusCode: 403, body: JSON.stringify({ message: 'Forbidden' }) });
      return send(res, await vapi(event));
    })().catch((err: unknown) => {
      runtime.log.error('local adapter failed a request', { error: (err as Error)?.name });
      if (!res.headersSent) send(res, { statusCode: 500, body: JSON.stringify({ message: 'Internal Server Error' }) });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await runtime.close();
    },
  };
}

// dynalite ships no type declarations; this is the one signature used (its readme: `dynalite(options)` → http.Server).
const dynalite = createRequire(import.meta.url)('dynalite') as (opts?: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server;

export interface LocalBusinessStore {
  endpoint: string;
  port: number;
  /** What was seeded (dates relative to `now`). */
  seed: SeedSummary;
  close(): Promise<void>;
}

/**
 * Starts dynalite in this process (in memory), creates the business and idempotency tables, and seeds the demo
 * data. Port 0 unless given (CONTRACTS.md default for the local stack: 4106).
 */
export async function startLocalBusinessStore(opts: { port?: number; env?: Record<string, string>; now?: Date; days?: number } = {}): Promise<LocalBusinessStore> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;
  const env = { ...process.env, ...opts.env };
  try {
    const seed = await createAndSeed({
      businessTable: env.BUSINESS_TABLE || 'business',
      idempotencyTable: env.IDEMPOTENCY_TABLE || 'idempotency',
      endpoint,
      region: env.AWS_REGION || 'us-east-1',
      timeZone: env.BUSINESS_TIMEZONE || 'America/New_York',
      now: opts.now,
      days: opts.days,
    });
    return { endpoint, port, seed, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  } catch (err) {
    server.close();
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.TOOLS_PORT ?? 4105);
  startToolsServer({ port }).then(
    (s) => {
      console.log(`tools adapter on ${s.url} (POST /tools/{name}, POST /vapi/tool-calls)`);
      const stop = () => void s.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
