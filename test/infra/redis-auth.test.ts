// Pins item 3: the media service, the privacy path and the tool Lambdas all open Redis in ElastiCache's AUTH-token form.
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../lambdas/shared/cache';
import { connectRedis, elastiCacheRedisOptions, parseRedisUrl } from '../../fargate/src/store/redis';
import { privateRedis, type PrivateRedis } from '../fargate/store/redis-server';

/** Parses RESP arrays of bulk strings (what clients send) out of `buf`; returns the commands and the rest. */
function parseCommands(buf: string): { commands: string[][]; rest: string } {
  const commands: string[][] = [];
  let i = 0;
  for (;;) {
    const m = /^\*(\d+)\r\n/.exec(buf.slice(i));
    if (!m) break;
    let j = i + m[0].length;
    const args: string[] = [];
    for (let k = 0; k < Number(m[1]); k++) {
      const b = /^\$(\d+)\r\n/.exec(buf.slice(j));
      if (!b || buf.length < j + b[0].length + Number(b[1]) + 2) return { commands, rest: buf.slice(i) };
      j += b[0].length;
      args.push(buf.slice(j, j + Number(b[1])));
      j += Number(b[1]) + 2;
    }
    commands.push(args);
    i = j;
  }
  return { commands, rest: buf.slice(i) };
}

/** A TCP listener that records each connection's commands and answers like a Redis server that accepts them. */
async function recordingServer(): Promise<{ port: number; connections: string[][][]; close(): Promise<void> }> {
  const connections: string[][][] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const seen: string[][] = [];
    connections.push(seen);
    let pending = '';
    socket.on('data', (d) => {
      const { commands, rest } = parseCommands(pending + d.toString('latin1'));
      pending = rest;
      for (const c of commands) {
        c[0] = c[0]!.toUpperCase();
        seen.push(c);
        const name = c[0]!.toUpperCase();
        if (name === 'INFO') socket.write('$22\r\n# Server\r\nloading:0\r\n\r\n');
        else if (name === 'PING') socket.write('+PONG\r\n');
        else if (name === 'GET') socket.write('$-1\r\n');
        else socket.write('+OK\r\n');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const TOKEN = 'Token-With-Symbols!&#$^<>-0123456789';

describe('Redis AUTH form (ElastiCache AUTH-token mode: AUTH <token>)', () => {
  let rec: Awaited<ReturnType<typeof recordingServer>>;
  beforeAll(async () => {
    rec = await recordingServer();
  });
  afterAll(async () => rec.close());

  it('the media service and privacy path, given the URL config.ts builds (rediss-style default:<token>@), send AUTH <token> only', async () => {
    const before = rec.connections.length;
    const client = await connectRedis(`redis://default:${encodeURIComponent(TOKEN)}@127.0.0.1:${rec.port}`);
    await client.close();
    const first = rec.connections[before]![0];
    expect(first).toEqual(['AUTH', TOKEN]);
  });

  it('the tool Lambdas, given host/port and the token from Secrets Manager, send the same AUTH <token>', async () => {
    const before = rec.connections.length;
    const store = new RedisStore({ kind: 'host', host: '127.0.0.1', port: rec.port, tls: false, password: TOKEN });
    expect(await store.get('va:probe')).toBeNull();
    await store.close();
    expect(rec.connections[before]![0]).toEqual(['AUTH', TOKEN]);
  });

  it('never opens with HELLO 3 (RESP3), which would carry AUTH default <token>', () => {
    for (const conn of rec.connections) expect(conn.some((c) => c[0]!.toUpperCase() === 'HELLO')).toBe(false);
  });

  it('turns on TLS with the endpoint as SNI for rediss:// and keeps a non-default RBAC user', () => {
    const e = parseRedisUrl('rediss://default:abc@master.x.cache.amazonaws.com:6380');
    expect(e).toEqual({ host: 'master.x.cache.amazonaws.com', port: 6380, tls: true, authToken: 'abc' });
    expect(elastiCacheRedisOptions(e)).toEqual({ host: e.host, port: 6380, protocol: 2, tls: { servername: e.host }, password: 'abc' });
    expect(parseRedisUrl('redis://app:pw@h:1').username).toBe('app');
    expect(() => parseRedisUrl('http://h:1')).toThrow(/not a Redis URL/);
  });

  describe('against a real redis-server with requirepass', () => {
    let redis: PrivateRedis;
    beforeAll(async () => {
      redis = await privateRedis({ password: 'real-token-0123456789' });
      await redis.start();
    }, 30_000);
    afterAll(async () => redis.stop());

    it('all three clients authenticate and run commands', async () => {
      const media = await connectRedis(`redis://default:real-token-0123456789@127.0.0.1:${redis.port}`);
      expect(await media.ping()).toBe('PONG');
      await media.close();
      const tools = new RedisStore({ kind: 'host', host: '127.0.0.1', port: redis.port, tls: false, password: 'real-token-0123456789' });
      await tools.set('va:auth-probe', '1', 10);
      expect(await tools.get('va:auth-probe')).toBe('1');
      await tools.close();
    });
  });
});
