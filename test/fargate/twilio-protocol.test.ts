// Pins the Twilio Media Streams translator against the literal messages of Twilio's websocket-messages docs (protocols.md §1.2-1.3).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clearMessage, markMessage, mediaMessage, parseTwilioMessage, TWILIO_SCHEMAS, toInboundEvent } from '../../fargate/src/telephony/twilio-protocol';

// Verbatim from https://www.twilio.com/docs/voice/media-streams/websocket-messages (copied in protocols.md §1.2).
const CONNECTED = `{
 "event": "connected",
 "protocol": "Call",
 "version": "1.0.0"
}`;
const START = `{
  "event": "start",
  "sequenceNumber": "1",
  "start": {
    "accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "tracks": [ "inbound" ],
    "mediaFormat": {
        "encoding": "audio/x-mulaw",
        "sampleRate": 8000,
        "channels": 1 },
    "customParameters": {
     "FirstName": "Jane",
     "LastName": "Doe",
     "RemoteParty": "Bob"
   }
  },
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}`;
// The docs abbreviate the payload as "no+JhoaJjpzS..."; the same prefix completed to valid base64 here.
const MEDIA = `{
 "event": "media",
 "sequenceNumber": "4",
 "media": {
   "track": "inbound",
   "chunk": "2",
   "timestamp": "5",
   "payload": "no+JhoaJjpzS"
 },
"streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}`;
const DTMF = `{
  "event": "dtmf",
  "streamSid":"MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
  "sequenceNumber":"5",
  "dtmf": {
      "track":"inbound_track",
      "digit": "1"
  }
}`;
const MARK = `{
 "event": "mark",
 "sequenceNumber": "4",
 "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
 "mark": {
   "name": "my label"
 }
}`;
const STOP = `{
 "event": "stop",
 "sequenceNumber": "5",
 "stop": {
    "accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
  },
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}`;
// Server → Twilio examples (§1.3); the docs abbreviate the payload as "a3242sa...", completed here to 6 bytes.
const OUT_MEDIA = { event: 'media', streamSid: 'MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', media: { payload: 'a3242sa1' } };
const OUT_MARK = { event: 'mark', streamSid: 'MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', mark: { name: 'my label' } };
const OUT_CLEAR = { event: 'clear', streamSid: 'MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' };

function message(text: string) {
  const r = parseTwilioMessage(text);
  if (r.kind !== 'message') throw new Error(`expected a message, got ${JSON.stringify(r)}`);
  return r.message;
}

describe('Twilio → server messages', () => {
  it('parses the documented connected message', () => {
    expect(message(CONNECTED)).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  });

  it('parses the documented start message with its ids and custom parameters', () => {
    const m = message(START);
    if (m.event !== 'start') throw new Error('not start');
    expect(m.sequenceNumber).toBe(1);
    expect(m.start).toMatchObject({
      accountSid: 'ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
      streamSid: 'MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
      callSid: 'CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: { FirstName: 'Jane', LastName: 'Doe', RemoteParty: 'Bob' },
    });
  });

  it('turns the documented media message into decoded μ-law with a numeric timestamp', () => {
    expect(toInboundEvent(message(MEDIA))).toEqual({
      kind: 'media',
      audio: new Uint8Array(Buffer.from('no+JhoaJjpzS', 'base64')),
      timestampMs: 5,
    });
  });

  it('decodes a real 20 ms frame (160 bytes, 216 base64 characters) byte for byte', () => {
    const frame = Uint8Array.from({ length: 160 }, (_, i) => (i * 37) & 0xff);
    const payload = Buffer.from(frame).toString('base64');
    expect(payload).toHaveLength(216);
    const ev = toInboundEvent(message(JSON.stringify({ event: 'media', streamSid: 'MZ1', media: { track: 'inbound', chunk: '1', timestamp: '40', payload } })));
    expect(ev).toEqual({ kind: 'media', audio: frame, timestampMs: 40 });
  });

  it('turns the documented dtmf, mark and stop messages into inbound events', () => {
    expect(toInboundEvent(message(DTMF))).toEqual({ kind: 'dtmf', digit: '1' });
    expect(toInboundEvent(message(MARK))).toEqual({ kind: 'mark', name: 'my label' });
    expect(toInboundEvent(message(STOP))).toEqual({ kind: 'stop' });
  });

  it('maps connected and start to no inbound event', () => {
    expect(toInboundEvent(message(CONNECTED))).toBeUndefined();
    expect(toInboundEvent(message(START))).toBeUndefined();
  });

  it('reports a frame that is not JSON', () => {
    expect(parseTwilioMessage('{"event":"media",')).toEqual({ kind: 'invalid-json', detail: 'frame is not JSON' });
    expect(parseTwilioMessage('[1,2]').kind).toBe('invalid-json');
  });

  it('reports a media payload that is not base64 without echoing it', () => {
    const bad = MEDIA.replace('no+JhoaJjpzS', 'no+Jh*aJjpzS');
    const r = parseTwilioMessage(bad);
    expect(r).toMatchObject({ kind: 'invalid-message', event: 'media' });
    expect(JSON.stringify(r)).toContain('base64');
    expect(JSON.stringify(r)).not.toContain('Jh*a');
  });

  it('reports a base64 payload with broken padding', () => {
    expect(parseTwilioMessage(MEDIA.replace('no+JhoaJjpzS', 'no+JhoaJjpz')).kind).toBe('invalid-message');
  });

  it('reports a known event missing required fields, naming the field', () => {
    const r = parseTwilioMessage('{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1"}}');
    expect(r.kind).toBe('invalid-message');
    if (r.kind === 'invalid-message') expect(r.detail).toContain('start.callSid');
  });

  it('reports a non-numeric media timestamp', () => {
    expect(parseTwilioMessage(MEDIA.replace('"timestamp": "5"', '"timestamp": "soon"')).kind).toBe('invalid-message');
  });

  it('returns unknown for an event it does not know, so callers can ignore it', () => {
    expect(parseTwilioMessage('{"event":"hologram","streamSid":"MZ1"}')).toEqual({ kind: 'unknown', event: 'hologram' });
  });

  it('reports a message without an event', () => {
    expect(parseTwilioMessage('{"streamSid":"MZ1"}')).toMatchObject({ kind: 'invalid-message', event: '(none)' });
  });
});

