// Pins startEmulators: all four emulators from one scenario, the recorded espeak audio transcribed as the scenario's lines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeepgramClient } from '@deepgram/sdk';
import Groq from 'groq-sdk';
import twilio from 'twilio';
import { loadSayAudio, loadScenario, scriptOf } from '../../../local/scenarios/scenario';
import { emulatorEnv, LOCAL_TWILIO, startEmulators, twilioHttpClientFor, type Emulators } from '../../../local/emulators/index';
import { audio, frames, speech, waitFor } from './helpers';

const scenario = loadScenario('booking');
let emus: Emulators;

beforeAll(async () => {
  emus = await startEmulators({ scenario, knobs: { deepgram: { finalMs: 10 }, llm: { ttftMs: 5, tokensPerSecond: 5000 } } });
});
afterAll(async () => {
  await emus.close();
});

describe('startEmulators', () => {
  it('transcribes each recorded say step of the scenario as exactly its script line', async () => {
    const dg = new DeepgramClient({ apiKey: 'k', baseUrl: emulatorEnv(emus).DEEPGRAM_URL });
    const conn = await dg.listen.v1.connect({ model: 'nova-3', encoding: 'mulaw', sample_rate: 8000, endpointing: 400, interim_results: 'true', punctuate: 'true', reconnectAttempts: 0 });
    const finals: string[] = [];
    conn.on('message', (m: any) => {
      if (m.type === 'Results' && m.speech_final) finals.push(m.channel.alternatives[0].transcript);
    });
    conn.connect();
    await conn.waitForOpen();
    const lines = scriptOf(scenario);
    const clip = audio(...lines.flatMap((_, i) => [300, loadSayAudio(`booking-${i + 1}`), 900]));
    for (const f of frames(clip)) conn.sendMedia(f);
    await waitFor('every line', () => finals.length === lines.length);
    expect(finals).toEqual(lines);
    conn.close();
  });

  it('answers with the scenario rules and records transfers through the SDKs', async () => {
    const groq = new Groq({ apiKey: 'gsk_local', baseURL: emus.llm.url });
    const tools = ['check_availability', 'book_appointment'].map((name) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: {} } } }));
    const res = await groq.chat.completions.create({ model: 'm', tools, messages: [{ role: 'user', content: scriptOf(scenario)[0]! }] });
    expect(res.choices[0]!.message.tool_calls![0]!.function.name).toBe('check_availability');
    const tw = twilio(LOCAL_TWILIO.accountSid, LOCAL_TWILIO.authToken, { httpClient: twilioHttpClientFor(emus.twilio.url) });
    await tw.calls('CA' + 'a'.repeat(32)).update({ status: 'completed' });
    expect(emus.twilio.requests).toHaveLength(1);
  });

  it("runs the STT at the scenario's interim cadence (emulators.deepgram.interimEverySec), over the base knobs", async () => {
    const counts: number[] = [];
    for (const every of [undefined, 0.25]) {
      const e = await startEmulators({ scenario: { ...scenario, ...(every ? { emulators: { deepgram: { interimEverySec: every } } } : {}) }, knobs: { deepgram: { finalMs: 10 } } });
      try {
        const dg = new DeepgramClient({ apiKey: 'k', baseUrl: emulatorEnv(e).DEEPGRAM_URL });
        const conn = await dg.listen.v1.connect({ model: 'nova-3', encoding: 'mulaw', sample_rate: 8000, endpointing: 300, interim_results: 'true', reconnectAttempts: 0 });
        let interims = 0;
        let final = false;
        conn.on('message', (m: any) => {
          if (m.type === 'Results') m.is_final ? (final = true) : interims++;
        });
        conn.connect();
        await conn.waitForOpen();
        for (const f of frames(audio(speech(2000), 500))) conn.sendMedia(f);
        await waitFor('final', () => final);
        counts.push(interims);
        conn.close();
      } finally {
        await e.close();
      }
    }
    expect(counts[0]).toBe(2); // ~1 s cadence: at 1 s and 2 s of speech
    expect(counts[1]).toBeGreaterThanOrEqual(7);
  });
});
