// A call the server accepted (its stream token checked out), as the call loop receives it: start, transport, signal, log.
import type { Logger } from '../observability/logger';
import type { TelephonyTransport } from '../providers/types';

/** What the stream's `start` told us, after the stream token checked out. */
export interface StreamStart {
  callSid: string;
  streamSid: string;
  accountSid: string;
  agent: string;
  caller?: string;
  customParameters: Record<string, string>;
  /** Date.now() when `start` arrived. */
  startedAt: number;
}

/** One accepted call, handed to the {@link CallHandler}. */
export interface AcceptedCall {
  start: StreamStart;
  transport: TelephonyTransport;
  /** Aborts on `stop`, socket close, or when a drain runs out of time. */
  signal: AbortSignal;
  /** Child logger bound to callSid/streamSid/agent (never the caller number). */
  log: Logger;
}

/** Runs one call from `start` to its end; the server closes the socket when it settles. */
export type CallHandler = (call: AcceptedCall) => Promise<void>;
