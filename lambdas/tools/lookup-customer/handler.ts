// lookup_customer handler: the caller's personalization view (first name, next appointment, open shipments), never the record.
import { toolsHttpHandler } from '../../shared/dispatch';
import { localDate, speakOn, speakTime } from '../../shared/dates';
import { lambdaRuntime } from '../../shared/runtime';
import { defineImplementation } from '../../shared/tool';
import * as keys from '../cache-keys';
import { findService } from '../common';
import { lookupCustomerContract } from '../../../contracts/tools/lookup-customer';

/** What the agent may know about a caller. Deliberately narrow: no last name, email, address or notes. */
export interface CustomerView {
  found: boolean;
  firstName?: string;
  upcomingAppointment: { bookingId: string; service: string; date: string; time: string } | null;
  openShipments: number;
}

export const lookupCustomer = defineImplementation({
  contract: lookupCustomerContract,
  writes: false,
  async run(_args, ctx) {
    const phone = ctx.callerPhone;
    if (!phone) return { result: { found: false, reason: 'no_caller_number' }, speakable: 'May I have your name?' };
    const today = localDate(ctx.now, ctx.timeZone);
    const v = await ctx.cached(keys.customerView.name, keys.customerView.args(phone, today), keys.customerView.policy, async (signal): Promise<CustomerView> => {
      const [customer, upcoming, shipments] = await Promise.all([
        ctx.data.customer(phone, { signal }),
        ctx.data.upcomingBookings(phone, today, { signal }),
        ctx.data.shipmentsFor(phone, { signal }),
      ]);
      const next = upcoming[0];
      return {
        found: customer !== undefined,
        firstName: customer?.firstName,
        upcomingAppointment: next ? { bookingId: next.bookingId, service: next.service, date: next.date, time: next.time } : null,
        openShipments: shipments.filter((s) => s.status !== 'delivered').length,
      };
    });
    if (!v.found) return { result: { ...v }, speakable: 'Thanks for calling! May I have your name?' };
    let speakable = `Welcome back, ${v.firstName}.`;
    const appt = v.upcomingAppointment;
    if (appt) {
      const { all } = await findService(ctx, appt.service);
      const name = all.find((s) => s.id === appt.service)?.name ?? appt.service;
      speakable += ` I see your ${name} ${speakOn(appt.date, today)} at ${speakTime(appt.time)}.`;
    }
    return { result: { ...v }, speakable };
  },
});

/** Lambda entry: `POST /tools/lookup_customer` (API Gateway HTTP API v2). */
export const handler = toolsHttpHandler([lookupCustomer], lambdaRuntime);
