// The simulated Twilio caller: dials any Media Streams server like Twilio does, plays a scenario in real time, reports what it heard.
import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { FRAME_BYTES, MULAW_SILENCE, isSpeech } from '../audio/mulaw';
import { type Scenario, type ScenarioStep, loadScenario, loadScenarioAudio } from '../scenarios/scenario';
import { Ear } from './hearing';
import { OneWayLink, type NetworkOptions } from './network';
import { Playout } from './playout';
import type { BargeInReport, CallReport, EndReason, TurnReport } from './report';
import { fetchStreamTwiml, newSid, twilioSignature, wire } from './twilio-wire';

export type { BargeInReport, CallReport, EndReason, TurnReport } from './report';
export { formatReport, reportJson } from './report';

/** What the Twilio REST emulator emits when a live call is modified (`calls(sid).update(...)`). */
export interface CallUpdatedEvent {
  callSid: string;
  /** New TwiML for the call (a `<Dial>` transfer, a `<Pay>`, ...). */
  twiml?: string;
  /** A URL Twilio would fetch new TwiML from (recorded as `Url: …`). */
  url?: string;
  /** `completed` / `canceled` hang the call up. */
  status?: string;
}

export interface PlaceCallOptions {
  /** A scenario, or its name / path for {@link loadScenario}. */
  scenario: Scenario | string;
  /**
   * Media Streams URL (`ws://` or `wss://`) to dial directly. Ignored when `twimlUrl` is given (the TwiML names the
   * stream). One of the two is required.
   */
  url?: string;
  /** The app's voice webhook (`https://…/twiml`): POSTed like an incoming call, its `<Connect><Stream>` is dialed. */
  twimlUrl?: string;
  /** Account Auth Token that signs the webhook and the WebSocket upgrade (`X-Twilio-Signature`). @default unsigned */
  authToken?: string;
  /**
   * Direct dial: `start.customParameters` (merged over `{ agent, caller }` from the scenario).
   * With `twimlUrl`: extra form params of the webhook (e.g. `CallerName`); the stream's parameters come from the TwiML.
   */
  parameters?: Record<string, string>;
  /** @default a random AC… */
  accountSid?: string;
  /** @default a random CA… */
  callSid?: string;
  /** @default a random MZ… */
  streamSid?: string;
  /** @default scenario.from */
  from?: string;
  /** @default scenario.to */
  to?: string;
  /** Say audio by id. @default loaded from local/scenarios/audio */
  audio?: Map<string, Uint8Array>;
  /** Twilio REST emulator events: `call-updated` ({@link CallUpdatedEvent}) for this call sends `stop` and ends the call. */
  events?: EventEmitter;
  /** Called once with a function that redirects this call to new TwiML (like `calls(sid).update({ twiml })`). */
  onRedirect?: (redirect: (twiml: string) => void) => void;
  /** Aborting hangs up (`stop`, close). */
  signal?: AbortSignal;
  /** How long a waitForAgent (or a barge-in) waits for the agent to start talking before the turn fails. @default 10000 */
  agentStartTimeoutMs?: number;
  /** Longest a waitForAgent step may take in all. @default 60000 */
  waitForAgentTimeoutMs?: number;
  /** Agent silence that ends a waitForAgent (CONTRACTS.md: ≥ 700 ms). @default 700 */
  quietMs?: number;
  /** Time between keypad presses. @default 250 */
  dtmfIntervalMs?: number;
  /** Hard cap on the whole call. @default 300000 */
  maxCallMs?: number;
  /**
   * The phone network between the caller and the media service: each direction delays every message by `oneWayMs`
   * ± `jitterMs` (order kept), so what the caller hears and when it is heard include both legs.
   * @default no delay (PSTN_NETWORK in ./network is a PSTN-like setting)
   */
  network?: NetworkOptions;
}

/** The object with its number fields rounded to 0.1 ms (sub-millisecond digits are timer noise). */
function roundTimes<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 10) / 10 : v])) as T;
}

