// The local stand-in for the console's API Gateway WebSocket API: consoles connect on /ws, the console handlers get
// WebSocket-shaped Lambda events, the `@connections` management API answers the real paths, and the page is served.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ConsoleEventIn, ConsoleHandlers } from './console-handlers';

type WebSocketEvent = ConsoleEventIn;

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'console');
const PAGE_FILES: Record<string, string> = { '/': 'index.html', '/index.html': 'index.html', '/console.js': 'console.js', '/console.css': 'console.css' };
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

export interface ConsoleGatewayOptions {
  /** The console Lambdas, given the management endpoint they post acks to once the port is known. */
  handlers: (managementEndpoint: string) => ConsoleHandlers;
  /** @default 0 (ephemeral) */
  port?: number;
  /** The stage segment of the management endpoint, as in `https://{api}.execute-api.{region}.amazonaws.com/{stage}`. @default 'local' */
  stage?: string;
}

export interface ConsoleGateway {
  /** http://127.0.0.1:PORT/ — the page. */
  pageUrl: string;
  /** ws://127.0.0.1:PORT/ws — what the page connects to. */
  wsUrl: string;
  /** For CONSOLE_MANAGEMENT_ENDPOINT: http://127.0.0.1:PORT/{stage}. */
  managementEndpoint: string;
  /** Open connection ids. */
  connections(): string[];
  close(): Promise<void>;
}

interface Conn {
  ws: WebSocket;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string;
}

/** API Gateway's connection ids look like `L0SM9cOFvHcCIhw=`: 12 random bytes, base64. */
const newConnectionId = () => randomBytes(12).toString('base64');

export async function startConsoleGateway(opts: ConsoleGatewayOptions): Promise<ConsoleGateway> {
  const stage = opts.stage ?? 'local';
  const conns = new Map<string, Conn>();
  let handlers: ConsoleHandlers | undefined;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 32 * 1024 });
  const server = createServer((req, res) => void route(req, res));
  let host = '';

  const event = (id: string, c: Pick<Conn, 'connectedAt' | 'sourceIp' | 'userAgent'>, routeKey: string, eventType: ConsoleEventIn['requestContext']['eventType'], extra: Partial<ConsoleEventIn> & { headers?: Record<string, string>; queryStringParameters?: Record<string, string> } = {}, ctx: Partial<ConsoleEventIn['requestContext']> & { disconnectStatusCode?: number; disconnectReason?: string } = {}): WebSocketEvent => ({
    requestContext: {
      routeKey, eventType, connectionId: id, domainName: host, stage, apiId: 'local', requestId: randomUUID(), extendedRequestId: randomUUID(),
      requestTime: new Date().toUTCString(), requestTimeEpoch: Date.now(), messageDirection: 'IN', messageId: randomUUID(), connectedAt: c.connectedAt,
      // IAM auth on $connect: the caller's principal; the laptop has none, so "local" (contracts/console.ts).
      identity: { sourceIp: c.sourceIp, userArn: 'local' }, ...ctx,
    },
    isBase64Encoded: false,
    ...extra,
  });

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/ws') return void socket.destroy();
    const id = newConnectionId();
    const meta = { connectedAt: Date.now(), sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: String(req.headers['user-agent'] ?? '') };
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    handlers!.connect(event(id, meta, '$connect', 'CONNECT', { headers, queryStringParameters: Object.fromEntries(url.searchParams) })).then(
      (r) => {
        // A $connect integration that does not answer 2xx rejects the handshake (API Gateway answers the same status).
        if (r.statusCode < 200 || r.statusCode > 299) return void (socket.end(`HTTP/1.1 ${r.statusCode} Rejected\r\nConnection: close\r\n\r\n`));
        wss.handleUpgrade(req, socket, head, (ws) => attach(id, ws, meta));
      },
      () => socket.end('HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n'),
    );
  });

  function attach(id: string, ws: WebSocket, meta: Omit<Conn, 'ws' | 'lastActiveAt'>): void {
    const c: Conn = { ws, ...meta, lastActiveAt: Date.now() };
    conns.set(id, c);
    ws.on('message', (data) => {
      c.lastActiveAt = Date.now();
      void handlers!.action(event(id, c, '$default', 'MESSAGE', { body: data.toString() })).catch(() => undefined);
    });
    ws.on('close', (code, reason) => {
      conns.delete(id);
      void handlers!.disconnect(event(id, c, '$disconnect', 'DISCONNECT', {}, { disconnectStatusCode: code, disconnectReason: reason.toString() })).catch(() => undefined);
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    // The management API (PostToConnection / GetConnection / DeleteConnection), after the SDK's model
    // (@aws-sdk/client-apigatewaymanagementapi: POST|GET|DELETE /@connections/{ConnectionId}) and
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-how-to-call-websocket-api-connections.html.
    const m = /^(?:\/[^/]+)?\/@connections\/([^/]+)$/.exec(url.pathname);
    if (m) return management(req, res, decodeURIComponent(m[1]!));
    const file = PAGE_FILES[url.pathname];
    if (req.method === 'GET' && file) {
      const body = await readFile(join(PAGE_DIR, file)).catch(() => undefined);
      if (body) {
        res.writeHead(200, { 'content-type': TYPES[file.split('.').pop()!]!, 'cache-control': 'no-store' });
        return void res.end(body);
      }
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }

  async function management(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const ch of req) chunks.push(ch as Buffer);
    const c = conns.get(id);
    if (!c || c.ws.readyState !== c.ws.OPEN) {
      // restJson1 error: the type in x-amzn-ErrorType, which the SDK maps to GoneException (HTTP 410).
      res.writeHead(410, { 'content-type': 'application/json', 'x-amzn-errortype': 'GoneException' });
      return void res.end('{"message":null}');
    }
    if (req.method === 'POST') {
      const body = Buffer.concat(chunks);
      if (body.length > 128 * 1024) {
        res.writeHead(413, { 'content-type': 'application/json', 'x-amzn-errortype': 'PayloadTooLargeException' });
        return void res.end('{"message":"Message too long"}');
      }
      c.ws.send(body.toString('utf8'));
      return void res.writeHead(200, { 'content-type': 'application/json' }).end();
    }
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ connectedAt: new Date(c.connectedAt).toISOString(), identity: { sourceIp: c.sourceIp, userAgent: c.userAgent }, lastActiveAt: new Date(c.lastActiveAt).toISOString() }));
    }
    if (req.method === 'DELETE') {
      c.ws.close(1000, 'deleted');
      return void res.writeHead(204).end();
    }
    res.writeHead(405, { 'content-type': 'application/json' }).end('{"message":"method not allowed"}');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  host = `127.0.0.1:${port}`;
  handlers = opts.handlers(`http://${host}/${stage}`);
  return {
    pageUrl: `http://${host}/`,
    wsUrl: `ws://${host}/ws`,
    managementEndpoint: `http://${host}/${stage}`,
    connections: () => [...conns.keys()],
    async close() {
      for (const c of conns.values()) c.ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
