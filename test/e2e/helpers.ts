// Shared e2e helpers: start a local stack for a scenario, place a signed call through /twiml, and read back what was stored.
import { placeCall, type CallReport, type PlaceCallOptions } from '../../local/caller/caller';
import type { Scenario } from '../../local/scenarios/scenario';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack';

/** A stack loaded with `scenario`; emulators run at the seed budget unless `knobs` say otherwise. */
export function stackFor(scenario: Scenario, opts: Omit<LocalStackOptions, 'scenario'> = {}): Promise<LocalStack> {
  return startLocalStack({ scenario, logLevel: process.env.LOG_LEVEL ?? 'silent', ...opts });
}

/** Places one call the way Twilio would: signed webhook, then the stream its TwiML names. */
export function call(stack: LocalStack, scenario: Scenario, extra: Partial<PlaceCallOptions> = {}): Promise<CallReport> {
  return placeCall({
    scenario,
    twimlUrl: stack.twimlUrl,
    authToken: stack.twilio.authToken,
    accountSid: stack.twilio.accountSid,
    events: stack.emulators.twilio.events,
    ...extra,
  });
}

/** Waits until the call's trace has its summary (the handler finished persisting), bounded. */
export async function settled(stack: LocalStack, callSid: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!stack.calls.get(callSid)?.summary) {
    if (Date.now() > until) throw new Error(`call ${callSid} did not finish within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Turns of the stored transcript (turn ≥ 1). */
export async function storedTurns(stack: LocalStack, callSid: string): Promise<{ role: string; text: string; interrupted?: boolean; toolCalls?: { name: string; arguments: string }[] }[]> {
  const items = await stack.transcript(callSid);
  return items.filter((i) => Number(i.turn) > 0) as never;
}
