// Deepgram Aura-2 TTS adapter over ws against the /v1/speak emulator: Speak/Flush → audio → Flushed, Clear on barge-in, errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeToneText } from '../../../local/audio/tone-text';
import { createDeepgramTts, DeepgramTtsError, FlushBudget, FLUSH_LIMIT } from '../../../fargate/src/providers/deepgram-tts';
import { startDeepgramTtsEmulator, type DeepgramTtsEmulator } from '../../../local/emulators/deepgram-tts';
import { collect, controlled, log, waitFor } from './helpers';

let emu: DeepgramTtsEmulator;
beforeAll(async () => {
  emu = await startDeepgramTtsEmulator({ apiKey: 'dg-test' });
});
afterAll(() => emu.close());

const tts = () => createDeepgramTts({ apiKey: 'dg-test', url: emu.url, log });
const heard = (chunks: { audio: Uint8Array }[]) => decodeToneText(new Uint8Array(Buffer.concat(chunks.map((c) => Buffer.from(c.audio)))));

describe('Deepgram TTS against the /v1/speak emulator', () => {
  it('speaks a streamed reply and ends on the last Flushed', async () => {
    const conn = await tts().connect();
    const text = controlled<string>();
    const out = collect(conn.synthesize(text.stream, new AbortController().signal));
    text.push('Great, a haircut tomorrow at 10 AM. ');
    text.push('Shall I book it?');
    text.end();
    await out.finished;
    expect(out.error).toBeUndefined();
    expect(heard(out.items).trim()).toBe('great, a haircut tomorrow at 10 am. shall i book it?');
    conn.close();
  });

  it('speaks the next reply on the same socket after a barge-in cleared the previous one', async () => {
    const conn = await tts().connect();
    const ac = new AbortController();
    const text = controlled<string>();
    const first = collect(conn.synthesize(text.stream, ac.signal));
    text.push('This is a long answer that the caller interrupts right away. ');
    await waitFor('first audio', () => first.items.length > 0);
    ac.abort();
    await first.finished;
    const second = collect(conn.synthesize((async function* () { yield 'Sure.'; })(), new AbortController().signal));
    await second.finished;
    expect(second.error).toBeUndefined();
    expect(heard(second.items).trim()).toBe('sure.');
    conn.close();
  });

  it('fails the reply with DeepgramTtsError when the socket drops mid-reply', async () => {
    const conn = await tts().connect();
    emu.setKnobs({ msPerChar: 40 });
    const text = controlled<string>();
    const out = collect(conn.synthesize(text.stream, new AbortController().signal));
    text.push('A sentence long enough to still be speaking when the socket dies.');
    text.end();
    await waitFor('first audio', () => out.items.length > 0);
    emu.dropConnections();
    await out.finished;
    emu.setKnobs({ msPerChar: undefined });
    expect(out.error).toBeInstanceOf(DeepgramTtsError);
  });

  it('refuses a wrong key at the upgrade with HTTP 401', async () => {
    const err = await createDeepgramTts({ apiKey: 'nope', url: emu.url, log }).connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeepgramTtsError);
    expect((err as DeepgramTtsError).code).toBe(401);
  });
});

describe('FlushBudget', () => {
  it('keeps mid-reply flushes under Deepgram’s 20 per 60 s, leaving room for reply ends, and frees up after the window', () => {
    let t = 0;
    const b = new FlushBudget(() => t);
    let optional = 0;
    while (b.allows()) (b.record(), optional++);
    expect(optional).toBe(FLUSH_LIMIT - 5);
    t += 60_001;
    expect(b.allows()).toBe(true);
  });
});
