// One call's Twilio leg as a TelephonyTransport: a bounded inbound queue, outbound media/mark/clear, REST call updates.
import twilio from 'twilio';
import type { Logger } from '../observability/logger';
import type { InboundEvent, Mulaw, TelephonyTransport } from '../providers/types';
import { AsyncQueue } from '../providers/async-queue';
import { clearMessage, markMessage, mediaMessage } from './twilio-protocol';

/** 20 ms of 8 kHz μ-law. Outbound audio goes in frames this size so a `clear` cuts within 20 ms of what was heard. */
export const FRAME_BYTES = 160;

/** Changes to a live call over Twilio REST (`calls(sid).update`). */
export interface CallControl {
  update(callSid: string, params: { twiml: string } | { status: 'completed' }): Promise<void>;
}

/** Credentials and endpoint for {@link createCallControl}. */
export interface CallControlOptions {
  accountSid: string;
  authToken: string;
  /** Replaces https://api.twilio.com (scheme, host, port, optional path prefix), e.g. the local REST emulator. @default Twilio */
  apiUrl?: string;
  /** Per-request timeout, ms. @default 10000 */
  timeoutMs?: number;
}

/**
 * A CallControl on the official `twilio` SDK. The SDK has no base-URL option (lib/rest/ApiBase.js hard-codes
 * api.twilio.com); its supported hook is `httpClient`, so a RequestClient subclass rewrites each request's origin.
 */
export function createCallControl(opts: CallControlOptions): CallControl {
  const timeout = opts.timeoutMs ?? 10_000;
  const httpClient = opts.apiUrl ? redirectingClient(opts.apiUrl, timeout) : new twilio.RequestClient({ timeout, keepAlive: true });
  const client = twilio(opts.accountSid, opts.authToken, { httpClient });
  return {
    async update(callSid, params) {
      await client.calls(callSid).update(params);
    },
  };
}

function redirectingClient(apiUrl: string, timeout: number): InstanceType<typeof twilio.RequestClient> {
  const base = new URL(apiUrl);
  const prefix = base.pathname.replace(/\/$/, '');
  class Redirecting extends twilio.RequestClient {
    override request<T>(o: Parameters<InstanceType<typeof twilio.RequestClient>['request']>[0] & { data?: T }) {
      const u = new URL(o.uri);
      return super.request<T>({ ...o, uri: `${base.origin}${prefix}${u.pathname}${u.search}` });
    }
  }
  return new Redirecting({ timeout, keepAlive: true });
}

/** What {@link TwilioTransport} needs from its call. */
export interface TwilioTransportOptions {
  streamSid: string;
  callSid: string;
  /** Sends one text frame to Twilio; the server passes a function that skips closed sockets. */
  send(text: string): void;
  calls: CallControl;
  log: Logger;
  /**
   * Inbound events held for a slow consumer before the oldest media frames are dropped (never dtmf/mark/stop,
   * and the socket is never paused: Twilio would not wait). @default 500 (10 s of 20 ms frames)
   */
  maxQueued?: number;
}

/**
 * The transport one call's handler sees. The server feeds it with {@link TwilioTransport.deliver} and ends it with
 * {@link TwilioTransport.end}; the handler reads `inbound` (once) and plays audio back.
 */
export class TwilioTransport implements TelephonyTransport {
  /** Ends when the consumer breaks out of it, which then drops later events. */
  private readonly queue = new AsyncQueue<InboundEvent>();
  readonly inbound: AsyncIterable<InboundEvent> = this.queue;
  private finished = false;
  private dropped = 0;
  private readonly maxQueued: number;

  constructor(private readonly opts: TwilioTransportOptions) {
    this.maxQueued = opts.maxQueued ?? 500;
  }

  /** Media frames dropped because the consumer fell more than `maxQueued` events behind. */
  get droppedMedia(): number {
    return this.dropped;
  }

  /** Queues one inbound event (server side). Ignored after {@link end} or once the consumer stopped reading. */
  deliver(ev: InboundEvent): void {
    this.queue.push(ev);
    if (this.queue.length > this.maxQueued) {
      if (this.queue.dropFirst((e) => e.kind === 'media')) {
        this.dropped++;
        // Warn on the first drop and then every 50 (1 s of audio) so a stuck consumer cannot flood the log.
        if (this.dropped === 1 || this.dropped % 50 === 0) this.opts.log.warn({ droppedMedia: this.dropped }, 'inbound consumer is behind; dropped oldest media');
      }
    }
  }

  /** Ends `inbound` after the events already queued (stop or socket close). */
  end(): void {
    this.queue.end();
  }

  /** Queues agent audio at Twilio as 160-byte media frames (played in order). */
  play(audio: Mulaw): void {
    for (let off = 0; off < audio.byteLength; off += FRAME_BYTES) {
      this.opts.send(mediaMessage(this.opts.streamSid, audio.subarray(off, Math.min(off + FRAME_BYTES, audio.byteLength))));
    }
  }

  /** Asks Twilio to echo `name` once the audio sent before it has played. */
  mark(name: string): void {
    this.opts.send(markMessage(this.opts.streamSid, name));
  }

  /** Drops the agent audio Twilio still holds (barge-in); pending marks come back at once. */
  clear(): void {
    this.opts.send(clearMessage(this.opts.streamSid));
  }

  /** Replaces the call's TwiML (e.g. `<Dial>`, `<Pay>`); Twilio then ends this stream. Rejects if Twilio refuses. */
  async transfer(twiml: string): Promise<void> {
    await this.opts.calls.update(this.opts.callSid, { twiml });
    this.finished = true;
    this.opts.log.info('call transferred (TwiML replaced)');
  }

  /**
   * Ends the call. A no-op once the call was already transferred or hung up, so a handler's cleanup can call it
   * unconditionally without cutting off the human a transfer just reached.
   */
  async hangup(reason: string): Promise<void> {
    if (this.finished) return;
    await this.opts.calls.update(this.opts.callSid, { status: 'completed' });
    this.finished = true;
    this.opts.log.info({ reason }, 'call hung up');
  }
}
