// Business logic the booking tools share: naming services, reading open slots through the cache, invalidating after writes.
import { createHash } from 'node:crypto';
import type { Service } from '../shared/business-data';
import { localDate, localTime, speakList, type LocalDate, type LocalTime } from '../shared/dates';
import type { ToolContext, ToolOutput } from '../shared/tool';
import * as keys from './cache-keys';

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** The service the caller means ("Haircuts", "beard trim" → `beard-trim`), or undefined. */
export async function findService(ctx: ToolContext, input: string): Promise<{ match?: Service; all: Service[] }> {
  const all = await ctx.cached(keys.services.name, keys.services.args(), keys.services.policy, (signal) => ctx.data.services({ signal }));
  const want = norm(input);
  const match = all.find((s) => [norm(s.id), norm(s.name)].some((n) => n === want || `${n}s` === want));
  return { match, all };
}

/** The answer when the caller names a service we do not offer. */
export function unknownService(all: Service[]): ToolOutput {
  return {
    result: { error: 'unknown_service', services: all.map((s) => s.id) },
    speakable: `We offer ${speakList(all.map((s) => s.name))}. Which one would you like?`,
  };
}

/** Open times of one service on one day, through the cache; on today, times already past are left out. */
export async function openTimes(ctx: ToolContext, service: string, date: LocalDate): Promise<LocalTime[]> {
  const slots = await ctx.cached(keys.availability.name, keys.availability.args(service, date), keys.availability.policy, (signal) =>
    ctx.data.slots(service, date, { signal }),
  );
  const today = localDate(ctx.now, ctx.timeZone);
  const nowTime = localTime(ctx.now, ctx.timeZone);
  return slots.filter((s) => s.open && (date > today || (date === today && s.time > nowTime))).map((s) => s.time);
}

/** True when `date time` is not in the future in the business timezone. */
export function isPast(ctx: ToolContext, date: LocalDate, time: LocalTime): boolean {
  const today = localDate(ctx.now, ctx.timeZone);
  return date < today || (date === today && time <= localTime(ctx.now, ctx.timeZone));
}

/** After a booking write: that day's availability and the caller's personalization view are stale. */
export async function invalidateAfterWrite(ctx: ToolContext, service: string, dates: LocalDate[], phone: string): Promise<void> {
  const today = localDate(ctx.now, ctx.timeZone);
  await Promise.all([
    ctx.invalidate(keys.availability.name, [...new Set(dates)].map((d) => keys.availability.args(service, d))),
    ctx.invalidate(keys.customerView.name, [keys.customerView.args(phone, today)]),
  ]);
}

/** Confirmation-code alphabet without look-alikes (0/O, 1/I/L), so a code read aloud is unambiguous. */
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

/**
 * The booking id for one tool call, derived from callSid + toolCallId: a retry after an ambiguous failure
 * claims the slot with the same id, which the conditional write treats as already done.
 */
export function bookingIdFor(callSid: string, toolCallId: string): string {
  const h = createHash('sha256').update(`${callSid}\u0000${toolCallId}`).digest();
  let code = '';
  for (let i = 0; i < 6; i++) code += CODE_ALPHABET[h[i]! % CODE_ALPHABET.length];
  return code;
}

/** "S A M 2 H 4": letters spaced so TTS spells the code instead of reading a word. */
export function spell(code: string): string {
  return code.split('').join(' ');
}

/** Uppercase, without spaces or dashes ("sam-2h4" → "SAM2H4"), as callers read codes back. */
export function normalizeCode(s: string): string {
  return s.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

/** E.164 check for a phone number the LLM passes. */
export const E164 = /^\+[1-9]\d{6,14}$/;

/** Capitalizes the first letter, for sentences that start with "tomorrow". */
export function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
