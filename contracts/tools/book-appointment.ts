// book_appointment: what the LLM is told about booking a slot for the caller, and the arguments it may pass.
// Namespace import: lets esbuild drop the parts of zod we don't use (~85 KB instead of ~450 KB minified).
import * as z from 'zod';
import { defineTool } from '../tool-contract';
import { DAY_PATTERN, TIME_PATTERN } from '../patterns';

export const bookAppointmentContract = defineTool({
  name: 'book_appointment',
  description:
    'Book an appointment for the caller in an open slot found with check_availability. Only call it after the caller ' +
    'has chosen a time. Returns a confirmation code, or, if the slot was just taken, the reason and other open times ' +
    'to offer. The booking is made for the phone number the caller is calling from.',
  input: z.object({
    service: z.string().min(1).max(60).describe('The service, e.g. "haircut".'),
    date: z.string().regex(DAY_PATTERN, { error: 'use "today", "tomorrow" or a date like 2026-11-25' }).describe('"today", "tomorrow" or YYYY-MM-DD.'),
    time: z.string().regex(TIME_PATTERN, { error: 'use a time like 09:30 or 2:30 PM' }).describe('Start time, e.g. "09:00" or "2 PM" (business local time).'),
    name: z.string().min(1).max(80).optional().describe("The caller's name, if they gave it."),
  }),
  latencyClass: 'slow',
  idempotent: true,
  timeoutMs: 3000,
});
