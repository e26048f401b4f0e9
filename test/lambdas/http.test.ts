// POST /tools/{name} over HTTP through the local adapter (API Gateway v2 events): all five tools, and the error statuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { SEED_PHONES } from '../../lambdas/shared/seed';
import { handler as bookHandler } from '../../lambdas/tools/book-appointment/handler';
import { startToolsServer, type ToolsServer } from '../../local/tools-server';
import { NOW, startStack, type Stack } from './harness';

let stack: Stack;
let server: ToolsServer;

beforeAll(async () => {
  stack = await startStack('http');
  server = await startToolsServer({ env: stack.env, runtime: { clock: () => NOW } });
});
afterAll(async () => {
  await server.close();
  await stack.close();
});

async function post(path: string, body: unknown, raw = false) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const envelope = (args: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  callSid: 'CA-http',
  toolCallId: `tc-${Math.random().toString(36).slice(2)}`,
  callerPhone: SEED_PHONES.sam,
  arguments: args,
  ...extra,
});

describe('local adapter, end to end over HTTP', () => {
  it('serves all five tools with 200 {result, speakable}', async () => {
    const lookup = await post('/tools/lookup_customer', envelope({}));
    expect(lookup).toMatchObject({ status: 200, body: { result: { found: true, firstName: 'Sam' } } });
    const avail = await post('/tools/check_availability', envelope({ service: 'haircut', date: 'tomorrow', partOfDay: 'morning' }));
    expect(avail.body.result.slots).toEqual([
      { date: '2026-03-11', time: '09:00' },
      { date: '2026-03-11', time: '10:00' },
    ]);
    expect(avail.body.speakable).toBe('For a haircut in the morning, I have tomorrow at 9 AM and 10 AM. Which works for you?');
    const book = await post('/tools/book_appointment', envelope({ service: 'haircut', date: 'tomorrow', time: '10:00', name: 'Sam' }));
    expect(book.body.result).toMatchObject({ booked: true, date: '2026-03-11', time: '10:00' });
    expect(book.body.speakable).toMatch(/^You're booked for a haircut tomorrow at 10 AM\. Your confirmation code is( [A-Z2-9]){6}\.$/);
    const change = await post('/tools/change_appointment', envelope({ action: 'cancel', bookingId: book.body.result.bookingId }));
    expect(change.body.result).toMatchObject({ changed: true, action: 'cancel' });
    const ship = await post('/tools/get_shipment_status', envelope({ trackingNumber: 'VA1003' }));
    expect(ship).toMatchObject({ status: 200, body: { result: { status: 'delivered', trackingNumber: 'VA1003' } } });
  });

  it('answers an unknown tool with 404 listing the tools', async () => {
    const out = await post('/tools/delete_everything', envelope({}));
    expect(out).toEqual({
      status: 404,
      body: { error: "Unknown tool 'delete_everything'", tools: ['lookup_customer', 'check_availability', 'book_appointment', 'change_appointment', 'get_shipment_status'] },
    });
  });

  it('answers invalid arguments with 400 naming the field', async () => {
    const out = await post('/tools/book_appointment', envelope({ service: 'haircut', date: 'next week', time: '10:00' }));
    expect(out.status).toBe(400);
    expect(out.body).toEqual({ error: `Invalid argument 'date': use "today", "tomorrow" or a date like 2026-11-25`, field: 'date' });
    const missing = await post('/tools/check_availability', envelope({}));
    expect(missing).toMatchObject({ status: 400, body: { field: 'service' } });
  });

  it('answers a request without callSid with 400 naming it, and non-JSON with 400', async () => {
    const out = await post('/tools/lookup_customer', { toolCallId: 'x', arguments: {} });
    expect(out).toMatchObject({ status: 400, body: { field: 'callSid' } });
    const bad = await post('/tools/lookup_customer', '{"callSid":', true);
    expect(bad).toEqual({ status: 400, body: { error: 'Request body is not valid JSON' } });
  });

  it('answers a body over 16 KiB with 413 and does not run the tool', async () => {
    const out = await post('/tools/book_appointment', envelope({ service: 'haircut', date: 'tomorrow', time: '13:00', name: 'x'.repeat(17 * 1024) }));
    expect(out.status).toBe(413);
    const still = await post('/tools/check_availability', envelope({ service: 'haircut', date: 'tomorrow' }));
    expect(still.body.result.slots).toContainEqual({ date: '2026-03-11', time: '13:00' });
  });

  it('answers unknown routes with 404 like API Gateway', async () => {
    const res = await fetch(`${server.url}/nothing`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
  });
});

describe('the per-tool Lambda handler export', () => {
  it('handles an API Gateway v2 event for its own route, configured from process.env', async () => {
    Object.assign(process.env, { ...stack.env, CACHE_KEY_PREFIX: `${stack.prefix}lambda:`, POWERTOOLS_METRICS_DISABLED: 'true' });
    const event = {
      version: '2.0',
      routeKey: 'POST /tools/{name}',
      rawPath: '/tools/book_appointment',
      rawQueryString: '',
      headers: { 'content-type': 'application/json' },
      pathParameters: { name: 'book_appointment' },
      requestContext: {} as APIGatewayProxyEventV2['requestContext'],
      isBase64Encoded: true,
      body: Buffer.from(JSON.stringify(envelope({ service: 'massage', date: 'tomorrow', time: '9' }))).toString('base64'),
    } satisfies APIGatewayProxyEventV2;
    const out = await bookHandler(event);
    expect(out.statusCode).toBe(200);
    expect(JSON.parse(out.body!).result).toMatchObject({ error: 'unknown_service' });
    const other = await bookHandler({ ...event, pathParameters: { name: 'lookup_customer' } });
    expect(other.statusCode).toBe(404); // this Lambda serves only its own tool
  });
});
