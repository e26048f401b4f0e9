// The business system the tools read and write, as one interface, so a fork can put its own CRM/booking system behind it.
import type { LocalDate, LocalTime } from './dates';

/** Every call may be cancelled: the tool's time budget ran out or the caller hung up. */
export interface DataOptions {
  signal?: AbortSignal;
}

export interface Service {
  /** Stable id, e.g. `haircut`. */
  id: string;
  /** What the agent says, e.g. "haircut". */
  name: string;
  durationMinutes: number;
}

export interface Slot {
  service: string;
  date: LocalDate;
  time: LocalTime;
  open: boolean;
}

export interface Booking {
  bookingId: string;
  service: string;
  date: LocalDate;
  time: LocalTime;
  phone: string;
  name?: string;
  status: 'booked' | 'cancelled';
}

/** The full customer record; tools pass on only what the agent needs. */
export interface Customer {
  phone: string;
  firstName: string;
  lastName: string;
  email?: string;
  address?: string;
  notes?: string;
}

export type ShipmentStatus = 'label_created' | 'in_transit' | 'out_for_delivery' | 'delayed' | 'delivered';

export interface Shipment {
  trackingNumber: string;
  phone: string;
  status: ShipmentStatus;
  carrier: string;
  /** Expected delivery date, business timezone. */
  eta: LocalDate;
  delayReason?: string;
}

export interface BookRequest {
  bookingId: string;
  service: string;
  date: LocalDate;
  time: LocalTime;
  phone: string;
  name?: string;
}

/** Outcome of claiming a slot. `taken` and `no_such_slot` are answers for the caller, not failures. */
export type ClaimOutcome =
  | { ok: true; booking: Booking }
  | { ok: false; reason: 'taken' | 'no_such_slot' | 'not_found' | 'cancelled' };

/**
 * The data source behind the tools. Implementations must make `book` and `reschedule` atomic per slot:
 * two concurrent claims of one slot, exactly one wins. Claims carry the booking id, so repeating a claim
 * with the same id is a success, not a conflict (retries after an ambiguous failure are safe).
 */
export interface BusinessData {
  services(opts?: DataOptions): Promise<Service[]>;
  /** Every slot of one service on one day, open or not, in time order. */
  slots(service: string, date: LocalDate, opts?: DataOptions): Promise<Slot[]>;
  book(req: BookRequest, opts?: DataOptions): Promise<ClaimOutcome>;
  /** Moves a booking to another slot of the same service, freeing the old one once the new one is held. */
  reschedule(bookingId: string, date: LocalDate, time: LocalTime, opts?: DataOptions): Promise<ClaimOutcome & { previous?: Booking }>;
  /** Cancels a booking and frees its slot. Cancelling a cancelled booking succeeds (with status cancelled). */
  cancel(bookingId: string, opts?: DataOptions): Promise<ClaimOutcome>;
  booking(bookingId: string, opts?: DataOptions): Promise<Booking | undefined>;
  /** Bookings (booked, not cancelled) for a phone number on or after `from`, soonest first. */
  upcomingBookings(phone: string, from: LocalDate, opts?: DataOptions): Promise<Booking[]>;
  customer(phone: string, opts?: DataOptions): Promise<Customer | undefined>;
  shipment(trackingNumber: string, opts?: DataOptions): Promise<Shipment | undefined>;
  shipmentsFor(phone: string, opts?: DataOptions): Promise<Shipment[]>;
}
