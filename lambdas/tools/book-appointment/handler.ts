// book_appointment handler: claim the slot with a conditional write, invalidate that day's availability, confirm or offer others.
import { toolsHttpHandler } from '../../shared/dispatch';
import { localDate, parseTime, resolveDay, speakDate, speakList, speakOn, speakTime } from '../../shared/dates';
import { lambdaRuntime } from '../../shared/runtime';
import { defineImplementation } from '../../shared/tool';
import * as keys from '../cache-keys';
import { bookingIdFor, cap, findService, invalidateAfterWrite, isPast, openTimes, spell, unknownService } from '../common';
import { bookAppointmentContract } from '../../../contracts/tools/book-appointment';

export const bookAppointment = defineImplementation({
  contract: bookAppointmentContract,
  writes: true,
  async run(args, ctx) {
    const today = localDate(ctx.now, ctx.timeZone);
    const date = resolveDay(args.date, ctx.now, ctx.timeZone);
    const time = parseTime(args.time);
    if (!date || !time) {
      return { result: { booked: false, reason: 'invalid_date_or_time' }, speakable: "Sorry, I didn't catch the day and time. When would you like to come in?" };
    }
    const phone = ctx.callerPhone;
    if (!phone) {
      return {
        result: { booked: false, reason: 'no_caller_number' },
        speakable: "I can't see the number you're calling from, so I can't book online. Let me connect you with the front desk.",
      };
    }
    const { match: service, all } = await findService(ctx, args.service);
    if (!service) return unknownService(all);
    if (isPast(ctx, date, time)) {
      return { result: { booked: false, reason: 'in_past' }, speakable: `${speakTime(time)} ${speakOn(date, today)} has already passed. Which later time works?` };
    }

    const bookingId = bookingIdFor(ctx.callSid, ctx.toolCallId);
    const outcome = await ctx.data.book({ bookingId, service: service.id, date, time, phone, name: args.name }, { signal: ctx.signal });
    if (outcome.ok) {
      await invalidateAfterWrite(ctx, service.id, [date], phone);
      return {
        result: { booked: true, bookingId, service: service.id, date, time },
        speakable: `You're booked for a ${service.name} ${speakOn(date, today)} at ${speakTime(time)}. Your confirmation code is ${spell(bookingId)}.`,
      };
    }
    // Our cached view of the day was stale (or the caller asked for a time we don't offer): refresh it, offer what is open.
    await ctx.invalidate(keys.availability.name, [keys.availability.args(service.id, date)]);
    const others = (await openTimes(ctx, service.id, date)).slice(0, 3);
    const offer = others.length > 0 ? `I have ${speakList(others.map(speakTime))} open ${speakOn(date, today)}.` : `${cap(speakDate(date, today))} is fully booked; would another day work?`;
    const reason = outcome.reason === 'taken' ? 'slot_taken' : 'no_such_slot';
    const lead =
      reason === 'slot_taken'
        ? `Sorry, ${speakTime(time)} ${speakOn(date, today)} was just taken.`
        : `Sorry, we don't have a ${speakTime(time)} ${service.name} slot ${speakOn(date, today)}.`;
    return { result: { booked: false, reason, alternatives: others.map((t) => ({ date, time: t })) }, speakable: `${lead} ${offer}` };
  },
});

/** Lambda entry: `POST /tools/book_appointment` (API Gateway HTTP API v2). */
export const handler = toolsHttpHandler([bookAppointment], lambdaRuntime);
