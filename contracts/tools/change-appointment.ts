// change_appointment: what the LLM is told about rescheduling or cancelling the caller's booking, and its arguments.
// Namespace import: lets esbuild drop the parts of zod we don't use (~85 KB instead of ~450 KB minified).
import * as z from 'zod';
import { defineTool } from '../tool-contract';
import { DAY_PATTERN, TIME_PATTERN } from '../patterns';

export const changeAppointmentContract = defineTool({
  name: 'change_appointment',
  description:
    "Reschedule or cancel one of the caller's upcoming appointments. Identify it by its confirmation code, or leave the code " +
    'out to use the appointment booked under the number the caller is calling from (if they have several, it returns ' +
    'them so you can ask which). For a reschedule, check_availability first and pass the chosen new date and time.',
  input: z
    .object({
      action: z.enum(['reschedule', 'cancel']).describe('"reschedule" to move it, "cancel" to cancel it.'),
      bookingId: z.string().min(4).max(20).optional().describe('The confirmation code, e.g. "SAM2H4", if the caller has it.'),
      newDate: z.string().regex(DAY_PATTERN, { error: 'use "today", "tomorrow" or a date like 2026-11-25' }).optional().describe('Reschedule only: the new day.'),
      newTime: z.string().regex(TIME_PATTERN, { error: 'use a time like 09:30 or 2:30 PM' }).optional().describe('Reschedule only: the new start time.'),
    })
    .superRefine((v, ctx) => {
      if (v.action !== 'reschedule') return;
      if (!v.newDate) ctx.addIssue({ code: 'custom', path: ['newDate'], message: 'required to reschedule' });
      else if (!v.newTime) ctx.addIssue({ code: 'custom', path: ['newTime'], message: 'required to reschedule' });
    }),
  latencyClass: 'slow',
  idempotent: true,
  timeoutMs: 3000,
});
