// change_appointment handler: find the caller's booking, move it (new slot claimed before the old is freed) or cancel it.
import type { Booking } from '../../shared/business-data';
import { toolsHttpHandler } from '../../shared/dispatch';
import { localDate, parseTime, resolveDay, speakList, speakOn, speakTime } from '../../shared/dates';
import { lambdaRuntime } from '../../shared/runtime';
import { defineImplementation, type ToolContext, type ToolOutput } from '../../shared/tool';
import * as keys from '../cache-keys';
import { findService, invalidateAfterWrite, isPast, normalizeCode, openTimes } from '../common';
import { changeAppointmentContract } from '../../../contracts/tools/change-appointment';

/** The booking the caller means, or the answer to give instead. Bookings of other numbers are treated as not found. */
async function locate(ctx: ToolContext, code: string | undefined): Promise<Booking | ToolOutput> {
  const today = localDate(ctx.now, ctx.timeZone);
  if (code) {
    const b = await ctx.data.booking(normalizeCode(code), { signal: ctx.signal });
    if (b && (!ctx.callerPhone || b.phone === ctx.callerPhone)) return b;
    return { result: { changed: false, reason: 'not_found' }, speakable: "I couldn't find an appointment with that code under your number. Could you read it to me again?" };
  }
  if (!ctx.callerPhone) {
    return { result: { changed: false, reason: 'need_code' }, speakable: 'What is the confirmation code of the appointment?' };
  }
  const upcoming = await ctx.data.upcomingBookings(ctx.callerPhone, today, { signal: ctx.signal });
  if (upcoming.length === 1) return upcoming[0]!;
  if (upcoming.length === 0) {
    return { result: { changed: false, reason: 'not_found' }, speakable: "I don't see any upcoming appointments under the number you're calling from." };
  }
  const names = await findService(ctx, '');
  const label = (b: Booking) => `the ${names.all.find((s) => s.id === b.service)?.name ?? b.service} ${speakOn(b.date, today)} at ${speakTime(b.time)}`;
  return {
    result: { changed: false, reason: 'which_booking', bookings: upcoming.map(({ bookingId, service, date, time }) => ({ bookingId, service, date, time })) },
    speakable: `I see ${upcoming.length} appointments: ${speakList(upcoming.map(label))}. Which one?`,
  };
}

export const changeAppointment = defineImplementation({
  contract: changeAppointmentContract,
  writes: true,
  async run(args, ctx) {
    const today = localDate(ctx.now, ctx.timeZone);
    const found = await locate(ctx, args.bookingId);
    if (!('bookingId' in found)) return found;
    const booking = found;
    const { all } = await findService(ctx, booking.service);
    const serviceName = all.find((s) => s.id === booking.service)?.name ?? booking.service;
    const was = `${speakOn(booking.date, today)} at ${speakTime(booking.time)}`;

    if (args.action === 'cancel') {
      const out = await ctx.data.cancel(booking.bookingId, { signal: ctx.signal });
      if (!out.ok) return { result: { changed: false, reason: out.reason }, speakable: "I couldn't find that appointment anymore." };
      await invalidateAfterWrite(ctx, booking.service, [booking.date], booking.phone);
      return {
        result: { changed: true, action: 'cancel', bookingId: booking.bookingId, service: booking.service, date: booking.date, time: booking.time },
        speakable: `Your ${serviceName} ${was} is cancelled.`,
      };
    }

    const date = resolveDay(args.newDate!, ctx.now, ctx.timeZone);
    const time = parseTime(args.newTime!);
    if (!date || !time) return { result: { changed: false, reason: 'invalid_date_or_time' }, speakable: "Sorry, I didn't catch the new day and time." };
    if (isPast(ctx, date, time)) return { result: { changed: false, reason: 'in_past' }, speakable: 'That time has already passed. Which later time works?' };
    if (booking.status === 'cancelled') return { result: { changed: false, reason: 'cancelled' }, speakable: 'That appointment was cancelled; shall I book a new one?' };

    const out = await ctx.data.reschedule(booking.bookingId, date, time, { signal: ctx.signal });
    if (out.ok) {
      await invalidateAfterWrite(ctx, booking.service, [booking.date, date], booking.phone);
      return {
        result: { changed: true, action: 'reschedule', bookingId: booking.bookingId, service: booking.service, date, time, previous: { date: booking.date, time: booking.time } },
        speakable: `Done: your ${serviceName} is moved from ${was} to ${speakOn(date, today)} at ${speakTime(time)}.`,
      };
    }
    if (out.reason === 'taken' || out.reason === 'no_such_slot') {
      await ctx.invalidate(keys.availability.name, [keys.availability.args(booking.service, date)]);
      const others = (await openTimes(ctx, booking.service, date)).slice(0, 3);
      const offer = others.length > 0 ? ` I have ${speakList(others.map(speakTime))} open that day.` : ' That day is fully booked.';
      return {
        result: { changed: false, reason: out.reason === 'taken' ? 'slot_taken' : 'no_such_slot', alternatives: others.map((t) => ({ date, time: t })) },
        speakable: `Sorry, ${speakTime(time)} ${speakOn(date, today)} isn't available.${offer} Your appointment ${was} is unchanged.`,
      };
    }
    return { result: { changed: false, reason: out.reason }, speakable: "I couldn't find that appointment anymore." };
  },
});

/** Lambda entry: `POST /tools/change_appointment` (API Gateway HTTP API v2). */
export const handler = toolsHttpHandler([changeAppointment], lambdaRuntime);
