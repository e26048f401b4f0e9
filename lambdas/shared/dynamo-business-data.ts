// BusinessData on the single `business` table (pk/sk + gsi1): item layout, conditional slot claims, GSI lookups.
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type {
  Booking,
  BookRequest,
  BusinessData,
  ClaimOutcome,
  Customer,
  DataOptions,
  Service,
  Shipment,
  Slot,
} from './business-data';
import type { LocalDate, LocalTime } from './dates';

/**
 * Item layout (one table, so a fork maps its whole demo domain with two indexes):
 * - service:  pk `SERVICE`, sk `<id>`
 * - slot:     pk `SLOT#<service>#<date>`, sk `<HH:MM>`; `bookingId` present while booked
 * - booking:  pk `BOOKING#<id>`, sk `BOOKING`; gsi1 `PHONE#<phone>` / `APPT#<date>T<time>`
 * - customer: pk `CUSTOMER#<phone>`, sk `PROFILE`
 * - shipment: pk `SHIPMENT#<tracking>`, sk `SHIPMENT`; gsi1 `PHONE#<phone>` / `SHIP#<eta>#<tracking>`
 */
export const keys = {
  service: (id: string) => ({ pk: 'SERVICE', sk: id }),
  slot: (service: string, date: LocalDate, time: LocalTime) => ({ pk: `SLOT#${service}#${date}`, sk: time }),
  booking: (id: string) => ({ pk: `BOOKING#${id}`, sk: 'BOOKING' }),
  bookingGsi: (phone: string, date: LocalDate, time: LocalTime) => ({ gsi1pk: `PHONE#${phone}`, gsi1sk: `APPT#${date}T${time}` }),
  customer: (phone: string) => ({ pk: `CUSTOMER#${phone}`, sk: 'PROFILE' }),
  shipment: (tracking: string) => ({ pk: `SHIPMENT#${tracking}`, sk: 'SHIPMENT' }),
  shipmentGsi: (phone: string, eta: LocalDate, tracking: string) => ({ gsi1pk: `PHONE#${phone}`, gsi1sk: `SHIP#${eta}#${tracking}` }),
};

function isConditionFailure(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || (err as Error)?.name === 'ConditionalCheckFailedException';
}

function toBooking(item: Record<string, unknown>): Booking {
  return {
    bookingId: String(item.bookingId),
    service: String(item.service),
    date: String(item.date),
    time: String(item.time),
    phone: String(item.phone),
    name: item.name === undefined ? undefined : String(item.name),
    status: item.status === 'cancelled' ? 'cancelled' : 'booked',
  };
}

function toShipment(item: Record<string, unknown>): Shipment {
  return {
    trackingNumber: String(item.trackingNumber),
    phone: String(item.phone),
    status: item.status as Shipment['status'],
    carrier: String(item.carrier),
    eta: String(item.eta),
    delayReason: item.delayReason === undefined ? undefined : String(item.delayReason),
  };
}

/** The DynamoDB implementation of {@link BusinessData}. Every request honours `opts.signal`. */
export class DynamoBusinessData implements BusinessData {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  private send<T>(cmd: GetCommand | PutCommand | QueryCommand | UpdateCommand, opts?: DataOptions): Promise<T> {
    const send = this.doc.send as (c: unknown, o: { abortSignal?: AbortSignal }) => Promise<unknown>;
    return send.call(this.doc, cmd, { abortSignal: opts?.signal }) as Promise<T>;
  }

