// check_availability: what the LLM is told about finding open appointment slots, and the arguments it may pass.
// Namespace import: lets esbuild drop the parts of zod we don't use (~85 KB instead of ~450 KB minified).
import * as z from 'zod';
import { defineTool } from '../tool-contract';
import { DAY_PATTERN } from '../patterns';

const day = z.string().regex(DAY_PATTERN, { error: 'use "today", "tomorrow" or a date like 2026-11-25' });

export const checkAvailabilityContract = defineTool({
  name: 'check_availability',
  description:
    'Find open appointment times for a service on a day or a range of days. Call it before offering times or booking. ' +
    'Returns the open slots (date and time, business local time) and a sentence you can read to the caller. ' +
    'If the service is not offered, it returns the services that are.',
  input: z.object({
    service: z.string().min(1).max(60).describe('The service the caller wants, e.g. "haircut".'),
    date: day.default('today').describe('The first day to check: "today", "tomorrow" or YYYY-MM-DD. Default today.'),
    endDate: day.optional().describe('The last day to check (inclusive) for a range, at most 14 days after date. Omit for one day.'),
    partOfDay: z
      .enum(['morning', 'afternoon', 'evening', 'any'])
      .default('any')
      .describe('Only times in this part of the day: morning before 12:00, afternoon 12:00-17:00, evening after 17:00.'),
  }),
  latencyClass: 'instant',
  idempotent: true,
  timeoutMs: 1000,
});
