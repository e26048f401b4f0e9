// get_shipment_status: what the LLM is told about tracking the caller's shipments, and the arguments it may pass.
// Namespace import: lets esbuild drop the parts of zod we don't use (~85 KB instead of ~450 KB minified).
import * as z from 'zod';
import { defineTool } from '../tool-contract';

export const getShipmentStatusContract = defineTool({
  name: 'get_shipment_status',
  description:
    'Where is a package: status, expected delivery date and, when late, why. Pass the tracking number if the caller ' +
    "gives one; otherwise leave it out to look up the open shipments of the number they're calling from. Returns the " +
    'structured status and a short sentence to read to the caller.',
  input: z.object({
    trackingNumber: z
      .string()
      .min(4)
      .max(40)
      .regex(/^[A-Za-z0-9 -]+$/, { error: 'letters and digits only' })
      .optional()
      .describe('The tracking number as the caller read it, e.g. "VA1002".'),
  }),
  latencyClass: 'instant',
  idempotent: true,
  timeoutMs: 1000,
});
