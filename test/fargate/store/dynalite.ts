// Test helper: an in-process dynalite on an ephemeral port with the transcripts table (and its byCaller GSI).
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, ensureTranscriptTable } from '../../../fargate/src/store/dynamo';

// dynalite ships no type declarations; load it through require with the one signature we use.
const dynalite = createRequire(import.meta.url)('dynalite') as (opts?: { createTableMs?: number; deleteTableMs?: number }) => Server;

export interface LocalDynamo {
  endpoint: string;
  port: number;
  doc: DynamoDBDocumentClient;
  server: Server;
  close(): Promise<void>;
}

/** Starts dynalite (port 0 unless given) and, unless `table` is null, creates the transcripts table. */
export async function startDynalite(opts: { port?: number; table?: string | null; createTableMs?: number } = {}): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: opts.createTableMs ?? 0, deleteTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;
  const doc = createDocumentClient({ endpoint, region: 'us-east-1' });
  if (opts.table !== null) await ensureTranscriptTable(doc, opts.table ?? 'transcripts');
  return {
    endpoint, port, doc, server,
    async close() {
      doc.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port that was free a moment ago (for "the database comes up later" tests). */
export { freePort } from '../../../local/ports';
