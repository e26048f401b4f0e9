// The agent registry: every profile by name, and which called number reaches which agent.
import type { EndpointingProfileName } from '../turn-detector';
import { bookingAgent } from './booking';
import { shipmentAgent } from './shipment';
import type { AgentProfile, SttModel } from './types';

export type { AgentProfile, SttModel } from './types';

function variant(base: AgentProfile, name: string, endpointing: EndpointingProfileName, stt: SttModel = base.stt): AgentProfile {
  return { ...base, name, endpointing, stt };
}

/**
 * Every profile. The booking variants differ only in how they listen, so a deployment can A/B endpointing per number
 * (and the local scenarios pin each behaviour): `-quick` answers after 300 ms of silence, `-patient` waits 800 ms,
 * `-flux` lets Deepgram Flux decide and speculates on EagerEndOfTurn, `-flux-plain` waits for EndOfTurn. Nova
 * profiles speculate by default (held reply from the early endpoint); `-plain` is `booking` without it, the baseline
 * for `npm run bench -- --agent booking-plain`. `-patient` does not speculate (its pause scenario pins that no LLM
 * request ever sees half a sentence); `-patient-spec` is the same listener with speculation.
 */
export const AGENTS: Readonly<Record<string, AgentProfile>> = Object.freeze({
  booking: bookingAgent,
  'booking-quick': variant(bookingAgent, 'booking-quick', 'aggressive'),
  'booking-patient': { ...variant(bookingAgent, 'booking-patient', 'conservative'), speculate: false },
  'booking-patient-spec': variant(bookingAgent, 'booking-patient-spec', 'conservative'),
  'booking-plain': { ...variant(bookingAgent, 'booking-plain', 'balanced'), speculate: false },
  'booking-flux': variant(bookingAgent, 'booking-flux', 'balanced', 'flux-general-en'),
  'booking-flux-plain': { ...variant(bookingAgent, 'booking-flux-plain', 'balanced', 'flux-general-en'), speculate: false },
  shipment: shipmentAgent,
});

/** True when a Nova-3 profile speculates: its recogniser uses the eager endpointing and its detector holds the turn. */
export function novaSpeculates(profile: AgentProfile): boolean {
  return profile.stt === 'nova-3' && profile.speculate !== false;
}

/** Called number (E.164, the webhook's `To`) → agent name. Forks edit this map. */
export const NUMBER_TO_AGENT: Readonly<Record<string, string>> = Object.freeze({
  '+15550001000': 'booking',
  '+15550001001': 'booking-quick',
  '+15550001002': 'booking-patient',
  '+15550001003': 'booking-flux',
  '+15550001004': 'booking-flux-plain',
  '+15550001005': 'booking-plain',
  '+15550001006': 'booking-patient-spec',
  '+15550002000': 'shipment',
});

/** The agent for a called number; unknown numbers get `fallback` (config DEFAULT_AGENT). */
export function agentForNumber(calledNumber: string, fallback: string): string {
  return NUMBER_TO_AGENT[calledNumber.trim()] ?? fallback;
}

/** The profile named `name` (the `agent` <Parameter>); unknown names get `fallback`'s profile, then booking. */
export function resolveAgent(name: string | undefined, fallback: string): AgentProfile {
  return AGENTS[name ?? ''] ?? AGENTS[fallback] ?? bookingAgent;
}

/** The system prompt for a profile at call start: `{today}` filled, caller memory appended. */
export function systemPrompt(profile: AgentProfile, today: string, memoryLine: string): string {
  const base = profile.systemPrompt.replaceAll('{today}', today);
  return memoryLine ? `${base}\n${memoryLine}` : base;
}
