// Pins item 5: a task with live calls sets ECS scale-in protection through the agent, renews it, clears it when idle.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideProtection, putTaskProtection, startTaskProtection, TaskProtectionError } from '../../fargate/src/task-protection';

const TASK_ARN = 'arn:aws:ecs:us-east-1:123456789012:task/voice/0123456789abcdef0';

/**
 * A local stand-in for the ECS agent's task-protection endpoint, answering as its documentation shows: PUT/GET
 * `/task-protection/v1/state`, success `{"protection":{...}}`, refusal `{"failure":{...}}` or `{"error":{...}}`.
 * `clock` is the agent's notion of now, so the test controls expiry.
 */
async function fakeAgent(clock: () => number) {
  const puts: Record<string, unknown>[] = [];
  let state = { enabled: false, expiresAt: 0 };
  let refuse: 'failure' | 'error' | undefined;
  const body = async (req: IncomingMessage) => {
    let s = '';
    for await (const c of req) s += c;
    return s;
  };
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, doc: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(doc));
    };
    if (req.url !== '/task-protection/v1/state') return send(404, { error: { Code: 'NotFound', Message: 'no such path' } });
    if (req.method === 'PUT') {
      const doc = JSON.parse(await body(req)) as { ProtectionEnabled?: unknown; ExpiresInMinutes?: number };
      puts.push(doc);
      if (refuse === 'failure') return send(200, { failure: { Arn: TASK_ARN, Detail: null, Reason: 'TASK_NOT_VALID' } });
      if (refuse === 'error') return send(400, { error: { Arn: TASK_ARN, Code: 'AccessDeniedException', Message: 'not authorized to perform ecs:UpdateTaskProtection' } });
      if (typeof doc.ProtectionEnabled !== 'boolean') return send(400, { error: { Code: 'InvalidParameterException', Message: 'ProtectionEnabled is required' } });
      const minutes = doc.ExpiresInMinutes ?? 120;
      if (minutes < 1 || minutes > 2880) return send(400, { error: { Code: 'InvalidParameterException', Message: 'ExpiresInMinutes out of range' } });
      state = doc.ProtectionEnabled ? { enabled: true, expiresAt: clock() + minutes * 60_000 } : { enabled: false, expiresAt: 0 };
    }
    const expired = state.enabled && state.expiresAt <= clock();
    send(200, {
      protection: {
        ExpirationDate: state.enabled && !expired ? new Date(state.expiresAt).toISOString() : null,
        ProtectionEnabled: state.enabled && !expired,
        TaskArn: TASK_ARN,
      },
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    puts,
    refuseWith(kind: 'failure' | 'error' | undefined) {
      refuse = kind;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('ECS task scale-in protection', () => {
  let t = Date.parse('2026-12-01T12:00:00Z');
  const clock = () => t;
  let agent: Awaited<ReturnType<typeof fakeAgent>>;
  beforeAll(async () => {
    agent = await fakeAgent(clock);
  });
  afterAll(async () => agent.close());

  it('sets protection when the first call starts, renews it before it expires, and clears it after an idle lull', async () => {
    let calls = 0;
    const p = startTaskProtection({ agentUri: agent.uri, activeCalls: () => calls, now: clock, pollMs: 3_600_000, expiresInMinutes: 60 });
    const start = agent.puts.length;
    await p.sync();
    expect(agent.puts.length).toBe(start);
    calls = 2;
    await p.sync();
    expect(agent.puts.slice(start)).toEqual([{ ProtectionEnabled: true, ExpiresInMinutes: 60 }]);
    expect(p.state()).toMatchObject({ protected: true, expiresAt: t + 60 * 60_000 });
    t += 30 * 60_000;
    await p.sync();
    expect(agent.puts.length).toBe(start + 1);
    t += 20 * 60_000;
    await p.sync();
    expect(agent.puts.length).toBe(start + 2);
    expect(p.state().expiresAt).toBe(t + 60 * 60_000);
    calls = 0;
    t += 10_000;
    await p.sync();
    expect(agent.puts.length).toBe(start + 2);
    t += 30_000;
    await p.sync();
    expect(agent.puts.at(-1)).toEqual({ ProtectionEnabled: false });
    expect(p.state().protected).toBe(false);
    p.stop();
  });

  it('keeps retrying when the agent refuses, and says why', async () => {
    const warnings: string[] = [];
    const p = startTaskProtection({
      agentUri: agent.uri,
      activeCalls: () => 1,
      now: clock,
      pollMs: 3_600_000,
      log: { info: () => undefined, warn: (o) => warnings.push((o as { err: { message: string } }).err.message) },
    });
    agent.refuseWith('failure');
    await p.sync();
    agent.refuseWith('error');
    await p.sync();
    expect(p.state().protected).toBe(false);
    expect(warnings).toEqual(['agent refused: TASK_NOT_VALID', 'agent error AccessDeniedException: not authorized to perform ecs:UpdateTaskProtection']);
    agent.refuseWith(undefined);
    await p.sync();
    expect(p.state().protected).toBe(true);
    p.stop();
  });

  it('does nothing without ECS_AGENT_URI (local runs)', async () => {
    const before = agent.puts.length;
    const p = startTaskProtection({ agentUri: undefined, activeCalls: () => 5 });
    await p.sync();
    expect(agent.puts.length).toBe(before);
    p.stop();
  });

  it('reads the agent answer strictly: a refusal is an error, an enabled protection needs an ExpirationDate', async () => {
    agent.refuseWith('failure');
    await expect(putTaskProtection(agent.uri, true, 10)).rejects.toThrow(TaskProtectionError);
    agent.refuseWith(undefined);
    await expect(putTaskProtection(agent.uri, true, 10)).resolves.toBe(t + 10 * 60_000);
    await expect(putTaskProtection(agent.uri, false, 10)).resolves.toBe(0);
  });

  it('decides: set when busy and unprotected or expired, renew near expiry, clear only after the lull', () => {
    const o = { renewBeforeMs: 900_000, clearAfterIdleMs: 30_000 };
    expect(decideProtection({ protected: false, expiresAt: 0, lastBusyAt: 0 }, 1, 1000, o)).toEqual({ kind: 'set', renew: false });
    expect(decideProtection({ protected: true, expiresAt: 500, lastBusyAt: 0 }, 1, 1000, o)).toEqual({ kind: 'set', renew: false });
    expect(decideProtection({ protected: true, expiresAt: 1000 + 899_999, lastBusyAt: 1000 }, 1, 1000, o)).toEqual({ kind: 'set', renew: true });
    expect(decideProtection({ protected: true, expiresAt: 10_000_000, lastBusyAt: 1000 }, 0, 20_000, o)).toEqual({ kind: 'none' });
    expect(decideProtection({ protected: true, expiresAt: 10_000_000, lastBusyAt: 1000 }, 0, 31_000, o)).toEqual({ kind: 'clear' });
    expect(decideProtection({ protected: false, expiresAt: 0, lastBusyAt: 0 }, 0, 31_000, o)).toEqual({ kind: 'none' });
  });
});
