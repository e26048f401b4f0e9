// Pins the Twilio REST emulator against the real twilio SDK routed through twilioHttpClientFor: transfers, hang-ups, auth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import twilio from 'twilio';
import { startTwilioEmulator, twilioHttpClientFor, type CallUpdatedEvent, type TwilioEmulator } from '../../../local/emulators/twilio';

const ACCOUNT = 'AC' + '0123456789abcdef'.repeat(2);
const TOKEN = 'test-auth-token';
const CALL = 'CA' + 'fedcba9876543210'.repeat(2);
let emu: TwilioEmulator;

beforeAll(async () => {
  emu = await startTwilioEmulator({ accountSid: ACCOUNT, authToken: TOKEN });
  emu.registerCall(CALL, { from: '+15551230001', to: '+15550001000' });
});
afterAll(async () => {
  await emu.close();
});

describe('Twilio REST emulator', () => {
  it('records calls.update with Twiml under Basic auth, answers Call JSON and emits call-updated', async () => {
    const client = twilio(ACCOUNT, TOKEN, { httpClient: twilioHttpClientFor(emu.url) });
    const events: CallUpdatedEvent[] = [];
    emu.events.on('call-updated', (e: CallUpdatedEvent) => events.push(e));
    const response = new twilio.twiml.VoiceResponse();
    response.say('Transferring you now.');
    response.dial({ callerId: '+15550000000', timeout: 20 }).number('+15557654321');
    const call = await client.calls(CALL).update({ twiml: response.toString() });
    expect(call.sid).toBe(CALL);
    expect(call.accountSid).toBe(ACCOUNT);
    expect(call.status).toBe('in-progress');
    expect(call.from).toBe('+15551230001');
    expect(emu.requests.at(-1)).toMatchObject({ callSid: CALL, params: { Twiml: response.toString() } });
    expect(emu.requests.at(-1)!.params.Twiml).toContain('<Dial callerId="+15550000000" timeout="20"><Number>+15557654321</Number></Dial>');
    expect(events).toEqual([{ callSid: CALL, twiml: response.toString() }]);
  });

  it('hangs up with Status=completed and then refuses further redirects with 21220', async () => {
    const sid = 'CA' + '1'.repeat(32);
    const client = twilio(ACCOUNT, TOKEN, { httpClient: twilioHttpClientFor(emu.url) });
    const ended = await client.calls(sid).update({ status: 'completed' });
    expect(ended.status).toBe('completed');
    expect(emu.requests.at(-1)).toMatchObject({ callSid: sid, params: { Status: 'completed' } });
    const err = await client.calls(sid).update({ url: 'https://example.com/twiml', method: 'POST' }).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.code).toBe(21220);
  });

  it('refuses a wrong auth token with 401 and Twilio error 20003, recording nothing', async () => {
    const before = emu.requests.length;
    const client = twilio(ACCOUNT, 'wrong-token', { httpClient: twilioHttpClientFor(emu.url) });
    const err = await client.calls(CALL).update({ twiml: '<Response><Hangup/></Response>' }).catch((e) => e);
    expect(err.status).toBe(401);
    expect(err.code).toBe(20003);
    expect(emu.requests.length).toBe(before);
  });

  it('fails the next update with a 503 fault, then succeeds', async () => {
    emu.setKnobs({ httpError: { status: 503, count: 1 } });
    const client = twilio(ACCOUNT, TOKEN, { httpClient: twilioHttpClientFor(emu.url) });
    const err = await client.calls(CALL).update({ url: 'https://example.com/a' }).catch((e) => e);
    expect(err.status).toBe(503);
    const ok = await client.calls(CALL).update({ url: 'https://example.com/a' });
    expect(ok.status).toBe('in-progress');
    expect(emu.requests.at(-1)!.params).toMatchObject({ Url: 'https://example.com/a' });
  });
});