/** One 20 ms Twilio media frame. */
const FRAME_MS = 20;
const SILENT_FRAME = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);

interface Turn extends Omit<TurnReport, 'audio'> {
  chunks: Uint8Array[];
  /** The caller's input (speech or keys) has been fully sent. */
  inputDone: boolean;
  /** The agent played speech after the input ended. */
  agentAnswered: boolean;
  /** The playout was empty at some moment since the input ended (so later speech is a new answer, not a tail). */
  quietSinceInput: boolean;
}

interface Mouth {
  audio: Uint8Array;
  pos: number;
  lastSpeechAt?: number;
  done: () => void;
}

/**
 * Places one simulated call and resolves with its report when the scenario is done, the server closes, the call is
 * redirected, or it is aborted. Rejects only when the call cannot be set up (webhook refused, bad TwiML, upgrade
 * refused); failed turns (e.g. an agent that never answers) are reported, not thrown.
 */
export async function placeCall(opts: PlaceCallOptions): Promise<CallReport> {
  const scenario = typeof opts.scenario === 'string' ? loadScenario(opts.scenario) : opts.scenario;
  const audio = opts.audio ?? loadScenarioAudio(scenario);
  for (const step of scenario.steps) {
    if ('say' in step && !audio.has(step.say)) throw new Error(`no audio for say step "${step.say}"`);
  }
  const accountSid = opts.accountSid ?? newSid('AC');
  const callSid = opts.callSid ?? newSid('CA');
  const from = opts.from ?? scenario.from;
  const to = opts.to ?? scenario.to;

  let streamUrl: string;
  let customParameters: Record<string, string>;
  if (opts.twimlUrl) {
    const params = { ...opts.parameters, CallSid: callSid, AccountSid: accountSid, From: from, To: to, CallStatus: 'ringing', ApiVersion: '2010-04-01', Direction: 'inbound' } as const;
    const stream = await fetchStreamTwiml(opts.twimlUrl, params, opts.authToken, opts.signal);
    streamUrl = stream.url;
    customParameters = stream.parameters;
  } else if (opts.url) {
    const u = new URL(opts.url);
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`Media Streams url must be ws:// or wss:// (got ${opts.url})`);
    streamUrl = opts.url;
    customParameters = { agent: scenario.agent, caller: from, ...opts.parameters };
  } else {
    throw new Error('placeCall needs url (a Media Streams ws(s):// URL) or twimlUrl (the voice webhook)');
  }

  const ws = await dial(streamUrl, opts.authToken, opts.signal);
  const call = new SimulatedCall(ws, scenario, audio, {
    ...opts,
    accountSid,
    callSid,
    streamSid: opts.streamSid ?? newSid('MZ'),
    streamUrl,
    customParameters,
  });
  return call.run();
}

