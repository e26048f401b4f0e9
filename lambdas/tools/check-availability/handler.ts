// check_availability handler: resolve the days, read each day's slots through the cache, say the first few open times.
import { toolsHttpHandler } from '../../shared/dispatch';
import { addDays, daysBetween, localDate, resolveDay, speakDate, speakList, speakOn, speakTime } from '../../shared/dates';
import { lambdaRuntime } from '../../shared/runtime';
import { defineImplementation } from '../../shared/tool';
import { findService, openTimes, unknownService } from '../common';
import { checkAvailabilityContract } from '../../../contracts/tools/check-availability';

const MAX_DAYS = 15;
const PART = { morning: ['00:00', '12:00'], afternoon: ['12:00', '17:00'], evening: ['17:00', '24:00'], any: ['00:00', '24:00'] } as const;

export const checkAvailability = defineImplementation({
  contract: checkAvailabilityContract,
  writes: false,
  async run(args, ctx) {
    const today = localDate(ctx.now, ctx.timeZone);
    // The schema already matched the pattern, so resolveDay only fails on impossible dates like 2026-02-30.
    const from = resolveDay(args.date, ctx.now, ctx.timeZone);
    const until = args.endDate === undefined ? from : resolveDay(args.endDate, ctx.now, ctx.timeZone);
    if (!from || !until) {
      return { result: { error: 'invalid_date' }, speakable: "Sorry, I didn't catch a valid date. Which day would you like?" };
    }
    const start = from < today ? today : from;
    if (until < start) {
      return { result: { error: 'date_in_past', today }, speakable: 'That date has already passed. Which upcoming day works for you?' };
    }
    const days = Math.min(daysBetween(start, until) + 1, MAX_DAYS);

    const { match: service, all } = await findService(ctx, args.service);
    if (!service) return unknownService(all);

    const dates = Array.from({ length: days }, (_, i) => addDays(start, i));
    const [lo, hi] = PART[args.partOfDay];
    // One cached read per day: a booking invalidates exactly its day, and parallel GETs share one Redis round trip.
    const perDay = await Promise.all(
      dates.map(async (date) => ({ date, times: (await openTimes(ctx, service.id, date)).filter((t) => t >= lo && t < hi) })),
    );
    const slots = perDay.flatMap((d) => d.times.map((time) => ({ date: d.date, time })));
    const part = args.partOfDay === 'any' ? '' : ` in the ${args.partOfDay}`;
    const when = days === 1 ? speakOn(start, today) : `between ${speakDate(start, today)} and ${speakDate(dates[dates.length - 1]!, today)}`;

    if (slots.length === 0) {
      return {
        result: { service: service.id, from: start, to: dates[dates.length - 1], slots: [] },
        speakable: `I don't have any open ${service.name} times ${when}${part}. Would another day work?`,
      };
    }
    const spoken = perDay
      .filter((d) => d.times.length > 0)
      .slice(0, 3)
      .map((d) => `${speakOn(d.date, today)} at ${speakList(d.times.slice(0, 3).map(speakTime))}`);
    return {
      result: { service: service.id, from: start, to: dates[dates.length - 1], slots: slots.slice(0, 20), more: slots.length > 20 },
      speakable: `For a ${service.name}${part}, I have ${spoken.join('; ')}. Which works for you?`,
    };
  },
});

/** Lambda entry: `POST /tools/check_availability` (API Gateway HTTP API v2). */
export const handler = toolsHttpHandler([checkAvailability], lambdaRuntime);
