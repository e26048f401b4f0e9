// The five tools through the shared dispatch against dynalite and the real Redis: cache, invalidation, idempotency, outages.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dispatch, UPSTREAM_FAILURE, type DispatchOutcome } from '../../lambdas/shared/dispatch';
import type { ToolRuntime } from '../../lambdas/shared/runtime';
import { SEED_PHONES } from '../../lambdas/shared/seed';
import { toolImplementations } from '../../lambdas/tools/implementations';
import { blackhole, captureEmf, closedPort, NOW, redisKeys, startStack, withRedis, type Stack } from './harness';

let stack: Stack;
let rt: ToolRuntime;
const emf = captureEmf();
let seq = 0;

beforeAll(async () => {
  stack = await startStack('tools');
  rt = stack.runtime();
});
afterAll(async () => {
  emf.restore();
  await stack.close();
});
beforeEach(() => emf.clear());

function call(name: string, args: Record<string, unknown>, opts: { callSid?: string; toolCallId?: string; phone?: string | null; runtime?: ToolRuntime } = {}) {
  return dispatch(opts.runtime ?? rt, toolImplementations, name, {
    callSid: opts.callSid ?? `CA-tools-${++seq}`,
    toolCallId: opts.toolCallId ?? `tc-${seq}`,
    callerPhone: opts.phone === null ? undefined : (opts.phone ?? SEED_PHONES.alex),
    arguments: args,
  });
}

/** A 200 that is a real answer, not the upstream-failure fallback. */
function ok(o: DispatchOutcome): { result: Record<string, any>; speakable: string } {
  expect(o.status).toBe(200);
  const body = o.body as { result: Record<string, any>; speakable: string };
  expect(body.result.error).not.toBe(UPSTREAM_FAILURE);
  return body;
}

const last = (tool: string) => emf.forTool(tool).at(-1)!;

describe('read-through cache per tool', () => {
  it('check_availability misses, then hits the cache for the same day', async () => {
    const first = ok(await call('check_availability', { service: 'hair-color', date: '2026-03-12' }));
    expect(last('check_availability')).toMatchObject({ CacheMiss: 2, CacheHit: 0, CacheErrors: 0 }); // the day + the service list
    const second = ok(await call('check_availability', { service: 'Hair Color', date: '2026-03-12' }));
    expect(last('check_availability')).toMatchObject({ CacheMiss: 0, CacheHit: 2 });
    expect(second.result).toEqual(first.result);
    expect(await redisKeys(`${stack.prefix}tool:check_availability:*`)).not.toHaveLength(0);
  });

  it('lookup_customer misses, then hits', async () => {
    const phone = SEED_PHONES.priya;
    ok(await call('lookup_customer', {}, { phone }));
    expect(last('lookup_customer')).toMatchObject({ CacheMiss: 1, CacheErrors: 0 }); // the view (the service list may be warm)
    const again = ok(await call('lookup_customer', {}, { phone }));
    expect(last('lookup_customer')).toMatchObject({ CacheMiss: 0, CacheHit: 2 }); // the view + the service list
    expect(again.result.firstName).toBe('Priya');
  });

  it('get_shipment_status misses, then hits (by tracking number and by caller)', async () => {
    ok(await call('get_shipment_status', { trackingNumber: 'va-1004' }));
    expect(last('get_shipment_status')).toMatchObject({ CacheMiss: 1, CacheHit: 0 });
    ok(await call('get_shipment_status', { trackingNumber: 'VA1004' }));
    expect(last('get_shipment_status')).toMatchObject({ CacheMiss: 0, CacheHit: 1 });
    ok(await call('get_shipment_status', {}, { phone: SEED_PHONES.priya }));
    expect(last('get_shipment_status')).toMatchObject({ CacheMiss: 1 });
    ok(await call('get_shipment_status', {}, { phone: SEED_PHONES.priya }));
    expect(last('get_shipment_status')).toMatchObject({ CacheHit: 1, CacheMiss: 0 });
  });

  it('emits ToolHandlerTime with only the Stage and Tool dimensions in the VoiceAgent namespace', async () => {
    ok(await call('lookup_customer', {}));
    const doc = last('lookup_customer');
    expect(doc.Stage).toBe('test');
    expect(doc.ToolHandlerTime).toBeGreaterThan(0);
    expect(doc._aws.CloudWatchMetrics[0]!.Namespace).toBe('VoiceAgent');
    expect(doc._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['Stage', 'Tool']]);
  });
});