/** Opens the stream like Twilio: `X-Twilio-Signature` = HMAC over the stream URL with no params (protocols.md §1.6). */
function dial(url: string, authToken: string | undefined, signal?: AbortSignal): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('call aborted before dialing'));
    const headers: Record<string, string> = { 'user-agent': 'Twilio.TmeWs/1.0' };
    if (authToken) headers['x-twilio-signature'] = twilioSignature(authToken, url);
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`Media Streams server ${url} refused the WebSocket upgrade with HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('error', (err) => reject(new Error(`cannot open Media Stream ${url}: ${err.message}`)));
  });
}

type Settings = PlaceCallOptions & {
  accountSid: string;
  callSid: string;
  streamSid: string;
  streamUrl: string;
  customParameters: Record<string, string>;
};

class SimulatedCall {
  private readonly o: Required<Pick<PlaceCallOptions, 'agentStartTimeoutMs' | 'waitForAgentTimeoutMs' | 'quietMs' | 'dtmfIntervalMs' | 'maxCallMs'>>;
  private t0 = 0;
  private seq = 0;
  private frames = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private endedBy: EndReason = 'scenario';
  private completed = false;
  private transferred: string | undefined;
  private marksEchoed = 0;
  private clears = 0;
  private dtmfSent = '';
  private readonly protocolErrors: string[] = [];
  private readonly migrations: Migration[] = [];
  /** Streams a redirect closed on purpose: their close or error must not end the call while the next one dials. */
  private readonly retired = new WeakSet<WebSocket>();
  private readonly turns: Turn[] = [];
  private mouth: Mouth | undefined;
  private readonly waiters = new Set<() => void>();
  /** Start of the agent's current talk spurt (first played speech frame after ≥ quietMs of quiet or a clear). */
  private spurtStart: number | undefined;
  private lastAgentSpeechEnd = Number.NEGATIVE_INFINITY;
  private finishCall!: (r: CallReport) => void;
  private readonly startedAtIso = new Date().toISOString();
  /** Caller → media service, and back. */
  private readonly up: OneWayLink;
  private readonly down: OneWayLink;

  private readonly playout = new Playout({
    played: (bytes, at) => {
      const turn = this.turn;
      turn.chunks.push(bytes);
      turn.agentAudioMs += bytes.length / 8;
      this.ear.played(bytes, at);
    },
    mark: (name) => {
      this.send(wire.mark(++this.seq, this.s.streamSid, name));
      this.marksEchoed++;
    },
    drained: () => {
      this.ear.gap();
      this.turn.quietSinceInput ||= this.turn.inputDone;
    },
    cleared: (at) => {
      this.ear.clear();
      this.spurtStart = undefined;
      this.clears++;
      const turn = this.turn;
      turn.clears++;
      turn.quietSinceInput ||= turn.inputDone;
      const b = turn.bargeIn;
      if (b && b.speechOnsetAt !== undefined && b.clearAt === undefined) {
        b.clearAt = at;
        b.reactionMs = at - b.speechOnsetAt;
      }
    },
  });

  private readonly ear = new Ear({
    speech: (at, durationMs) => {
      const m = this.migrations.at(-1);
      if (m?.reconnectedAt !== undefined && m.gapMs === undefined) m.gapMs = at - m.agentQuietSince;
      if (this.spurtStart === undefined || at - this.lastAgentSpeechEnd >= this.o.quietMs) this.spurtStart = at;
      const turn = this.turn;
      if (turn.firstAgentAudioAt !== undefined && at > this.lastAgentSpeechEnd) turn.longestPauseMs = Math.max(turn.longestPauseMs ?? 0, at - this.lastAgentSpeechEnd);
      this.lastAgentSpeechEnd = at + durationMs;
      if (!turn.inputDone || at < (turn.inputEndedAt ?? turn.startedAt)) return;
      turn.agentAnswered = true;
      if (turn.firstAgentAudioAt === undefined && turn.inputEndedAt !== undefined && turn.quietSinceInput) {
        turn.firstAgentAudioAt = at;
        turn.voiceToVoiceMs = at - turn.inputEndedAt;
      }
    },
    char: (ch) => {
      this.turn.heard += ch;
    },
  });

  constructor(
    private ws: WebSocket,
    private readonly scenario: Scenario,
    private readonly audio: Map<string, Uint8Array>,
    private s: Settings,
  ) {
    this.up = new OneWayLink(s.network);
    this.down = new OneWayLink(s.network && { ...s.network, seed: (s.network.seed ?? 1) + 1 });
    this.o = {
      agentStartTimeoutMs: s.agentStartTimeoutMs ?? 10_000,
      waitForAgentTimeoutMs: s.waitForAgentTimeoutMs ?? 60_000,
      quietMs: s.quietMs ?? 700,
      dtmfIntervalMs: s.dtmfIntervalMs ?? 250,
      maxCallMs: s.maxCallMs ?? 300_000,
    };
  }

  /** ms since the `start` message, on the caller's monotonic clock. */
  private clock(): number {
    return performance.now() - this.t0;
  }

  private get turn(): Turn {
    return this.turns[this.turns.length - 1]!;
  }

  run(): Promise<CallReport> {
    const done = new Promise<CallReport>((resolve) => (this.finishCall = resolve));
    this.attach(this.ws);
    const onUpdated = (e: CallUpdatedEvent) => {
      if (e?.callSid !== this.s.callSid) return;
      if (e.twiml) this.redirect(e.twiml);
      else if (e.url) this.redirect(`Url: ${e.url}`);
      else if (e.status === 'completed' || e.status === 'canceled') this.finish('hangup');
    };
    this.s.events?.on('call-updated', onUpdated);
    const onAbort = () => this.finish('aborted');
    this.s.signal?.addEventListener('abort', onAbort, { once: true });
    this.s.onRedirect?.((twiml) => this.redirect(twiml));
    void done.then(() => {
      this.s.events?.off('call-updated', onUpdated);
      this.s.signal?.removeEventListener('abort', onAbort);
    });

    // Twilio: `connected` first, then `start` (sequenceNumber "1"), then media every 20 ms.
    this.t0 = performance.now();
    this.turns.push(this.newTurn('greeting', -1, 0));
    this.turn.inputDone = true;
    this.turn.quietSinceInput = true;
    this.send(wire.connected());
    this.send(wire.start(++this.seq, { ...this.s, customParameters: this.s.customParameters }));
    this.schedule();
    void this.play();
    if (this.s.signal?.aborted) this.finish('aborted');
    return done;
  }

  /** Drift-free pacing: frame n goes out at t0 + 20·(n+1) (when its 20 ms have been "recorded"), never chained delays. */
  private schedule(): void {
    const next = FRAME_MS * (this.frames + 1);
    this.timer = setTimeout(() => this.tick(), Math.max(0, Math.ceil(next - this.clock())));
  }

  private tick(): void {
    if (this.ended) return;
    const now = this.clock();
    this.playout.advance(now);
    // After an event-loop stall, send every frame that is due so the stream keeps 50 frames per second overall.
    while (FRAME_MS * (this.frames + 1) <= now) this.sendFrame();
    if (now >= this.o.maxCallMs) return this.finish('timeout');
    this.checkWaiters();
    if (!this.ended) this.schedule();
  }

  private sendFrame(): void {
    const chunk = ++this.frames;
    let frame = SILENT_FRAME;
    const mouth = this.mouth;
    if (mouth) {
      const end = Math.min(mouth.pos + FRAME_BYTES, mouth.audio.length);
      frame = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
      frame.set(mouth.audio.subarray(mouth.pos, end));
      mouth.pos = end;
    }
    this.send(wire.media(++this.seq, this.s.streamSid, chunk, FRAME_MS * (chunk - 1), frame));
    if (!mouth) return;
    const sentAt = this.clock();
    if (isSpeech(frame)) {
      mouth.lastSpeechAt = sentAt;
      const b = this.turn.bargeIn;
      if (b && b.speechOnsetAt === undefined) {
        b.speechOnsetAt = sentAt;
        b.agentAudibleAtOnset = !this.playout.idle;
      }
    }
    if (mouth.pos >= mouth.audio.length) {
      this.mouth = undefined;
      this.endInput(mouth.lastSpeechAt ?? sentAt);
      mouth.done();
    }
  }

  /** The caller's input of the current turn is complete; agent speech from now on answers it. */
  private endInput(at: number): void {
    const turn = this.turn;
    turn.inputEndedAt = at;
    turn.inputDone = true;
    turn.quietSinceInput = this.playout.idle;
  }

  private send(msg: object): void {
    const text = JSON.stringify(msg);
    this.up.deliver(() => {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
    });
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.ended) return;
    const now = this.clock();
    if (isBinary) return void this.protocolErrors.push('binary WebSocket frame (Twilio accepts JSON text only)');
    let msg: { event?: unknown; streamSid?: unknown; media?: { payload?: unknown }; mark?: { name?: unknown } };
    try {
      msg = JSON.parse(data.toString());
    } catch {
      return void this.protocolErrors.push('message is not JSON');
    }
    if (msg.streamSid !== this.s.streamSid) {
      return void this.protocolErrors.push(`${String(msg.event)} message with streamSid ${String(msg.streamSid)} (ignored)`);
    }
    switch (msg.event) {
      case 'media': {
        const payload = msg.media?.payload;
        if (typeof payload !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) {
          return void this.protocolErrors.push('media.payload is not base64');
        }
        const bytes = Buffer.from(payload, 'base64');
        this.playout.pushAudio(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), now);
        break;
      }
      case 'mark': {
        const name = msg.mark?.name;
        if (typeof name !== 'string') return void this.protocolErrors.push('mark.name is not a string');
        this.playout.pushMark(name, now);
        break;
      }
      case 'clear':
        this.playout.clear(now);
        break;
      default:
        return void this.protocolErrors.push(`unknown event ${String(msg.event)}`);
    }
    this.checkWaiters();
  }

  /** The stream's socket events; a socket a reconnect retires is detached first, so its close ends nothing. */
  private attach(ws: WebSocket): void {
    const live = () => ws === this.ws && !this.retired.has(ws);
    // Twilio plays nothing more from a stream it has stopped.
    ws.on('message', (data, isBinary) => live() && this.down.deliver(() => this.onMessage(data, isBinary)));
    ws.on('close', () => live() && this.finish('server-closed'));
    ws.on('error', (err) => {
      if (!live()) return;
      this.protocolErrors.push(`socket error: ${err.message}`);
      this.finish('server-closed');
    });
  }

  private redirect(twiml: string): void {
    if (this.ended) return;
    const stream = connectStreamOf(twiml);
    if (stream) return void this.reconnect(stream.url, stream.parameters);
    this.transferred = twiml;
    this.finish('redirected');
  }

  /**
   * New TwiML with `<Connect><Stream>` (a migration to another task): as Twilio does, the current stream gets `stop`
   * and closes, then a new stream (new StreamSid, the TwiML's Parameters) opens on the URL and the call goes on;
   * caller audio in between is lost.
   */
  private async reconnect(url: string, parameters: Record<string, string>): Promise<void> {
    const old = this.ws;
    const migration: Migration = { redirectedAt: this.clock(), agentQuietSince: this.lastAgentSpeechEnd };
    this.migrations.push(migration);
    this.send(wire.stop(++this.seq, this.s));
    // The old stream may finish closing before the new one is up; that close is the redirect's, not a hang-up.
    this.retired.add(old);
    this.up.deliver(() => old.close(1000));
    try {
      const ws = await dial(url, this.s.authToken, this.s.signal);
      if (this.ended) return void ws.terminate();
      this.s = { ...this.s, streamSid: newSid('MZ'), streamUrl: url, customParameters: parameters };
      this.seq = 0;
      this.ws = ws;
      this.attach(ws);
      migration.reconnectedAt = this.clock();
      this.send(wire.connected());
      this.send(wire.start(++this.seq, { ...this.s, customParameters: this.s.customParameters }));
    } catch (err) {
      this.protocolErrors.push(`reconnect failed: ${(err as Error).message}`);
      this.finish('server-closed');
    }
  }

  private newTurn(kind: TurnReport['kind'], step: number, at: number): Turn {
    return {
      index: this.turns.length,
      kind,
      step,
      startedAt: at,
      clears: 0,
      heard: '',
      agentAudioMs: 0,
      ok: true,
      chunks: [],
      inputDone: false,
      agentAnswered: false,
      quietSinceInput: false,
    };
  }

  private fail(turn: Turn, error: string): void {
    turn.ok = false;
    turn.error = turn.error ? `${turn.error}; ${error}` : error;
  }

  private checkWaiters(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves true once `pred` holds (checked every frame and on every message), false at the cap or call end. */
  private waitUntil(pred: () => boolean, capMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const deadline = this.clock() + capMs;
    return new Promise((resolve) => {
      const check = () => {
        const result = this.ended ? false : pred() ? true : this.clock() >= deadline ? false : undefined;
        if (result === undefined) return;
        this.waiters.delete(check);
        resolve(result);
      };
      this.waiters.add(check);
      check();
    });
  }

  private agentTalking(): boolean {
    return this.spurtStart !== undefined && this.clock() - this.lastAgentSpeechEnd < this.o.quietMs;
  }

  private async play(): Promise<void> {
    const steps = this.scenario.steps;
    for (let i = 0; i < steps.length && !this.ended; i++) {
      const step: ScenarioStep = steps[i]!;
      if ('say' in step) await this.say(i, step.say, step.text, step.bargeInAfterMs);
      else if ('waitForAgent' in step) await this.waitForAgent();
      else if ('pause' in step) {
        const until = this.clock() + step.pause;
        await this.waitUntil(() => this.clock() >= until);
      } else if ('dtmf' in step) await this.pressKeys(i, step.dtmf);
      else if ('hangup' in step) {
        this.completed = true;
        return this.finish('hangup');
      }
    }
    if (!this.ended) {
      this.completed = true;
      this.finish('scenario');
    }
  }

  private async say(step: number, id: string, text: string, bargeInAfterMs: number | undefined): Promise<void> {
    let bargeIn: BargeInReport | undefined;
    let error: string | undefined;
    if (bargeInAfterMs !== undefined) {
      bargeIn = { requestedAfterMs: bargeInAfterMs };
      const talking = await this.waitUntil(() => this.agentTalking(), this.o.agentStartTimeoutMs);
      if (this.ended) return;
      if (talking) {
        const startedAt = this.spurtStart!;
        bargeIn.agentStartedAt = startedAt;
        await this.waitUntil(() => this.clock() >= startedAt + bargeInAfterMs);
        if (this.ended) return;
      } else {
        error = `barge-in: the agent did not start talking within ${this.o.agentStartTimeoutMs} ms`;
      }
    }
    const turn = this.newTurn('say', step, this.clock());
    turn.say = id;
    turn.input = text;
    if (bargeIn) turn.bargeIn = bargeIn;
    if (error) this.fail(turn, error);
    this.turns.push(turn);
    // Resolved by sendFrame after the last frame, or by finish() if the call ends mid-sentence.
    await new Promise<void>((done) => (this.mouth = { audio: this.audio.get(id)!, pos: 0, done }));
  }

  private async pressKeys(step: number, digits: string): Promise<void> {
    const turn = this.newTurn('dtmf', step, this.clock());
    turn.input = digits;
    this.turns.push(turn);
    for (let k = 0; k < digits.length; k++) {
      if (this.ended) return;
      if (k > 0) {
        const until = this.clock() + this.o.dtmfIntervalMs;
        await this.waitUntil(() => this.clock() >= until);
        if (this.ended) return;
      }
      this.send(wire.dtmf(++this.seq, this.s.streamSid, digits[k]!));
      this.dtmfSent += digits[k];
    }
    this.endInput(this.clock());
  }

  private async waitForAgent(): Promise<void> {
    const turn = this.turn;
    const started = this.clock();
    const answered = await this.waitUntil(() => turn.agentAnswered, this.o.agentStartTimeoutMs);
    if (this.ended) return;
    if (!answered) return this.fail(turn, `waitForAgent: no agent speech within ${this.o.agentStartTimeoutMs} ms`);
    const cap = this.o.waitForAgentTimeoutMs - (this.clock() - started);
    const quiet = await this.waitUntil(() => this.clock() - this.lastAgentSpeechEnd >= this.o.quietMs, cap);
    if (this.ended) return;
    if (!quiet) this.fail(turn, `waitForAgent: the agent was still talking after ${this.o.waitForAgentTimeoutMs} ms`);
  }

  private finish(reason: EndReason): void {
    if (this.ended) return;
    const now = this.clock();
    // What played up to this instant was heard; what is still queued never will be.
    this.playout.advance(now);
    this.ear.gap();
    this.ended = true;
    this.endedBy = reason;
    clearTimeout(this.timer);
    this.mouth?.done();
    this.mouth = undefined;
    this.checkWaiters();
    const report = this.report(now);
    this.down.cancel();
    if (reason === 'server-closed' || this.ws.readyState !== WebSocket.OPEN) {
      this.up.cancel();
      return this.finishCall(report);
    }
    // The caller's side ends the call: Twilio sends `stop`, then closes the socket (after what is still on the wire).
    this.send(wire.stop(++this.seq, this.s));
    this.up.deliver(() => {
      if (this.ws.readyState !== WebSocket.OPEN) return this.finishCall(report);
      const closed = setTimeout(() => this.ws.terminate(), 1000);
      this.ws.once('close', () => {
        clearTimeout(closed);
        this.finishCall(report);
      });
      this.ws.close(1000);
    });
  }

  private report(now: number): CallReport {
    const turns: TurnReport[] = this.turns.map(({ chunks, inputDone: _d, agentAnswered: _a, quietSinceInput: _q, ...t }) => {
      const audio = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let off = 0;
      for (const c of chunks) {
        audio.set(c, off);
        off += c.length;
      }
      return { ...roundTimes(t), ...(t.bargeIn ? { bargeIn: roundTimes(t.bargeIn) } : {}), audio };
    });
    const endedByOtherSide = this.endedBy === 'redirected' || this.endedBy === 'server-closed';
    return {
      scenario: this.scenario.name,
      callSid: this.s.callSid,
      streamSid: this.s.streamSid,
      accountSid: this.s.accountSid,
      streamUrl: this.s.streamUrl,
      startedAt: this.startedAtIso,
      durationMs: Math.round(now),
      endedBy: this.endedBy,
      completed: this.completed,
      turns,
      framesSent: this.frames,
      marksEchoed: this.marksEchoed,
      clears: this.clears,
      dtmfSent: this.dtmfSent,
      ...(this.transferred !== undefined ? { transferred: this.transferred } : {}),
      migrations: this.migrations.map((m) => ({ redirectedAt: Math.round(m.redirectedAt), reconnectedAt: m.reconnectedAt === undefined ? undefined : Math.round(m.reconnectedAt), gapMs: m.gapMs === undefined ? undefined : Math.round(m.gapMs) })),
      heard: turns.map((t) => t.heard.trim()).filter(Boolean).join(' | '),
      protocolErrors: this.protocolErrors,
      ok: turns.every((t) => t.ok) && this.protocolErrors.length === 0 && (this.completed || endedByOtherSide),
    };
  }
}

/** One move of the call to a new stream (TwiML `<Connect><Stream>` pushed over Twilio REST), as the caller lived it. */
interface Migration {
  redirectedAt: number;
  reconnectedAt?: number;
  /** Where the agent last spoke before the move (caller clock, ms). */
  agentQuietSince: number;
  /** Agent silence the caller heard across the move: last agent speech before it → first after it. */
  gapMs?: number;
}

/** The Stream URL and Parameters of `<Connect><Stream>` TwiML, if that is what it is. */
export function connectStreamOf(twiml: string): { url: string; parameters: Record<string, string> } | undefined {
  const unescape = (v: string) => v.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  if (!/<Connect>/.test(twiml)) return undefined;
  const url = /<Stream\b[^>]*\burl="([^"]+)"/.exec(twiml)?.[1];
  if (!url) return undefined;
  const parameters: Record<string, string> = {};
  for (const m of twiml.matchAll(/<Parameter\b[^>]*?\bname="([^"]*)"[^>]*?\bvalue="([^"]*)"/g)) parameters[unescape(m[1]!)] = unescape(m[2]!);
  return { url: unescape(url), parameters };
}
