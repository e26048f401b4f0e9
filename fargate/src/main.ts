// The media service's entry point, wiring only: config → call runtime → server.listen → SIGTERM/SIGINT drain → exit.
import { createCallHandler } from './runtime';
import { ConfigError, loadConfig, type Config } from './config';
import { createObservability, type Observability } from './observability/instruments';
import { logger } from './observability/logger';
import { createMediaServer } from './server';
import { startTaskProtection } from './task-protection';
import { openTaskStores } from './store/task-stores';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  // The message names each bad variable, never its value.
  console.error(err.message);
  process.exit(1);
}

// One call's bug must not end every other call on the task: log it and keep serving.
process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

// EMF on stdout (CloudWatch Logs extracts it), Prometheus on GET /metrics; a bad PRICES_JSON stops the boot here.
let observability: Observability;
try {
  observability = createObservability({ config });
} catch (err) {
  bootFailed(err);
}
const runtime = await createCallHandler(config, logger, {
  instrumentsFor: observability.instrumentsFor,
  onTranscriptWriteError: (n) => observability.service.transcriptWriteErrors(n),
  onTranscriptQueueOverflow: (n) => observability.service.transcriptQueueOverflow(n),
  onProviderFailover: (provider, seam) => observability.service.providerFailover(provider, seam),
}).catch(bootFailed);
// Single-use stream tokens and live-call heartbeats (with the lost-call sweeper) live in Redis, shared by all tasks.
const taskStores = await openTaskStores(config, logger).catch(bootFailed);
const media = createMediaServer({
  config, log: logger, onCall: runtime.handle, agentFor: runtime.agentFor, metrics: observability.metrics,
  streamClaims: taskStores.streamClaims, liveCalls: taskStores.liveCalls,
});
observability.service.setActiveCalls(() => media.activeCalls());
observability.service.startActiveCallsReporter();
// Scale-in never picks a task with live calls: ECS task protection while any are up (no-op without ECS_AGENT_URI).
const protection = startTaskProtection({ agentUri: process.env.ECS_AGENT_URI, activeCalls: () => media.activeCalls(), log: logger });
const port = await media.listen(config.PORT).catch(bootFailed);
logger.info({ port, stage: config.STAGE, maxCalls: config.MAX_CALLS }, 'media service listening');

/** A task that cannot reach its dependencies or bind its port exits 1 so ECS replaces it. */
function bootFailed(err: unknown): never {
  logger.fatal({ err }, 'media service failed to start');
  process.exit(1);
}

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    // A second signal (Ctrl-C twice) means "now": skip the rest of the drain.
    logger.warn({ signal }, 'second signal: exiting without waiting for calls');
    process.exit(1);
  }
  stopping = true;
  protection.stop();
  logger.info({ signal, activeCalls: media.activeCalls(), drainSeconds: config.DRAIN_SECONDS }, 'shutting down');
  try {
    // ECS sends SIGTERM, then SIGKILL after the task's stopTimeout (max 120 s); DRAIN_SECONDS stays below it.
    // Live calls move to healthy tasks (their TwiML is updated to a fresh <Connect><Stream>); the drain then waits only
    // for calls that could not move.
    const drained = media.drain(config.DRAIN_SECONDS * 1000); // refuses new calls at once (/ready 503)
    const moved = await runtime.migrateAll(Math.max(0, config.DRAIN_SECONDS * 1000 - 5000));
    logger.info(moved, 'live calls migrated');
    await drained;
    await media.close();
    await runtime.close(); // flushes transcripts; what DynamoDB does not take is spooled (store/call-recorder.ts)
    await taskStores.close();
  } catch (err) {
    logger.error({ err }, 'error while shutting down');
  }
  logger.info('media service stopped');
  process.exit(0);
}
process.on('SIGTERM', (s) => void shutdown(s));
process.on('SIGINT', (s) => void shutdown(s));