describe('check_availability', () => {
  it('resolves "tomorrow" against the business clock and timezone, not UTC', async () => {
    // 03:00 UTC on March 11 is still March 10 in New York: "tomorrow" is March 11 there.
    const late = stack.runtime({}, { clock: () => new Date('2026-03-11T03:00:00Z') });
    const out = ok(await call('check_availability', { service: 'beard trim', date: 'tomorrow' }, { runtime: late }));
    expect(out.result.from).toBe('2026-03-11');
    expect(out.speakable).toMatch(/^For a beard trim, I have tomorrow at 9 AM, 10 AM and 11 AM/);
  });

  it('leaves out times already past today and pre-booked slots', async () => {
    const out = ok(await call('check_availability', { service: 'haircut', date: 'today' })); // NOW is 10:30 local
    expect(out.result.slots.map((s: { time: string }) => s.time)).toEqual(['11:00', '13:00', '14:00', '15:00', '16:00']);
    const tomorrow = ok(await call('check_availability', { service: 'haircut', date: 'tomorrow' }));
    expect(tomorrow.result.slots.map((s: { time: string }) => s.time)).not.toContain('11:00'); // seeded booking (Priya)
  });

  it('answers an unknown service with the services offered', async () => {
    const out = ok(await call('check_availability', { service: 'massage' }));
    expect(out.result).toEqual({ error: 'unknown_service', services: ['beard-trim', 'hair-color', 'haircut'] });
    expect(out.speakable).toContain('beard trim, hair color and haircut');
  });

  it('filters by part of day over a date range', async () => {
    const out = ok(await call('check_availability', { service: 'haircut', date: '2026-03-13', endDate: '2026-03-14', partOfDay: 'afternoon' }));
    expect(new Set(out.result.slots.map((s: { date: string }) => s.date))).toEqual(new Set(['2026-03-13', '2026-03-14']));
    expect(out.result.slots.every((s: { time: string }) => s.time >= '12:00')).toBe(true);
  });
});

