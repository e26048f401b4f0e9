// `npm run bench:tools`: per-tool handler latency (warm cache, cold cache, writes), bundle size and init time of each Lambda.
import './node-support';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { build } from 'esbuild';
import { Redis } from 'ioredis';
import { toolsHttpHandler } from '../lambdas/shared/dispatch';
import { createRuntime } from '../lambdas/shared/runtime';
import { SEED_PHONES, SEED_SERVICES, SEED_TIMES } from '../lambdas/shared/seed';
import { addDays } from '../lambdas/shared/dates';
import { toolImplementations } from '../lambdas/tools/implementations';
import { ensureRedis } from './redis';
import { startLocalBusinessStore } from './tools-server';

const N = Number(process.env.BENCH_N ?? 300);
const TARGETS = { warmP95: 5, coldP95: 50, bundleKb: 500 };
const root = fileURLToPath(new URL('..', import.meta.url));

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
const fmt = (xs: number[]) => [50, 95, 99].map((p) => pct(xs, p).toFixed(2).padStart(7)).join(' ');

function event(name: string, body: unknown): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /tools/{name}',
    rawPath: `/tools/${name}`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: { name },
    requestContext: {} as APIGatewayProxyEventV2['requestContext'],
    isBase64Encoded: false,
    body: JSON.stringify(body),
  };
}

async function latency(): Promise<void> {
  const [l1] = (await import('node:os')).loadavg();
  console.log(`load average (1 min): ${l1!.toFixed(2)} on ${(await import('node:os')).cpus().length} CPUs`);
  // REDIS_URL (or 127.0.0.1:6379) when it answers, else a private redis-server for this run (local/redis.ts).
  const localRedis = await ensureRedis({ log: (line) => console.error(`bench: ${line}`) });
  const REDIS_URL = localRedis.url;
  const store = await startLocalBusinessStore({ days: 60 });
  const prefix = `va:bench:${randomUUID().slice(0, 8)}:`;
  const rt = createRuntime(
    // Budgets stretched: the bench measures how long a handler takes, not how often a loaded machine hits the fallback.
    { DYNAMODB_ENDPOINT: store.endpoint, REDIS_URL, CACHE_KEY_PREFIX: prefix, STAGE: 'bench', POWERTOOLS_LOG_LEVEL: 'ERROR', TOOL_TIMEOUT_SCALE: '20' },
    { metrics: false },
  );
  await rt.warm();
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  const flush = async () => {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) if (keys.length) await redis.del(keys);
  };
  const handlers = new Map(toolImplementations.map((t) => [t.contract.name, toolsHttpHandler([t], () => rt)]));
  const run = async (name: string, args: Record<string, unknown>, ids: { callSid: string; toolCallId: string }, phone: string = SEED_PHONES.sam) => {
    const ev = event(name, { ...ids, callerPhone: phone, arguments: args });
    const t = performance.now();
    const out = await handlers.get(name)!(ev);
    const ms = performance.now() - t;
    if (out.statusCode !== 200 || out.body?.includes("couldn't reach")) throw new Error(`${name} failed: ${out.statusCode} ${out.body}`);
    return { ms, body: JSON.parse(out.body!) as { result: Record<string, unknown> } };
  };

  const reads: [string, Record<string, unknown>][] = [
    ['lookup_customer', {}],
    ['check_availability', { service: 'haircut', date: 'tomorrow' }],
    ['get_shipment_status', {}],
  ];
  console.log(`\nHandler latency, ms (n=${N} each; in-process handler, dynalite + Redis at ${REDIS_URL.replace(/\/\/.*@/, '//')})`);
  console.log(`${'tool'.padEnd(22)}${'mode'.padEnd(8)}    p50     p95     p99`);
  const verdicts: string[] = [];
  for (const [name, args] of reads) {
    for (let i = 0; i < 20; i++) await run(name, args, { callSid: 'CA-bench', toolCallId: `w${i}` }); // JIT + connections
    const warm: number[] = [];
    for (let i = 0; i < N; i++) warm.push((await run(name, args, { callSid: 'CA-bench', toolCallId: `r${i}` })).ms);
    const cold: number[] = [];
    for (let i = 0; i < N; i++) {
      await flush();
      cold.push((await run(name, args, { callSid: 'CA-bench', toolCallId: `c${i}` })).ms);
    }
    console.log(`${name.padEnd(22)}${'warm'.padEnd(8)}${fmt(warm)}`);
    console.log(`${name.padEnd(22)}${'cold'.padEnd(8)}${fmt(cold)}`);
    verdicts.push(`${name}: warm p95 ${pct(warm, 95).toFixed(2)} ms ${pct(warm, 95) <= TARGETS.warmP95 ? 'OK' : 'OVER'} (≤ ${TARGETS.warmP95}), cold p95 ${pct(cold, 95).toFixed(2)} ms ${pct(cold, 95) <= TARGETS.coldP95 ? 'OK' : 'OVER'} (≤ ${TARGETS.coldP95})`);
  }

  // Writes bypass the cache: every booking claims a fresh slot; a replay is the idempotent answer from DynamoDB.
  const slots = SEED_SERVICES.flatMap((s) => Array.from({ length: 50 }, (_, d) => SEED_TIMES.map((time) => ({ service: s.id, date: addDays(store.seed.today, d + 5), time })))).flat();
  const writesN = Math.min(N, 200);
  const book: number[] = [];
  const replay: number[] = [];
  const cancel: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < writesN + 10; i++) {
    const s = slots[i]!;
    const callIds = { callSid: `CA-w${i}`, toolCallId: 'book' };
    const first = await run('book_appointment', { service: s.service, date: s.date, time: s.time }, callIds, SEED_PHONES.alex);
    const again = await run('book_appointment', { service: s.service, date: s.date, time: s.time }, callIds, SEED_PHONES.alex);
    if (i >= 10) {
      book.push(first.ms);
      replay.push(again.ms);
    }
    ids.push(String(first.body.result.bookingId));
  }
  for (let i = 0; i < ids.length; i++) {
    const r = await run('change_appointment', { action: 'cancel', bookingId: ids[i] }, { callSid: `CA-w${i}`, toolCallId: 'cancel' }, SEED_PHONES.alex);
    if (i >= 10) cancel.push(r.ms);
  }
  console.log(`${'book_appointment'.padEnd(22)}${'write'.padEnd(8)}${fmt(book)}`);
  console.log(`${'book_appointment'.padEnd(22)}${'replay'.padEnd(8)}${fmt(replay)}`);
  console.log(`${'change_appointment'.padEnd(22)}${'cancel'.padEnd(8)}${fmt(cancel)}`);
  console.log(`\nTargets: ${verdicts.join('; ')}`);

  await flush();
  await redis.quit();
  await rt.close();
  await store.close();
  await localRedis.stop();
}