  async services(opts?: DataOptions): Promise<Service[]> {
    const out = await this.send<{ Items?: Record<string, unknown>[] }>(
      new QueryCommand({ TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'SERVICE' } }),
      opts,
    );
    return (out.Items ?? []).map((i) => ({ id: String(i.sk), name: String(i.name), durationMinutes: Number(i.durationMinutes) }));
  }

  async slots(service: string, date: LocalDate, opts?: DataOptions): Promise<Slot[]> {
    const out = await this.send<{ Items?: Record<string, unknown>[] }>(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.slot(service, date, '').pk },
        ConsistentRead: true,
      }),
      opts,
    );
    return (out.Items ?? []).map((i) => ({ service, date, time: String(i.sk), open: i.bookingId === undefined }));
  }

  /** Conditional write on the slot item: the first claim wins; the same booking id claiming again is a success. */
  private async claim(service: string, date: LocalDate, time: LocalTime, bookingId: string, phone: string, opts?: DataOptions): Promise<'ok' | 'taken' | 'no_such_slot'> {
    try {
      await this.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.slot(service, date, time),
          UpdateExpression: 'SET bookingId = :id, phone = :phone',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(bookingId) OR bookingId = :id)',
          ExpressionAttributeValues: { ':id': bookingId, ':phone': phone },
        }),
        opts,
      );
      return 'ok';
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const got = await this.send<{ Item?: Record<string, unknown> }>(
        new GetCommand({ TableName: this.table, Key: keys.slot(service, date, time), ConsistentRead: true }),
        opts,
      );
      return got.Item ? 'taken' : 'no_such_slot';
    }
  }

  /** Frees a slot only if this booking still holds it (a later booking of the slot is never undone). */
  private async release(service: string, date: LocalDate, time: LocalTime, bookingId: string, opts?: DataOptions): Promise<void> {
    try {
      await this.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.slot(service, date, time),
          UpdateExpression: 'REMOVE bookingId, phone',
          ConditionExpression: 'bookingId = :id',
          ExpressionAttributeValues: { ':id': bookingId },
        }),
        opts,
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  private async putBooking(b: Booking, opts?: DataOptions): Promise<void> {
    await this.send(
      new PutCommand({ TableName: this.table, Item: { ...keys.booking(b.bookingId), ...keys.bookingGsi(b.phone, b.date, b.time), ...b } }),
      opts,
    );
  }

  async book(req: BookRequest, opts?: DataOptions): Promise<ClaimOutcome> {
    const claimed = await this.claim(req.service, req.date, req.time, req.bookingId, req.phone, opts);
    if (claimed !== 'ok') return { ok: false, reason: claimed };
    const booking: Booking = { ...req, status: 'booked' };
    try {
      // dynalite has no TransactWriteItems, so the slot claim is the atomic step and the booking item follows;
      // if writing it fails, the claim is undone so the slot is not lost.
      await this.putBooking(booking, opts);
    } catch (err) {
      await this.release(req.service, req.date, req.time, req.bookingId).catch(() => undefined);
      throw err;
    }
    return { ok: true, booking };
  }

  async reschedule(bookingId: string, date: LocalDate, time: LocalTime, opts?: DataOptions): Promise<ClaimOutcome & { previous?: Booking }> {
    const previous = await this.booking(bookingId, opts);
    if (!previous) return { ok: false, reason: 'not_found' };
    if (previous.status === 'cancelled') return { ok: false, reason: 'cancelled' };
    if (previous.date === date && previous.time === time) return { ok: true, booking: previous, previous };
    const claimed = await this.claim(previous.service, date, time, bookingId, previous.phone, opts);
    if (claimed !== 'ok') return { ok: false, reason: claimed, previous };
    const booking: Booking = { ...previous, date, time };
    await this.putBooking(booking, opts);
    await this.release(previous.service, previous.date, previous.time, bookingId, opts);
    return { ok: true, booking, previous };
  }

  async cancel(bookingId: string, opts?: DataOptions): Promise<ClaimOutcome> {
    const previous = await this.booking(bookingId, opts);
    if (!previous) return { ok: false, reason: 'not_found' };
    const booking: Booking = { ...previous, status: 'cancelled' };
    if (previous.status !== 'cancelled') {
      await this.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.booking(bookingId),
          UpdateExpression: 'SET #s = :c',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':c': 'cancelled' },
        }),
        opts,
      );
    }
    await this.release(previous.service, previous.date, previous.time, bookingId, opts);
    return { ok: true, booking };
  }

  async booking(bookingId: string, opts?: DataOptions): Promise<Booking | undefined> {
    const out = await this.send<{ Item?: Record<string, unknown> }>(
      new GetCommand({ TableName: this.table, Key: keys.booking(bookingId), ConsistentRead: true }),
      opts,
    );
    return out.Item ? toBooking(out.Item) : undefined;
  }

  async upcomingBookings(phone: string, from: LocalDate, opts?: DataOptions): Promise<Booking[]> {
    const out = await this.send<{ Items?: Record<string, unknown>[] }>(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': `PHONE#${phone}`, ':from': `APPT#${from}`, ':to': 'APPT#~' },
      }),
      opts,
    );
    return (out.Items ?? []).map(toBooking).filter((b) => b.status === 'booked');
  }

  async customer(phone: string, opts?: DataOptions): Promise<Customer | undefined> {
    const out = await this.send<{ Item?: Record<string, unknown> }>(new GetCommand({ TableName: this.table, Key: keys.customer(phone) }), opts);
    if (!out.Item) return undefined;
    const { pk: _pk, sk: _sk, ...rest } = out.Item;
    return rest as unknown as Customer;
  }

  async shipment(trackingNumber: string, opts?: DataOptions): Promise<Shipment | undefined> {
    const out = await this.send<{ Item?: Record<string, unknown> }>(
      new GetCommand({ TableName: this.table, Key: keys.shipment(trackingNumber) }),
      opts,
    );
    return out.Item ? toShipment(out.Item) : undefined;
  }

  async shipmentsFor(phone: string, opts?: DataOptions): Promise<Shipment[]> {
    const out = await this.send<{ Items?: Record<string, unknown>[] }>(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk AND begins_with(gsi1sk, :p)',
        ExpressionAttributeValues: { ':pk': `PHONE#${phone}`, ':p': 'SHIP#' },
      }),
      opts,
    );
    return (out.Items ?? []).map(toShipment);
  }
}