describe('book_appointment', () => {
  it('invalidates that day\'s availability: a booked time disappears at once although it was cached', async () => {
    const day = '2026-03-13';
    const before = ok(await call('check_availability', { service: 'beard-trim', date: day }));
    expect(before.result.slots.map((s: { time: string }) => s.time)).toContain('09:00');
    ok(await call('check_availability', { service: 'beard-trim', date: day }));
    expect(last('check_availability').CacheHit).toBe(2); // cached now
    const booked = ok(await call('book_appointment', { service: 'beard-trim', date: day, time: '9:00 AM' }));
    expect(booked.result).toMatchObject({ booked: true, date: day, time: '09:00' });
    const after = ok(await call('check_availability', { service: 'beard-trim', date: day }));
    expect(last('check_availability').CacheMiss).toBe(1); // the day's entry was deleted by the booking
    expect(after.result.slots.map((s: { time: string }) => s.time)).not.toContain('09:00');
  });

  it('books once for a retried call with the same callSid and toolCallId, and returns the same result', async () => {
    const ids = { callSid: 'CA-retry', toolCallId: 'tc-retry', phone: SEED_PHONES.priya };
    const args = { service: 'hair-color', date: '2026-03-14', time: '13:00' };
    const first = ok(await call('book_appointment', args, ids));
    const retry = ok(await call('book_appointment', args, ids));
    expect(first.result.booked).toBe(true);
    expect(retry).toEqual(first);
    const bookings = await rt.data.upcomingBookings(SEED_PHONES.priya, '2026-03-14');
    expect(bookings.filter((b) => b.service === 'hair-color' && b.date === '2026-03-14')).toHaveLength(1);
  });

  it('returns one result for concurrent duplicates of one tool call (a retry racing the original)', async () => {
    const ids = { callSid: 'CA-race', toolCallId: 'tc-race', phone: SEED_PHONES.alex };
    const args = { service: 'hair-color', date: '2026-03-15', time: '10:00' };
    const outs = (await Promise.all([call('book_appointment', args, ids), call('book_appointment', args, ids), call('book_appointment', args, ids)])).map(ok);
    expect(outs.every((o) => o.result.booked === true)).toBe(true);
    expect(new Set(outs.map((o) => o.result.bookingId)).size).toBe(1);
  });

  it('refuses the same toolCallId with different arguments (400 naming toolCallId)', async () => {
    const ids = { callSid: 'CA-mismatch', toolCallId: 'tc-mismatch' };
    ok(await call('book_appointment', { service: 'haircut', date: '2026-03-16', time: '09:00' }, ids));
    const clash = await call('book_appointment', { service: 'haircut', date: '2026-03-16', time: '10:00' }, ids);
    expect(clash).toEqual({ status: 400, body: { error: 'toolCallId was already used with different arguments', field: 'toolCallId' } });
  });

  it('refuses a slot already taken with a reason the agent can say, offering other times', async () => {
    const args = { service: 'haircut', date: '2026-03-11', time: '11:00' }; // seeded booking (Priya)
    const out = ok(await call('book_appointment', args));
    expect(out.result).toMatchObject({ booked: false, reason: 'slot_taken' });
    expect(out.result.alternatives.length).toBeGreaterThan(0);
    expect(out.speakable).toMatch(/^Sorry, 11 AM tomorrow was just taken\. I have 9 AM, 10 AM and 1 PM open tomorrow\.$/);
  });

  it('lets exactly one of five concurrent bookings of one slot win', async () => {
    const args = { service: 'haircut', date: '2026-03-15', time: '15:00' };
    const outs = (await Promise.all([1, 2, 3, 4, 5].map((i) => call('book_appointment', args, { callSid: `CA-conc-${i}`, toolCallId: 'tc-1' })))).map(ok);
    expect(outs.filter((o) => o.result.booked === true)).toHaveLength(1);
    expect(outs.filter((o) => o.result.reason === 'slot_taken')).toHaveLength(4);
  });

  it('refuses a time we do not offer and a time in the past', async () => {
    const odd = ok(await call('book_appointment', { service: 'haircut', date: '2026-03-12', time: '12:15' }));
    expect(odd.result).toMatchObject({ booked: false, reason: 'no_such_slot' });
    const past = ok(await call('book_appointment', { service: 'haircut', date: 'today', time: '9am' }));
    expect(past.result).toMatchObject({ booked: false, reason: 'in_past' });
  });
});

describe('change_appointment', () => {
  it('reschedules (the old slot opens, the new one closes) and cancels (the slot opens again)', async () => {
    const phone = '+15551239999';
    const booked = ok(await call('book_appointment', { service: 'beard-trim', date: '2026-03-12', time: '14:00' }, { phone }));
    const id = booked.result.bookingId as string;
    const times = async (date: string) =>
      ok(await call('check_availability', { service: 'beard-trim', date }, { phone })).result.slots.map((s: { date: string; time: string }) => `${s.date} ${s.time}`);
    expect(await times('2026-03-12')).not.toContain('2026-03-12 14:00');

    const moved = ok(await call('change_appointment', { action: 'reschedule', bookingId: id.toLowerCase(), newDate: '2026-03-13', newTime: '4 pm' }, { phone }));
    expect(moved.result).toMatchObject({ changed: true, date: '2026-03-13', time: '16:00', previous: { date: '2026-03-12', time: '14:00' } });
    expect(await times('2026-03-12')).toContain('2026-03-12 14:00');
    expect(await times('2026-03-13')).not.toContain('2026-03-13 16:00');

    const cancelled = ok(await call('change_appointment', { action: 'cancel' }, { phone })); // found by caller number
    expect(cancelled.result).toMatchObject({ changed: true, action: 'cancel', bookingId: id });
    expect(await times('2026-03-13')).toContain('2026-03-13 16:00');
  });

  it('does not touch another caller\'s booking', async () => {
    const out = ok(await call('change_appointment', { action: 'cancel', bookingId: 'SAM2H4' }, { phone: SEED_PHONES.alex }));
    expect(out.result).toMatchObject({ changed: false, reason: 'not_found' });
    expect((await rt.data.booking('SAM2H4'))?.status).toBe('booked');
  });

  it('requires newDate to reschedule (400 naming the field)', async () => {
    const out = await call('change_appointment', { action: 'reschedule', bookingId: 'SAM2H4' });
    expect(out).toMatchObject({ status: 400, body: { field: 'newDate' } });
  });
});