async function bundles(): Promise<void> {
  const out = `${root}node_modules/.cache/bench-tools`;
  mkdirSync(out, { recursive: true });
  const entries = [
    ...toolImplementations.map((t) => ({ name: t.contract.name, file: `lambdas/tools/${t.contract.name.replaceAll('_', '-')}/handler.ts` })),
    { name: 'vapi', file: 'lambdas/vapi/handler.ts' },
    { name: 'vapi_authorizer', file: 'lambdas/vapi/authorizer.ts' },
  ];
  console.log('\nLambda bundles (esbuild --minify, node22, esm, @aws-sdk/* external) and init time (import in a fresh node, median of 5)');
  console.log(`${'function'.padEnd(22)}   size KB   init ms`);
  for (const e of entries) {
    const outfile = `${out}/${e.name}.mjs`;
    await build({
      entryPoints: [`${root}${e.file}`],
      outfile,
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      external: ['@aws-sdk/*'],
      // CommonJS dependencies (ioredis) call require() for Node built-ins; ESM output needs a real require.
      banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
      logLevel: 'error',
    });
    const kb = statSync(outfile).size / 1024;
    const inits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', `const t=performance.now();await import(${JSON.stringify(outfile)});console.log(performance.now()-t)`],
        { encoding: 'utf8', env: { ...process.env, AWS_REGION: 'us-east-1' } },
      );
      if (r.status !== 0) throw new Error(`import of ${e.name} failed: ${r.stderr}`);
      inits.push(Number(r.stdout.trim().split('\n').pop()));
    }
    console.log(`${e.name.padEnd(22)}${kb.toFixed(1).padStart(10)}${pct(inits, 50).toFixed(1).padStart(10)}   ${kb <= TARGETS.bundleKb ? 'OK' : 'OVER'} (≤ ${TARGETS.bundleKb} KB)`);
  }
}

await latency();
await bundles();
