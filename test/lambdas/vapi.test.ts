// Vapi's tool-calls webhook: the three toolCallList shapes, string/object arguments, single-line results, and the authorizer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_PHONES } from '../../lambdas/shared/seed';
import { createAuthorizer, presentedSecret } from '../../lambdas/vapi/authorizer';
import { normalizeToolCall } from '../../lambdas/vapi/vapi-format';
import { startToolsServer, type ToolsServer } from '../../local/tools-server';
import { NOW, startStack, type Stack } from './harness';

const SECRET = 'vapi-shared-secret-for-tests';
let stack: Stack;
let server: ToolsServer;

beforeAll(async () => {
  stack = await startStack('vapi');
  server = await startToolsServer({ env: { ...stack.env, VAPI_SECRET: SECRET }, runtime: { clock: () => NOW } });
});
afterAll(async () => {
  await server.close();
  await stack.close();
});

async function webhook(body: unknown, headers: Record<string, string> = { 'x-vapi-secret': SECRET }) {
  const res = await fetch(`${server.url}/vapi/tool-calls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as { results: { toolCallId: string; name: string; result?: string; error?: string }[] } };
}

const message = (toolCallList: unknown[], extra: Record<string, unknown> = {}) => ({
  message: { type: 'tool-calls', timestamp: 1678901234567, call: { id: 'vapi-call-1', customer: { number: SEED_PHONES.sam } }, toolCallList, ...extra },
});

describe('POST /vapi/tool-calls', () => {
  it('accepts all three toolCallList shapes in one request and answers each in order', async () => {
    const out = await webhook(
      message([
        { id: 'call_openapi', type: 'function', function: { name: 'lookup_customer', arguments: '{}' } },
        { id: 'call_custom', name: 'get_shipment_status', arguments: { trackingNumber: 'VA1002' } },
        { id: 'call_events', name: 'check_availability', parameters: { service: 'haircut', date: 'tomorrow', partOfDay: 'morning' } },
      ]),
    );
    expect(out.status).toBe(200);
    expect(out.body.results.map((r) => [r.toolCallId, r.name])).toEqual([
      ['call_openapi', 'lookup_customer'],
      ['call_custom', 'get_shipment_status'],
      ['call_events', 'check_availability'],
    ]);
    const [lookup, ship, avail] = out.body.results.map((r) => JSON.parse(r.result!) as Record<string, any>);
    expect(lookup).toMatchObject({ speakable: 'Welcome back, Sam. I see your haircut on Thursday, March 12 at 2 PM.', firstName: 'Sam' });
    expect(ship).toMatchObject({ status: 'delayed', delayReason: 'severe weather at the regional hub' });
    expect(avail.slots).toEqual([
      { date: '2026-03-11', time: '09:00' },
      { date: '2026-03-11', time: '10:00' },
    ]);
  });

  it('takes function.arguments as an object too, and uses the call id + customer number', async () => {
    const out = await webhook(message([{ id: 'call_obj', type: 'function', function: { name: 'book_appointment', arguments: { service: 'beard trim', date: '2026-03-12', time: '3 PM' } } }]));
    const booked = JSON.parse(out.body.results[0]!.result!) as Record<string, any>;
    expect(booked).toMatchObject({ booked: true, service: 'beard-trim', date: '2026-03-12', time: '15:00' });
    const again = await webhook(message([{ id: 'call_obj', type: 'function', function: { name: 'book_appointment', arguments: { service: 'beard trim', date: '2026-03-12', time: '3 PM' } } }]));
    expect(JSON.parse(again.body.results[0]!.result!)).toEqual(booked); // Vapi retry: same call id + tool call id
  });

  it('returns every result and error as a single-line string with HTTP 200', async () => {
    const out = await webhook(
      message([
        { id: 'ok', name: 'lookup_customer', parameters: {} },
        { id: 'unknown', name: 'launch_rocket', parameters: {} },
        { id: 'invalid', name: 'check_availability', parameters: { date: 'tomorrow' } },
        { id: 'badjson', type: 'function', function: { name: 'lookup_customer', arguments: '{"oops' } },
      ]),
    );
    expect(out.status).toBe(200);
    const [ok, unknown, invalid, badjson] = out.body.results;
    expect(typeof ok!.result).toBe('string');
    expect(unknown).toEqual({
      toolCallId: 'unknown',
      name: 'launch_rocket',
      error: "Unknown tool 'launch_rocket'. Available tools: lookup_customer, check_availability, book_appointment, change_appointment, get_shipment_status",
    });
    expect(invalid!.error).toMatch(/^Invalid argument 'service': /);
    expect(badjson).toEqual({ toolCallId: 'badjson', name: 'lookup_customer', error: 'arguments is not valid JSON' });
    for (const r of out.body.results) {
      const s = r.result ?? r.error!;
      expect(typeof s).toBe('string');
      expect(s).not.toMatch(/[\r\n\u2028\u2029]/);
    }
  });

  it('falls back to toolWithToolCallList when toolCallList is absent', async () => {
    const out = await webhook({
      message: { type: 'tool-calls', call: { id: 'vapi-call-2' }, customer: { number: SEED_PHONES.alex }, toolWithToolCallList: [{ name: 'lookup_customer', toolCall: { id: 'twl', parameters: {} } }] },
    });
    expect(out.body.results[0]).toMatchObject({ toolCallId: 'twl', name: 'lookup_customer' });
    expect(JSON.parse(out.body.results[0]!.result!)).toMatchObject({ firstName: 'Alex' });
  });

  it('acknowledges other server messages with 200 and refuses a body with no tool call', async () => {
    expect((await webhook({ message: { type: 'status-update', status: 'in-progress' } })).status).toBe(200);
    const res = await webhook({ message: { type: 'tool-calls', toolCallList: [{ foo: 1 }] } });
    expect(res.status).toBe(400);
  });

  it('answers a body over 256 KiB with 413', async () => {
    const res = await fetch(`${server.url}/vapi/tool-calls`, {
      method: 'POST',
      headers: { 'x-vapi-secret': SECRET },
      body: JSON.stringify(message([{ id: 'big', name: 'lookup_customer', parameters: {} }], { artifact: { messages: ['x'.repeat(300 * 1024)] } })),
    });
    expect(res.status).toBe(413);
  });
});

describe('Vapi authorizer', () => {
  it('refuses a missing or wrong secret with 403 over HTTP and never runs the tool', async () => {
    const body = JSON.stringify(message([{ id: 'no', name: 'book_appointment', parameters: { service: 'haircut', date: '2026-03-16', time: '16:00' } }]));
    for (const headers of [{}, { 'x-vapi-secret': 'wrong' }, { authorization: 'Bearer wrong' }, { authorization: SECRET }] as Record<string, string>[]) {
      const res = await fetch(`${server.url}/vapi/tool-calls`, { method: 'POST', headers, body });
      expect(res.status).toBe(403);
    }
    const slots = (await stack.runtime().data.slots('haircut', '2026-03-16')).find((s) => s.time === '16:00');
    expect(slots?.open).toBe(true);
  });

  it('accepts Authorization: Bearer as well as x-vapi-secret', async () => {
    const out = await webhook(message([{ id: 'bearer', name: 'lookup_customer', parameters: {} }]), { authorization: `Bearer ${SECRET}` });
    expect(out.status).toBe(200);
  });

  it('accepts the right secret and refuses others, failing closed without a configured secret', async () => {
    const auth = createAuthorizer(async () => SECRET);
    expect(await auth({ headers: { 'x-vapi-secret': SECRET } })).toEqual({ isAuthorized: true });
    expect(await auth({ headers: { 'X-Vapi-Secret': SECRET } })).toEqual({ isAuthorized: true });
    expect(await auth({ headers: { 'x-vapi-secret': `${SECRET}x` } })).toEqual({ isAuthorized: false });
    expect(await auth({ headers: { 'x-vapi-secret': SECRET.slice(0, -1) } })).toEqual({ isAuthorized: false });
    expect(await auth({ headers: {} })).toEqual({ isAuthorized: false });
    expect(await createAuthorizer(async () => undefined)({ headers: { 'x-vapi-secret': '' } })).toEqual({ isAuthorized: false });
    expect(await createAuthorizer(async () => undefined)({ headers: { 'x-vapi-secret': 'anything' } })).toEqual({ isAuthorized: false });
    expect(await createAuthorizer(async () => { throw new Error('secrets manager down'); })({ headers: { 'x-vapi-secret': SECRET } })).toEqual({ isAuthorized: false });
    expect(presentedSecret({ authorization: 'bearer   tok ' })).toBe('tok');
  });
});

describe('normalizeToolCall', () => {
  it('reads the OpenAPI function.parameters variant and drops items without an id or a name', () => {
    expect(normalizeToolCall({ id: 'a', function: { name: 'x', parameters: { k: 1 } } })).toEqual({ toolCallId: 'a', name: 'x', arguments: { k: 1 }, argumentsError: undefined });
    expect(normalizeToolCall({ id: 'a' })).toBeUndefined();
    expect(normalizeToolCall({ name: 'x' })).toBeUndefined();
    expect(normalizeToolCall({ id: 'a', name: 'x', arguments: '' })).toMatchObject({ arguments: {} });
  });
});
