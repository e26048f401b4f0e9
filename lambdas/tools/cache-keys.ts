// Cache entry names, argument shapes and freshness per data kind, shared by the tools that read and the tools that invalidate.
import type { CachePolicy } from '../shared/cache';
import type { LocalDate } from '../shared/dates';

/**
 * Open slots of one service on one day. Short fresh window because other channels may book too; a stale
 * entry only costs a "just taken" answer, since booking is a conditional write.
 */
export const availability = {
  name: 'check_availability',
  args: (service: string, date: LocalDate) => ({ service, date }),
  policy: { freshSeconds: 60, staleSeconds: 300 } satisfies CachePolicy,
};

/** The service list changes with a deploy of the business's catalog, not per call. */
export const services = {
  name: 'check_availability',
  args: () => ({ list: 'services' }),
  policy: { freshSeconds: 3600, staleSeconds: 86_400 } satisfies CachePolicy,
};

/** The personalization view of a caller (not the record); "upcoming" is relative to `today`, so it is in the key. */
export const customerView = {
  name: 'lookup_customer',
  args: (phone: string, today: LocalDate) => ({ phone, today }),
  policy: { freshSeconds: 300, staleSeconds: 3600 } satisfies CachePolicy,
};

/** Carrier scans arrive every few hours; a minute of staleness is invisible to a caller. */
export const shipments = {
  name: 'get_shipment_status',
  args: (by: { trackingNumber: string } | { phone: string }) => by,
  policy: { freshSeconds: 60, staleSeconds: 600 } satisfies CachePolicy,
};
