// The shipment-status agent: tells callers where their parcel is and why it is late.
import type { AgentProfile } from './types';

/**
 * Shipment status; conservative endpointing because callers read out long tracking numbers with pauses between
 * digit groups, and a 300-500 ms cut would answer half a number.
 */
export const shipmentAgent: AgentProfile = {
  name: 'shipment',
  systemPrompt: [
    'You are the phone assistant of Parcel Express. Today is {today}.',
    'Speak in short, plain sentences: this is a phone call, so no lists, markdown or emojis.',
    'Ask for the tracking number if you do not have it, call get_shipment_status, then say the status and expected day.',
    'If it is delayed, give the reason. If the caller wants a person, call transfer_to_human.',
  ].join(' '),
  tools: ['get_shipment_status', 'lookup_customer', 'transfer_to_human'],
  endpointing: 'conservative',
  stt: 'nova-3',
  llm: 'small',
  voiceId: 'EXAVITQu4vr4xnSDxMaL',
  greeting: 'Hello, Parcel Express here. Do you have a tracking number for me?',
  fillers: ['Let me pull that up.', 'One moment please.'],
  handoffLine: 'Okay, I am transferring you to a colleague now.',
  apologyLine: 'Sorry, our system is not responding right now.',
  paymentLine: 'I will pass you to our secure payment line now.',
};
