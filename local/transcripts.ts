// `npm run transcripts -- replay`: writes transcript items a stopping task spooled (Redis list va:transcript-spool, spool-dir files) back to DynamoDB.
import './node-support';
import { parseArgs } from 'node:util';
import { createDocumentClient } from '../fargate/src/store/dynamo';
import { connectRedis, type RedisClient } from '../fargate/src/store/redis';
import { defaultSpoolDir, replaySpool } from '../fargate/src/store/transcript-spool';

const USAGE = `usage: npm run transcripts -- replay [--table NAME] [--redis URL | --no-redis] [--dir DIR] [--endpoint URL]
  Writes every spooled transcript item back to the table, then removes it from the spool.
  --table     transcripts table (default $TRANSCRIPTS_TABLE)
  --redis     Redis holding the spool list va:transcript-spool (default $REDIS_URL)
  --no-redis  skip the Redis spool
  --dir       spool directory of transcripts-*.jsonl files (default $TRANSCRIPT_SPOOL_DIR, else $TMPDIR/voice-agent-transcripts)
  --endpoint  DynamoDB endpoint, e.g. local dynalite (default $DYNAMODB_ENDPOINT; omit for AWS)
  Run it where the spool is: Redis is reachable from the VPC; a file spool lives on the machine that wrote it.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      table: { type: 'string' }, redis: { type: 'string' }, 'no-redis': { type: 'boolean' }, dir: { type: 'string' },
      endpoint: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`), 0;
  const table = values.table ?? process.env.TRANSCRIPTS_TABLE;
  if (positionals[0] !== 'replay' || !table) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const redisUrl = values['no-redis'] ? undefined : (values.redis ?? process.env.REDIS_URL);
  const doc = createDocumentClient({ endpoint: values.endpoint ?? process.env.DYNAMODB_ENDPOINT, region: process.env.AWS_REGION });
  let redis: RedisClient | undefined;
  try {
    redis = redisUrl ? await connectRedis(redisUrl) : undefined;
    const dir = values.dir ?? process.env.TRANSCRIPT_SPOOL_DIR ?? defaultSpoolDir();
    const result = await replaySpool({ doc, table, redis, dir });
    process.stdout.write(`${JSON.stringify({ table, ...result })}\n`);
    return 0;
  } finally {
    doc.destroy();
    await redis?.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`transcripts: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