describe('get_shipment_status and lookup_customer', () => {
  it('says why a delayed shipment is late, with structured fields', async () => {
    const out = ok(await call('get_shipment_status', {}, { phone: SEED_PHONES.sam }));
    expect(out.result).toMatchObject({ found: true, trackingNumber: 'VA1002', status: 'delayed', eta: '2026-03-14', delayReason: 'severe weather at the regional hub', openShipments: 1 });
    expect(out.speakable).toBe("Your FedEx package ending in 1 0 0 2 is delayed because of severe weather at the regional hub; it's now expected on Saturday, March 14.");
  });

  it('returns only what personalizes the call, never the full record', async () => {
    const out = ok(await call('lookup_customer', {}, { phone: SEED_PHONES.sam }));
    expect(out.result).toEqual({
      found: true,
      firstName: 'Sam',
      upcomingAppointment: { bookingId: 'SAM2H4', service: 'haircut', date: '2026-03-12', time: '14:00' },
      openShipments: 1,
    });
    expect(JSON.stringify(out)).not.toMatch(/Chen|@|Pine|VIP|\+1555/);
    expect(out.speakable).toBe('Welcome back, Sam. I see your haircut on Thursday, March 12 at 2 PM.');
  });

  it('does not recognise an unknown number', async () => {
    const out = ok(await call('lookup_customer', {}, { phone: '+15550000000' }));
    expect(out.result).toMatchObject({ found: false });
  });
});

describe('connection reuse', () => {
  it('serves many calls, sequential and concurrent, over one Redis connection per runtime', async () => {
    const name = `tools-test-${Math.random().toString(36).slice(2, 10)}`;
    const one = stack.runtime({ POWERTOOLS_SERVICE_NAME: name });
    // Concurrent first calls share the one lazy connect; later calls reuse it.
    (await Promise.all(Array.from({ length: 10 }, () => call('lookup_customer', {}, { runtime: one })))).forEach(ok);
    for (let i = 0; i < 5; i++) ok(await call('get_shipment_status', { trackingNumber: 'VA1001' }, { runtime: one }));
    // CLIENT LIST: one line per connection, `... name=<CLIENT SETNAME> ...`.
    const list = (await withRedis((admin) => admin.client('LIST'))) as string;
    expect(list.split('\n').filter((line) => line.split(' ').includes(`name=${name}`))).toHaveLength(1);
  });
});

describe('outages', () => {
  it('answers from the source when Redis is down, counting CacheErrors, and keeps answering', async () => {
    const down = stack.runtime({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    const first = ok(await call('lookup_customer', {}, { phone: SEED_PHONES.sam, runtime: down }));
    expect(first.result.firstName).toBe('Sam');
    expect(last('lookup_customer').CacheErrors).toBeGreaterThanOrEqual(1);
    const second = ok(await call('check_availability', { service: 'haircut', date: 'tomorrow' }, { runtime: down }));
    expect(second.result.slots.length).toBeGreaterThan(0);
    expect(last('check_availability').CacheErrors).toBeGreaterThanOrEqual(1);
    expect(last('check_availability').CacheHit).toBe(0);
  });

  it('answers "I couldn\'t reach that system" when the data source outlasts the budget', async () => {
    const hole = await blackhole();
    try {
      const slow = stack.runtime({ DYNAMODB_ENDPOINT: hole.url, CACHE_KEY_PREFIX: `${stack.prefix}slow:`, TOOL_TIMEOUT_SCALE: '1' });
      const outcome = await call('get_shipment_status', { trackingNumber: 'VA1001' }, { runtime: slow });
      expect(outcome.status).toBe(200);
      const out = outcome.body as { result: unknown; speakable: string };
      expect(out.result).toEqual({ error: UPSTREAM_FAILURE, retryable: true });
      expect(out.speakable).toContain(UPSTREAM_FAILURE);
    } finally {
      await hole.close();
    }
  });
});