describe('server → Twilio messages', () => {
  it('builds media exactly as documented', () => {
    const audio = new Uint8Array(Buffer.from('a3242sa1', 'base64'));
    expect(JSON.parse(mediaMessage('MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', audio))).toEqual(OUT_MEDIA);
  });

  it('builds media that is the same JSON as the documented object, whatever the stream id and audio', () => {
    fc.assert(
      fc.property(fc.string(), fc.uint8Array({ maxLength: 400 }), (streamSid, audio) => {
        const want = { event: 'media', streamSid, media: { payload: Buffer.from(audio).toString('base64') } };
        expect(JSON.parse(mediaMessage(streamSid, audio))).toEqual(want);
      }),
    );
  });

  it('encodes only the viewed bytes of a subarray', () => {
    const whole = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    const payload = (JSON.parse(mediaMessage('MZ1', whole.subarray(2, 4))) as typeof OUT_MEDIA).media.payload;
    expect([...Buffer.from(payload, 'base64')]).toEqual([3, 4]);
  });

  it('builds mark and clear exactly as documented', () => {
    expect(JSON.parse(markMessage('MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', 'my label'))).toEqual(OUT_MARK);
    expect(JSON.parse(clearMessage('MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX'))).toEqual(OUT_CLEAR);
  });
});

describe('media frames on the fast path', () => {
  /** Every frame `frame` draws, as JSON text, parses to what the media schema makes of it (or fails as it does). */
  const expectParsedAsSchema = (frame: fc.Arbitrary<unknown>, numRuns: number) =>
    fc.assert(
      fc.property(frame, (raw) => {
        const text = JSON.stringify(raw);
        const got = parseTwilioMessage(text);
        const want = TWILIO_SCHEMAS.media.safeParse(JSON.parse(text));
        expect(got.kind).toBe(want.success ? 'message' : 'invalid-message');
        if (want.success && got.kind === 'message') expect(got.message).toEqual(want.data);
      }),
      { numRuns },
    );

  it('parse exactly as the media schema does in any key order, well-formed or malformed', () => {
    const counter = fc.oneof(fc.nat(99999).map(String), fc.nat(99999), fc.constant('x1'), fc.constant(-1), fc.constant(1.5), fc.constant(undefined));
    const frame = fc.record({
      event: fc.constant('media'),
      sequenceNumber: counter,
      streamSid: fc.oneof(fc.constant('MZ1'), fc.constant(''), fc.constant(7)),
      media: fc.oneof(
        fc.record({ track: fc.oneof(fc.constant('inbound'), fc.constant(3), fc.constant(undefined)), chunk: counter, timestamp: counter, payload: fc.oneof(fc.base64String(), fc.constant('not base64!'), fc.constant(5)) }),
        fc.constant(null),
        fc.constant([]),
      ),
    });
    expectParsedAsSchema(frame, 1000);
  });

  it('parse exactly as the media schema does when written in Twilio\'s own key order, the form read without JSON.parse', () => {
    // Mostly what Twilio sends, with an odd field now and then, so every rule of the fast read is crossed.
    const usually = <T,>(good: fc.Arbitrary<T>, odd: fc.Arbitrary<T>) => fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: odd });
    const digits = usually(fc.nat(99999).map(String), fc.constantFrom('', '1'.repeat(16), '0x1', ' 7', '-1'));
    const payload = usually(
      fc.base64String(),
      fc.constantFrom('AA=A', 'A===', 'AAA', 'AAAAA', '====', 'AA==AAAA', 'AA-_', 'AA\n=='),
    );
    // Keys in the order Twilio writes them: event, sequenceNumber, media {track, chunk, timestamp, payload}, streamSid.
    const frame = fc.record({
      event: fc.constant('media'),
      sequenceNumber: digits,
      media: fc.record({ track: usually(fc.constantFrom('inbound', 'outbound'), fc.constantFrom('Inbound', 'in"bound', '')), chunk: digits, timestamp: digits, payload }),
      streamSid: usually(fc.constant('MZ18ad3ab5a668481ce02b83e7395059f0'), fc.constantFrom('', 'MZ 1', 'MZ"1', 'M'.repeat(65))),
    });
    expectParsedAsSchema(frame, 2000);
  });

  it('read a JSON escape in Twilio\'s form as JSON.parse does, by the general way', () => {
    // `\/` is JSON for `/`: escaped, the payload is 8 characters, a length the fast read would otherwise accept.
    const plain = '{"event":"media","sequenceNumber":"4","media":{"track":"inbound","chunk":"3","timestamp":"60","payload":"////"},"streamSid":"MZ1"}';
    const escaped = plain.replace('"////"', String.raw`"\/\/\/\/"`);
    expect(escaped).toContain(String.raw`\/\/`);
    expect(parseTwilioMessage(escaped)).toEqual(parseTwilioMessage(plain));
    expect(parseTwilioMessage(escaped)).toMatchObject({ kind: 'message', message: { media: { payload: '////', timestamp: 60 } } });
  });
});
