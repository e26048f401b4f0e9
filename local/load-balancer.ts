// A local stand-in for the ALB in front of several media tasks: each new TCP connection (a webhook, a /media
// upgrade) goes to a task whose health check passes, round robin; a task that fails it gets no new connections,
// and connections already open stay where they are (as with an ALB target that is draining).
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface LoadBalancer {
  port: number;
  /** Targets passing their health check right now. */
  healthy(): number[];
  /** Connections open now, per target port. */
  open(): Map<number, number>;
  close(): Promise<void>;
}

/** Health-check period. An ALB checks every 5–300 s; a deregistered ECS target stops getting connections at once. */
const CHECK_EVERY_MS = 100;

/** Listens on loopback; `health(port)` is each target's check (the media service's `/ready`). */
export async function startLoadBalancer(targets: number[], opts: { health?: (port: number) => Promise<boolean> } = {}): Promise<LoadBalancer> {
  const health = opts.health ?? readyCheck;
  const up = new Set<number>();
  const check = async () => {
    await Promise.all(targets.map(async (t) => ((await health(t).catch(() => false)) ? up.add(t) : up.delete(t))));
  };
  await check();
  const timer = setInterval(() => void check(), CHECK_EVERY_MS);
  let next = 0;
  const open = new Set<Socket>();
  const perTarget = new Map<number, number>();
  const server: Server = createServer((client) => {
    const ready = targets.filter((t) => up.has(t));
    if (!ready.length) return void client.destroy();
    const target = ready[next++ % ready.length]!;
    const upstream = connect(target, '127.0.0.1');
    perTarget.set(target, (perTarget.get(target) ?? 0) + 1);
    upstream.once('close', () => perTarget.set(target, perTarget.get(target)! - 1));
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    healthy: () => targets.filter((t) => up.has(t)),
    open: () => new Map(perTarget),
    async close() {
      clearInterval(timer);
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readyCheck(port: number): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(500) });
  await r.body?.cancel();
  return r.ok;
}
