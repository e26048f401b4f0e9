// Pins the transcript writer against dynalite: item shapes, batching ≤ 25, background flush, retries with error counts.
import { randomUUID } from 'node:crypto';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient, ensureTranscriptTable } from '../../../fargate/src/store/dynamo';
import { TranscriptWriter } from '../../../fargate/src/store/transcript-store';
import { freePort, startDynalite, type LocalDynamo } from './dynalite';

const TABLE = 'transcripts';
const sid = () => `CA${randomUUID().replace(/-/g, '')}`;

async function itemsOf(doc: DynamoDBDocumentClient, callSid: string): Promise<Record<string, unknown>[]> {
  const out = await doc.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'callSid = :c', ExpressionAttributeValues: { ':c': callSid }, ConsistentRead: true }));
  return out.Items ?? [];
}

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('transcript writer', () => {
  let db: LocalDynamo;
  beforeAll(async () => {
    db = await startDynalite({ table: TABLE });
  });
  afterAll(async () => {
    await db.close();
  });

  it('stores each heard turn and the call record with redacted text and arguments and the retention TTL', async () => {
    const writer = new TranscriptWriter({ doc: db.doc, table: TABLE, retentionDays: 7 });
    const callSid = sid();
    const t0 = Date.parse('2026-11-24T10:00:00Z');
    writer.putCall({ callSid, agent: 'booking', callerHash: 'hash-a', startedAt: t0 });
    writer.append({
      callSid, turn: 1, role: 'user', text: 'my card is 4111 1111 1111 1111', startedAt: t0 + 1000, endedAt: t0 + 2500, callerHash: 'hash-a',
      latency: { sttFinalDelay: 120 },
    });
    writer.append({
      callSid, turn: 2, role: 'assistant', text: 'I have 9 AM', interrupted: true, startedAt: t0 + 3000, callerHash: 'hash-a',
      latency: { voiceToVoice: 480, llmTimeToFirstToken: 150, ttsTimeToFirstByte: 90 },
      toolCalls: [{ id: 'c1', name: 'book_appointment', arguments: '{"phone":"+15552345678","service":"haircut"}', ok: true, latencyMs: 80 }],
    });
    writer.putCall({ callSid, agent: 'booking', callerHash: 'hash-a', startedAt: t0, endedAt: t0 + 60_000, summary: 'booked', escalated: false, cost: { stt: 0.004, llm: 0.001, total: 0.02 }, turns: 2 });
    expect(await writer.flush(callSid)).toBe(true);

    const items = await itemsOf(db.doc, callSid);
    expect(items.map((i) => i.turn)).toEqual([0, 1, 2]);
    const expiresAt = Math.floor(t0 / 1000) + 7 * 86_400;
    expect(items[0]).toEqual({
      callSid, turn: 0, kind: 'call', agent: 'booking', callerHash: 'hash-a', startedAt: '2026-11-24T10:00:00.000Z',
      endedAt: '2026-11-24T10:01:00.000Z', summary: 'booked', escalated: false, cost: { stt: 0.004, llm: 0.001, total: 0.02 }, turns: 2, expiresAt,
    });
    expect(items[1]).toMatchObject({ role: 'user', text: 'my card is [card]', interrupted: false, at: '2026-11-24T10:00:01.000Z', endAt: '2026-11-24T10:00:02.500Z', callerHash: 'hash-a', latency: { sttFinalDelay: 120 } });
    expect(items[2]).toMatchObject({ role: 'assistant', interrupted: true, toolCalls: [{ id: 'c1', name: 'book_appointment', ok: true, latencyMs: 80, arguments: '{"phone":"[phone]","service":"haircut"}' }] });
    // Turn items stay out of the byCaller index (no startedAt), so it holds one entry per call.
    expect(items[1].startedAt).toBeUndefined();
    // The second call record replaced the first while it was still queued: three writes, not four.
    expect(writer.stats()).toMatchObject({ written: 3, failedAttempts: 0, dropped: 0, pending: 0 });
  });

  it('writes without being asked, soon after an append', async () => {
    const writer = new TranscriptWriter({ doc: db.doc, table: TABLE });
    const callSid = sid();
    writer.append({ callSid, turn: 1, role: 'user', text: 'hello', startedAt: Date.now() });
    await until(async () => (await itemsOf(db.doc, callSid)).length === 1, 'the background write');
  });

  it('sends many turns in BatchWriteItem requests of at most 25 items', async () => {
    const sizes: number[] = [];
    const doc = createDocumentClient({ endpoint: db.endpoint });
    doc.middlewareStack.add((next) => async (args) => {
      const input = args.input as { RequestItems?: Record<string, unknown[]> };
      if (input.RequestItems) sizes.push(input.RequestItems[TABLE].length);
      return next(args);
    }, { step: 'initialize' });
    const writer = new TranscriptWriter({ doc, table: TABLE });
    const calls = [sid(), sid(), sid()];
    for (let turn = 1; turn <= 20; turn++) for (const callSid of calls) writer.append({ callSid, turn, role: 'user', text: `t${turn}`, startedAt: Date.now() });
    expect(await writer.flushAll()).toBe(true);
    for (const callSid of calls) expect((await itemsOf(db.doc, callSid)).length).toBe(20);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(60);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(25);
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    doc.destroy();
  });

  it('skips one invalid item, counts it, and still writes the others of its batch', async () => {
    const errors: number[] = [];
    const writer = new TranscriptWriter({ doc: db.doc, table: TABLE, onWriteError: (n) => errors.push(n) });
    const callSid = sid();
    writer.append({ callSid, turn: 1, role: 'user', text: 'one', startedAt: Date.now() });
    writer.putCall({ callSid, agent: 'booking', startedAt: Date.now(), cost: { blob: 'x'.repeat(450_000) } }); // over the 400 KB item limit
    writer.append({ callSid, turn: 2, role: 'assistant', text: 'two', startedAt: Date.now() });
    expect(await writer.flush(callSid)).toBe(false); // not everything of the call could be written
    expect((await itemsOf(db.doc, callSid)).map((i) => i.turn)).toEqual([1, 2]);
    expect(writer.stats().dropped).toBe(1);
    expect(errors.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('never throws from append on bad input, and counts it as a write error', () => {
    const errors: number[] = [];
    const writer = new TranscriptWriter({ doc: db.doc, table: TABLE, onWriteError: (n) => errors.push(n) });
    expect(() => writer.append({ callSid: '', turn: 0, role: 'user', text: 'x', startedAt: 1 })).not.toThrow();
    expect(() => writer.append({ callSid: 'CA1', turn: 1, role: 'user', text: 'x', startedAt: Number.NaN })).not.toThrow();
    expect(() => writer.append(undefined as never)).not.toThrow();
    expect(errors).toEqual([1, 1, 1]);
    expect(writer.stats()).toMatchObject({ dropped: 3, pending: 0 });
  });
});

describe('transcript writer retries', () => {
  it('keeps retrying while DynamoDB is unreachable, counts the errors, and writes everything once it is up', async () => {
    const port = await freePort();
    const doc = createDocumentClient({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
    let errors = 0;
    const writer = new TranscriptWriter({ doc, table: TABLE, onWriteError: (n) => (errors += n) });
    const callSid = sid();
    writer.putCall({ callSid, agent: 'booking', callerHash: 'h', startedAt: 1000 });
    for (let turn = 1; turn <= 3; turn++) writer.append({ callSid, turn, role: 'user', text: `t${turn}`, startedAt: 1000 + turn });
    await until(() => errors >= 4, 'failed attempts to be counted');
    // A newer version of the call record queued during the outage must win over the older one being retried.
    writer.putCall({ callSid, agent: 'booking', callerHash: 'h', startedAt: 1000, endedAt: 9000, summary: 'final' });

    const db = await startDynalite({ port, table: TABLE });
    try {
      expect(await writer.flush(callSid, 20_000)).toBe(true);
      const items = await itemsOf(db.doc, callSid);
      expect(items.map((i) => i.turn)).toEqual([0, 1, 2, 3]);
      expect(items[0]).toMatchObject({ summary: 'final', endedAt: new Date(9000).toISOString() });
      expect(writer.stats()).toMatchObject({ dropped: 0, pending: 0 });
      expect(writer.stats().failedAttempts).toBe(errors);
    } finally {
      doc.destroy();
      await db.close();
    }
  });

  it('retries while the table does not exist yet and writes once it is created', async () => {
    const db = await startDynalite({ table: null });
    let errors = 0;
    const writer = new TranscriptWriter({ doc: db.doc, table: TABLE, onWriteError: (n) => (errors += n) });
    try {
      const callSid = sid();
      writer.append({ callSid, turn: 1, role: 'user', text: 'early', startedAt: 1 });
      await until(() => errors >= 1, 'a failed attempt');
      await ensureTranscriptTable(db.doc, TABLE);
      expect(await writer.flush(callSid, 20_000)).toBe(true);
      expect((await itemsOf(db.doc, callSid)).map((i) => i.text)).toEqual(['early']);
    } finally {
      await db.close();
    }
  });

  it('gives up on an item after maxAttempts and says so', async () => {
    const port = await freePort();
    const doc = createDocumentClient({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
    const writer = new TranscriptWriter({ doc, table: TABLE, maxAttempts: 3, baseBackoffMs: 5, maxBackoffMs: 20 });
    writer.append({ callSid: sid(), turn: 1, role: 'user', text: 'lost', startedAt: 1 });
    expect(await writer.flushAll(20_000)).toBe(false);
    expect(writer.stats()).toMatchObject({ written: 0, failedAttempts: 3, dropped: 1, pending: 0 });
    doc.destroy();
  });
});
