// ECS task scale-in protection: set through the ECS agent while the task has live calls, renewed, cleared when idle.
//
// The agent endpoint (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html):
// `PUT $ECS_AGENT_URI/task-protection/v1/state` with JSON `{"ProtectionEnabled": true|false, "ExpiresInMinutes": 1..2880}`
// (without ExpiresInMinutes protection lasts 120 min). A success answers `{"protection": {"ExpirationDate",
// "ProtectionEnabled", "TaskArn"}}`; a refused request answers `{"failure": {"Arn", "Reason", "Detail"}}` or
// `{"error": {"Arn", "Code", "Message"}}`. While protected, "your task will not be terminated by scale-in events
// from service Auto Scaling or deployments"; when ExpiresInMinutes lapses, protection is off again, hence renewal.
// Fargate injects ECS_AGENT_URI; without it (local runs) this does nothing.

/** Where the protection loop reads and reports. */
export interface TaskProtectionOptions {
  /** `$ECS_AGENT_URI`; undefined → protection is never requested. */
  agentUri: string | undefined;
  /** Live calls on this task (the media server's `activeCalls()`). */
  activeCalls: () => number;
  /** Minutes each protection lasts (1–2880). @default 60 */
  expiresInMinutes?: number;
  /** Renew when less than this is left. @default 15 min */
  renewBeforeMs?: number;
  /** Clear protection only after this long without calls, so a short lull does not flap it. @default 30 s */
  clearAfterIdleMs?: number;
  /** How often the loop looks at the call count. @default 1000 */
  pollMs?: number;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** @default Date.now */
  now?: () => number;
}

/** What the loop knows about the task's protection. */
export interface ProtectionState {
  protected: boolean;
  /** Epoch ms the agent said protection expires (0 when unprotected). */
  expiresAt: number;
  /** Epoch ms the task last had a live call. */
  lastBusyAt: number;
}

export type ProtectionAction = { kind: 'none' } | { kind: 'set'; renew: boolean } | { kind: 'clear' };

/** The one decision (pure): protect a busy task, renew before expiry, clear an idle one after the lull. */
export function decideProtection(state: ProtectionState, active: number, now: number, o: { renewBeforeMs: number; clearAfterIdleMs: number }): ProtectionAction {
  if (active > 0) {
    if (!state.protected || state.expiresAt <= now) return { kind: 'set', renew: false };
    return state.expiresAt - now < o.renewBeforeMs ? { kind: 'set', renew: true } : { kind: 'none' };
  }
  if (state.protected && state.expiresAt > now && now - state.lastBusyAt >= o.clearAfterIdleMs) return { kind: 'clear' };
  return { kind: 'none' };
}

/** Thrown for an answer the agent documents as a refusal (failure / error), with its reason. */
export class TaskProtectionError extends Error {}

/** One PUT to the agent; resolves with the expiration (epoch ms, 0 when cleared). */
export async function putTaskProtection(agentUri: string, enabled: boolean, expiresInMinutes: number, f: typeof fetch = fetch): Promise<number> {
  const body = enabled ? { ProtectionEnabled: true, ExpiresInMinutes: expiresInMinutes } : { ProtectionEnabled: false };
  const res = await f(`${agentUri.replace(/\/+$/, '')}/task-protection/v1/state`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let doc: { protection?: { ExpirationDate?: string | null; ProtectionEnabled?: boolean }; failure?: { Reason?: string; Detail?: string | null }; error?: { Code?: string; Message?: string } };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    throw new TaskProtectionError(`agent answered ${res.status} with a non-JSON body`);
  }
  if (doc.failure) throw new TaskProtectionError(`agent refused: ${doc.failure.Reason ?? 'unknown reason'}${doc.failure.Detail ? ` (${doc.failure.Detail})` : ''}`);
  if (doc.error) throw new TaskProtectionError(`agent error ${doc.error.Code ?? res.status}: ${doc.error.Message ?? ''}`.trim());
  if (!res.ok || !doc.protection) throw new TaskProtectionError(`agent answered ${res.status} without a protection object`);
  if (doc.protection.ProtectionEnabled !== enabled) throw new TaskProtectionError(`agent reports ProtectionEnabled=${String(doc.protection.ProtectionEnabled)}`);
  if (!enabled) return 0;
  const at = Date.parse(doc.protection.ExpirationDate ?? '');
  if (!Number.isFinite(at)) throw new TaskProtectionError('agent gave no ExpirationDate for an enabled protection');
  return at;
}

export interface TaskProtection {
  /** One look at the call count, and the PUT it calls for (the loop calls this every pollMs). */
  sync(): Promise<void>;
  state(): Readonly<ProtectionState>;
  /** Stops the loop (protection left as is: a stopping task is past scale-in anyway). */
  stop(): void;
}

/** Starts the protection loop. A failed PUT is logged and retried on the next look; it never throws. */
export function startTaskProtection(opts: TaskProtectionOptions): TaskProtection {
  const now = opts.now ?? Date.now;
  const minutes = Math.min(2880, Math.max(1, Math.round(opts.expiresInMinutes ?? 60)));
  const limits = { renewBeforeMs: opts.renewBeforeMs ?? 15 * 60_000, clearAfterIdleMs: opts.clearAfterIdleMs ?? 30_000 };
  const state: ProtectionState = { protected: false, expiresAt: 0, lastBusyAt: 0 };
  let running: Promise<void> | undefined;
  const step = async () => {
    const agentUri = opts.agentUri;
    if (!agentUri) return;
    const t = now();
    const active = opts.activeCalls();
    if (active > 0) state.lastBusyAt = t;
    const action = decideProtection(state, active, t, limits);
    if (action.kind === 'none') return;
    const enable = action.kind === 'set';
    try {
      state.expiresAt = await putTaskProtection(agentUri, enable, minutes, opts.fetch);
      state.protected = enable;
      opts.log?.info({ activeCalls: active, protected: enable, expiresAt: enable ? new Date(state.expiresAt).toISOString() : undefined }, enable ? (action.renew ? 'scale-in protection renewed' : 'scale-in protection set') : 'scale-in protection cleared');
    } catch (err) {
      opts.log?.warn({ err: { name: (err as Error)?.name, message: (err as Error)?.message }, wanted: enable }, 'scale-in protection update failed; retrying');
    }
  };
  const sync = () => (running ??= step().finally(() => (running = undefined)));
  const timer = opts.agentUri ? setInterval(() => void sync(), opts.pollMs ?? 1000) : undefined;
  timer?.unref();
  return { sync, state: () => ({ ...state }), stop: () => timer && clearInterval(timer) };
}
