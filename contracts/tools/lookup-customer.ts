// lookup_customer: what the LLM is told about recognising the caller, and its (empty) arguments.
// Namespace import: lets esbuild drop the parts of zod we don't use (~85 KB instead of ~450 KB minified).
import * as z from 'zod';
import { defineTool } from '../tool-contract';

export const lookupCustomerContract = defineTool({
  name: 'lookup_customer',
  description:
    "Recognise the caller from the number they're calling from, to greet them by name and know their context. Takes no " +
    'arguments. Returns their first name, their next appointment if any, and how many shipments are on the way; nothing else.',
  input: z.object({}),
  latencyClass: 'instant',
  idempotent: true,
  timeoutMs: 1000,
});
