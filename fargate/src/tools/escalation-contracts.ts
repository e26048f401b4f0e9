// The pipeline-side tools: transfer to a person and hand-off to Twilio <Pay>. The call loop runs them, not the tools API.
import { z } from 'zod';
import { defineTool } from '../../../contracts/tool-contract';

/** Hands the live call to a person (Twilio calls.update with <Dial>). */
export const transferToHumanContract = defineTool({
  name: 'transfer_to_human',
  description:
    'Transfer the caller to a human agent. Use it when the caller asks for a person, when you cannot help after two tries, ' +
    'or when the request needs a human decision. Say one short sentence first; the call leaves you after this.',
  input: z.object({
    reason: z.string().min(1).max(200).describe('Why the caller needs a person, in a few words (shown to the human agent).'),
  }),
  latencyClass: 'instant',
  idempotent: true,
  timeoutMs: 5000,
});

/**
 * Moves the call to Twilio <Pay>, which collects the card by keypad outside the LLM and the media service (PCI DSS).
 * There are deliberately NO card fields: the model must never see or repeat card digits.
 */
export const takePaymentContract = defineTool({
  name: 'take_payment',
  description:
    'Take a card payment. The caller enters the card on their keypad in a secure system; never ask for or repeat card numbers. ' +
    'Call it once the caller agreed to pay the amount.',
  input: z.object({
    amount: z.number().positive().max(10_000).describe('Amount to charge in US dollars, e.g. 45.5.'),
    description: z.string().min(1).max(120).describe('What the payment is for, e.g. "haircut deposit".'),
  }),
  latencyClass: 'slow',
  idempotent: false,
  timeoutMs: 5000,
});

/** The pipeline's own tools, in the order the LLM sees them after the business tools. */
export const pipelineContracts = [transferToHumanContract, takePaymentContract];
