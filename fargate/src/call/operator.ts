// An operator's actions on one live call: the commands from the console (Redis pub/sub), validated and applied —
// take over (<Dial> to the operator with the summary), hang up, whisper — each recorded and announced on the live feed.
import { operatorCommandSchema, type LiveFeed, type OperatorAction, type OperatorCommand } from '../../../contracts/console';
import type { Logger } from '../observability/logger';

/** Where a call's operator commands come from (the task's Redis subscriber, operator-bus.ts). */
export interface OperatorSubscriptions {
  /** Subscribes to the call's channel; resolves once subscribed, with the function that unsubscribes. */
  subscribe(callSid: string, onMessage: (raw: string) => void): Promise<() => Promise<void>>;
}

/** A command checked against the contract and the call, or why it was refused. */
export type ParsedCommand = { ok: true; command: OperatorCommand } | { ok: false; error: string };

/** Validates one pub/sub message for call `callSid` (JSON, operatorCommandSchema, and the action names this call). */
export function parseOperatorCommand(raw: string, callSid: string): ParsedCommand {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  const r = operatorCommandSchema.safeParse(json);
  if (!r.success) return { ok: false, error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  if (r.data.action.callSid !== callSid) return { ok: false, error: 'the action names another call' };
  return { ok: true, command: r.data };
}

/** What the operator desk of one call acts through (the call's Ending and Recording, its feed and log). */
export interface OperatorDeskDeps {
  callSid: string;
  subscriptions?: OperatorSubscriptions;
  /** Transfer to `to` with the handoff summary (Ending.escalate, reason 'operator'); true once Twilio took the <Dial>. */
  takeOver(to: string): Promise<boolean>;
  /** Ends the call (Ending.hangUp); true once Twilio took it. */
  hangUp(): Promise<boolean>;
  /** Applies an instruction from the next reply on; false when the call is already ending. */
  whisper(text: string): boolean;
  /** Records the action on the call's transcript (Recording.note). */
  record(name: string, id: string, args: Record<string, unknown>, ok: boolean): void;
  feed?: LiveFeed;
  log: Logger;
  now: () => number;
}

/** Longest wait at the call's end for an action still being applied (a take-over's handoff line plays first). */
const SETTLE_LIMIT_MS = 12_000;

/** The operator side of one call: subscribed while the call runs, one action at a time, each action id applied once. */
export class OperatorDesk {
  private unsubscribe: (() => Promise<void>) | undefined;
  private readonly seen = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly d: OperatorDeskDeps) {}

  /** SUBSCRIBE on the call's channel; a Redis failure only costs the console its actions on this call. */
  async open(): Promise<void> {
    if (!this.d.subscriptions) return;
    try {
      const unsubscribe = await this.d.subscriptions.subscribe(this.d.callSid, (raw) => this.receive(raw));
      if (this.closed) await unsubscribe();
      else this.unsubscribe = unsubscribe;
    } catch (err) {
      this.d.log.warn({ err: { name: (err as Error)?.name } }, 'operator channel unavailable; console actions will not reach this call');
    }
  }

  /** The call is over: UNSUBSCRIBE, and wait (bounded) for an action still being applied so it is recorded. */
  async close(): Promise<void> {
    this.closed = true;
    const u = this.unsubscribe;
    this.unsubscribe = undefined;
    void u?.().catch((err: unknown) => this.d.log.warn({ err: { name: (err as Error)?.name } }, 'operator channel unsubscribe failed'));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.queue, new Promise<void>((r) => (timer = setTimeout(r, SETTLE_LIMIT_MS)))]);
    clearTimeout(timer);
  }

  /** One pub/sub message: invalid ones are logged and ignored; valid ones are applied in arrival order. */
  receive(raw: string): void {
    if (this.closed) return;
    const parsed = parseOperatorCommand(raw, this.d.callSid);
    if (!parsed.ok) return void this.d.log.warn({ error: parsed.error }, 'operator command ignored');
    const { action, by } = parsed.command;
    if (this.seen.has(action.id)) return void this.d.log.info({ id: action.id }, 'operator command already applied');
    this.seen.add(action.id);
    this.queue = this.queue.then(() => this.apply(parsed.command)).catch((err: unknown) => {
      this.d.log.error({ err: { name: (err as Error)?.name }, action: action.action, by }, 'operator action failed');
    });
  }

  private async apply({ action, by, connectionId }: OperatorCommand): Promise<void> {
    this.d.log.info({ action: action.action, id: action.id, by }, 'operator action');
    let ok = false;
    try {
      ok = await this.run(action);
    } finally {
      this.d.record(`operator.${action.action}`, action.id, { by, connectionId, ...details(action) }, ok);
      this.d.feed?.publish({ type: 'operator-action', callSid: this.d.callSid, action: action.action, by, ok, at: this.d.now() });
    }
  }

  private run(action: OperatorAction): Promise<boolean> {
    if (action.action === 'take-over') return this.d.takeOver(action.to);
    if (action.action === 'hang-up') return this.d.hangUp();
    return Promise.resolve(this.d.whisper(action.text));
  }
}

/** What the transcript keeps of an action besides who asked: the number dialled, the words whispered. */
function details(action: OperatorAction): Record<string, unknown> {
  if (action.action === 'take-over') return { to: action.to };
  if (action.action === 'whisper') return { text: action.text };
  return {};
}
