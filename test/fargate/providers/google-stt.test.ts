// Google STT adapter: the real @google-cloud/speech client over gRPC against the emulator serving the package's own proto.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGoogleStt, GoogleSttError, mapResponse, seconds } from '../../../fargate/src/providers/google-stt';
import type { SttEvent } from '../../../fargate/src/providers/types';
import { startGoogleSttEmulator, type GoogleSttEmulator } from '../../../local/emulators/google-stt';
import { audio, collect, controlled, log, pushFrames, speech, waitFor } from './helpers';

let emu: GoogleSttEmulator;
beforeAll(async () => {
  emu = await startGoogleSttEmulator({ script: ['Ten AM works for me.', 'Yes, please book it.'] });
});
afterAll(() => emu.close());

const stt = () => createGoogleStt({ endpoint: emu.endpoint, log });

describe('Google STT against the StreamingRecognize emulator', () => {
  it('maps voice-activity events, interim and final results onto speech-started, transcripts and a speech-final transcript', async () => {
    const input = controlled<Uint8Array>();
    const events = collect(stt().transcribe(input.stream, new AbortController().signal));
    pushFrames(input.push, audio(300, speech(900), 400));
    const final = await waitFor('final', () => events.items.find((e) => e.kind === 'transcript' && e.isFinal));
    input.end();
    await events.finished;
    expect(events.error).toBeUndefined();
    expect(events.items[0]).toMatchObject({ kind: 'speech-started' });
    expect((events.items[0] as Extract<SttEvent, { kind: 'speech-started' }>).at).toBeCloseTo(0.3, 1);
    expect(events.items.some((e) => e.kind === 'transcript' && !e.isFinal && e.text.length > 0)).toBe(true);
    expect(final).toMatchObject({ text: 'Ten AM works for me.', isFinal: true, speechFinal: true });
    const words = (final as Extract<SttEvent, { kind: 'transcript' }>).words;
    expect(words.map((w) => w.word)).toEqual(['ten', 'am', 'works', 'for', 'me']);
    expect(words[0]!.start).toBeGreaterThanOrEqual(0.28);
    expect(events.items.some((e) => e.kind === 'utterance-end')).toBe(true);
  });

  it('flushes the open burst when the audio ends (half-close → last result → end of call)', async () => {
    const input = controlled<Uint8Array>();
    const events = collect(stt().transcribe(input.stream, new AbortController().signal));
    pushFrames(input.push, audio(100, speech(600)));
    input.end();
    await events.finished;
    expect(events.error).toBeUndefined();
    expect(events.items.find((e) => e.kind === 'transcript' && e.isFinal)).toMatchObject({ text: 'Ten AM works for me.' });
  });

  it('fails the stream with GoogleSttError when the server drops the call mid-stream', async () => {
    const input = controlled<Uint8Array>();
    const events = collect(stt().transcribe(input.stream, new AbortController().signal));
    pushFrames(input.push, audio(200, speech(500)));
    await waitFor('an interim', () => events.items.some((e) => e.kind === 'transcript'));
    emu.dropConnections();
    await events.finished;
    expect(events.error).toBeInstanceOf(GoogleSttError);
    expect((events.error as GoogleSttError).code).toBe(14); // UNAVAILABLE
  });
});

describe('mapResponse', () => {
  it('joins the stable and unstable interim results into one interim transcript', () => {
    const evs = mapResponse({ results: [{ alternatives: [{ transcript: 'to be' }], stability: 0.9 }, { alternatives: [{ transcript: ' or not to be' }], stability: 0.01 }] });
    expect(evs).toMatchObject([{ kind: 'transcript', text: 'to be or not to be', isFinal: false }]);
  });

  it('reads protobuf Durations given as strings (Long) and nanos', () => {
    expect(seconds({ seconds: '2' as unknown as number, nanos: 500_000_000 })).toBe(2.5);
    expect(mapResponse({ speechEventType: 'SPEECH_ACTIVITY_BEGIN', speechEventTime: { seconds: 1, nanos: 200_000_000 } })).toEqual([{ kind: 'speech-started', at: 1.2 }]);
  });
});
