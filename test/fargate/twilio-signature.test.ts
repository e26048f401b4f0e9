// Pins webhook authentication (Twilio's official signature vector) and the TwiML the service emits.
import { describe, expect, it } from 'vitest';
import twilio from 'twilio';
import { isValidTwilioSignature, parseForm } from '../../fargate/src/telephony/twilio-signature';
import { connectStreamTwiml, dialTwiml, payTwiml } from '../../fargate/src/telephony/twiml';

// twilio/twilio-node spec/validation.spec.js (protocols.md §1.6).
const TOKEN = '12345';
const URL_ = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
const SIG = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';

describe('X-Twilio-Signature', () => {
  it("accepts Twilio's official test vector", () => {
    expect(isValidTwilioSignature(TOKEN, SIG, URL_, PARAMS)).toBe(true);
  });

  it('accepts the vector after a round trip through a form body', () => {
    expect(isValidTwilioSignature(TOKEN, SIG, URL_, parseForm(new URLSearchParams(PARAMS).toString()))).toBe(true);
  });

  it('refuses a missing signature, a changed param, another URL or another token', () => {
    expect(isValidTwilioSignature(TOKEN, undefined, URL_, PARAMS)).toBe(false);
    expect(isValidTwilioSignature(TOKEN, SIG, URL_, { ...PARAMS, To: '+18005550000' })).toBe(false);
    expect(isValidTwilioSignature(TOKEN, SIG, 'https://mycompany.com/other.php?foo=1&bar=2', PARAMS)).toBe(false);
    expect(isValidTwilioSignature('54321', SIG, URL_, PARAMS)).toBe(false);
  });

  it('keeps every value of a repeated form key, as Twilio signs them', () => {
    const params = parseForm('a=1&b=x&a=2');
    expect(params).toEqual({ a: ['1', '2'], b: 'x' });
    const sig = twilio.getExpectedTwilioSignature(TOKEN, URL_, params);
    expect(isValidTwilioSignature(TOKEN, sig, URL_, params)).toBe(true);
    expect(isValidTwilioSignature(TOKEN, sig, URL_, parseForm('a=1&b=x'))).toBe(false);
  });
});

describe('TwiML', () => {
  it('answers with <Connect><Stream> and one <Parameter> per entry, as twilio@6 prints it', () => {
    expect(connectStreamTwiml('wss://example.com/media', { agent: 'booking', caller: '+15551234567', token: 'v1.1.x' })).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://example.com/media">' +
        '<Parameter name="agent" value="booking"/><Parameter name="caller" value="+15551234567"/><Parameter name="token" value="v1.1.x"/>' +
        '</Stream></Connect></Response>',
    );
  });

  it('refuses a Stream url with a query string, which Twilio would drop', () => {
    expect(() => connectStreamTwiml('wss://example.com/media?token=abc', {})).toThrow(/query string/);
  });

  it('escapes parameter values', () => {
    expect(connectStreamTwiml('wss://example.com/media', { agent: 'a"<b>&' })).toContain('value="a&quot;&lt;b>&amp;"');
  });

  it('builds <Dial><Number> for a transfer', () => {
    expect(dialTwiml('+15557654321', { say: 'Transferring you now.', callerId: '+15550000000' })).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Transferring you now.</Say><Dial timeout="20" callerId="+15550000000"><Number>+15557654321</Number></Dial></Response>',
    );
  });

  it('builds <Pay> collecting the card by DTMF at Twilio', () => {
    expect(payTwiml({ action: 'https://voice.example.com/twiml', chargeAmount: '10.00', prompt: 'Please enter your card number.' })).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Pay input="dtmf" action="https://voice.example.com/twiml" paymentConnector="Default" currency="usd" chargeAmount="10.00">' +
        '<Prompt for="payment-card-number"><Say>Please enter your card number.</Say></Prompt></Pay></Response>',
    );
  });
});
