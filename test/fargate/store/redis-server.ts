// Test helper: a private redis-server child (own port, optional AUTH password) that a test may stop and start again.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../../local/ports';
import { Redis } from 'ioredis';

export interface PrivateRedis {
  port: number;
  url: string;
  /** Starts (or restarts) the server on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** Stops the server (SIGKILL: an outage, not a graceful shutdown). */
  stop(): Promise<void>;
}

/**
 * A redis-server of its own (the `redis-server` binary the machine runs anyway), so a test can take Redis down
 * without disturbing other test files on the shared server. No persistence; `password` sets `requirepass`.
 */
export async function privateRedis(opts: { password?: string } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const auth = opts.password ? `:${encodeURIComponent(opts.password)}@` : '';
  const self: PrivateRedis = {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    async start() {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(opts.password ? ['--requirepass', opts.password] : [])];
      child = spawn('redis-server', args, { stdio: 'ignore' });
      const probe = new Redis(self.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => undefined);
      for (let i = 0; ; i++) {
        try {
          await probe.connect();
          await probe.ping();
          break;
        } catch (err) {
          if (i >= 100) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      probe.disconnect();
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((r) => {
        c.once('exit', () => r());
        c.kill('SIGKILL');
      });
    },
  };
  await self.start();
  return self;
}
