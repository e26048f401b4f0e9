// ElevenLabs TTS provider: frame/alignment parsing on literal vendor frames, and the ws client against the ElevenLabs emulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeToneText } from '../../../local/audio/tone-text';
import { startElevenLabsEmulator, type ElevenLabsEmulator } from '../../../local/emulators/elevenlabs';
import { createElevenLabsTts, parseFrame, toAlignment, TtsError, type ElevenLabsTtsOptions } from '../../../fargate/src/providers/elevenlabs-tts';
import type { TtsChunk } from '../../../fargate/src/providers/types';
import { collect, controlled, log, sleep, waitFor } from './helpers';

describe('ElevenLabs frame parsing (literal protocols.md §4 frames)', () => {
  it('reads an audio frame with isFinal null and charDurationsMs alignment (spellings seen outside the spec)', () => {
    const f = parseFrame({
      audio: Buffer.from([1, 2, 3]).toString('base64'),
      isFinal: null,
      normalizedAlignment: { chars: ['x'], charStartTimesMs: [0], charDurationsMs: [9] },
      alignment: { chars: ['H', 'i'], charStartTimesMs: [0, 3], charDurationsMs: [3, 4] },
      contextId: 'conv_1',
    });
    expect(f).toEqual({ contextId: 'conv_1', final: false, chunk: { audio: new Uint8Array([1, 2, 3]), alignment: { chars: ['H', 'i'], charStartMs: [0, 3], charDurationMs: [3, 4] } } });
  });

  it('accepts the spec spelling charsDurationsMs, and null alignment gives no alignment', () => {
    expect(toAlignment({ alignment: { chars: ['a'], charStartTimesMs: [0], charsDurationsMs: [5] } })).toEqual({ chars: ['a'], charStartMs: [0], charDurationMs: [5] });
    expect(parseFrame({ audio: 'AQI=', isFinal: null, alignment: null, normalizedAlignment: null, contextId: 'c' }).chunk).toEqual({ audio: new Uint8Array([1, 2]) });
  });

  it('reads is_final/context_id as well as isFinal/contextId, and audio with isFinal in one frame', () => {
    expect(parseFrame({ is_final: true, context_id: 'interruption_context' })).toEqual({ contextId: 'interruption_context', final: true });
    const both = parseFrame({ audio: 'AQI=', isFinal: true, contextId: 'c' });
    expect(both.final).toBe(true);
    expect(both.chunk?.audio).toEqual(new Uint8Array([1, 2]));
  });
});

describe('createElevenLabsTts against the ElevenLabs emulator', () => {
  let emu: ElevenLabsEmulator;
  const opts = (o: Partial<ElevenLabsTtsOptions> = {}): ElevenLabsTtsOptions => ({ apiKey: 'xi-test', url: emu.url, voiceId: 'voice123', model: 'eleven_flash_v2_5', log, ...o });
  const say = async (conn: { synthesize: (t: AsyncIterable<string>, s: AbortSignal) => AsyncIterable<TtsChunk> }, pieces: string[]) => {
    const t = controlled<string>();
    const out = collect(conn.synthesize(t.stream, new AbortController().signal));
    for (const p of pieces) t.push(p);
    t.end();
    await out.finished;
    return out;
  };
  const heard = (chunks: TtsChunk[]) => decodeToneText(new Uint8Array(Buffer.concat(chunks.map((c) => Buffer.from(c.audio)))));

  beforeAll(async () => {
    emu = await startElevenLabsEmulator({ apiKey: 'xi-test', knobs: { firstByteMs: 10, msPerChar: 0 } });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('speaks two replies on one socket, each ending at its own final frame, with alignment matching the audio', async () => {
    const tts = createElevenLabsTts(opts());
    const conn = await tts.connect();
    const one = await say(conn, ['Hello there.', 'How can I help?']);
    const two = await say(conn, ['Your booking is confirmed.']);
    expect(one.error).toBeUndefined();
    expect(two.error).toBeUndefined();
    expect(heard(one.items)).toBe('hello there. how can i help? ');
    expect(heard(two.items)).toBe('your booking is confirmed. ');
    for (const c of [...one.items, ...two.items]) {
      expect(c.alignment).toBeDefined();
      expect(c.alignment!.chars.length * 520).toBe(c.audio.length); // one 65 ms tone block per aligned character
    }
    const contexts = new Set(emu.generations.filter((g) => g.voiceId === 'voice123').map((g) => g.contextId));
    expect(contexts.size).toBe(2);
    conn.close();
    await conn.closed;
  });

  it('stays within the 5-context limit over many replies (each context is closed once final)', async () => {
    const conn = await createElevenLabsTts(opts()).connect();
    for (let i = 0; i < 7; i++) {
      const r = await say(conn, [`reply ${i}`]);
      expect(r.error).toBeUndefined();
      expect(heard(r.items)).toBe(`reply ${i} `);
    }
    expect(conn.isOpen).toBe(true);
    conn.close();
  });

  it('closes the context on abort, stops yielding, and the socket keeps serving the next reply', async () => {
    emu.setKnobs({ msPerChar: 20 });
    try {
      const conn = await createElevenLabsTts(opts()).connect();
      const ac = new AbortController();
      const t = controlled<string>();
      const out = collect(conn.synthesize(t.stream, ac.signal));
      t.push('This is a long answer that the caller will interrupt halfway through.');
      t.end();
      await waitFor('first audio', () => out.items.length > 0);
      ac.abort();
      await out.finished;
      const got = out.items.length;
      await sleep(300);
      expect(out.items.length).toBe(got);
      expect(heard(out.items).length).toBeLessThan('this is a long answer that the caller will interrupt halfway through. '.length);
      emu.setKnobs({ msPerChar: 0 });
      const next = await say(conn, ['Sure, go ahead.']);
      expect(heard(next.items)).toBe('sure, go ahead. ');
      conn.close();
    } finally {
      emu.setKnobs({ msPerChar: 0 });
    }
  });

  it('keeps an idle socket alive past the inactivity timeout with the keep-alive context', async () => {
    emu.setKnobs({ inactivityTimeoutMs: 400 });
    try {
      const kept = await createElevenLabsTts(opts({ keepAliveMs: 100 })).connect();
      const lost = await createElevenLabsTts(opts({ keepAliveMs: 60_000 })).connect();
      await waitFor('the unkept socket to close', () => !lost.isOpen, 3000);
      await sleep(500);
      expect(kept.isOpen).toBe(true);
      const r = await say(kept, ['still here']);
      expect(heard(r.items)).toBe('still here ');
      kept.close();
    } finally {
      emu.setKnobs({ inactivityTimeoutMs: undefined });
    }
  });

  it.each(['close', 'flush'] as const)('ends a reply on its context\'s isFinal when the server sends it on %s (close_context goes right after the final flush)', async (isFinalOn) => {
    emu.setKnobs({ isFinalOn });
    try {
      const conn = await createElevenLabsTts(opts({ finalWaitMs: 60_000 })).connect();
      const r = await say(conn, ['Your table is booked.', 'See you then.']);
      expect(r.error).toBeUndefined();
      expect(heard(r.items)).toBe('your table is booked. see you then. ');
      conn.close();
    } finally {
      emu.setKnobs({ isFinalOn: undefined });
    }
  });

  it('ends a closed reply after a bounded wait when isFinal never comes', async () => {
    emu.setKnobs({ isFinalOn: 'never' });
    try {
      const conn = await createElevenLabsTts(opts({ finalWaitMs: 150 })).connect();
      const r = await say(conn, ['Transferring you now.']);
      expect(r.error).toBeUndefined();
      expect(heard(r.items)).toBe('transferring you now. ');
      const next = await say(conn, ['Still here.']); // the closed context no longer counts against the limit
      expect(heard(next.items)).toBe('still here. ');
      conn.close();
    } finally {
      emu.setKnobs({ isFinalOn: undefined });
    }
  });

  it('speaks the first clause at once although the server applies its default 120-character chunk_length_schedule', async () => {
    const conn = await createElevenLabsTts(opts()).connect();
    const t = controlled<string>();
    const out = collect(conn.synthesize(t.stream, new AbortController().signal));
    t.push('Sure,');
    await waitFor('the first clause spoken before the rest is sent', () => out.items.length > 0, 2000);
    t.push('I can help with that.');
    t.end();
    await out.finished;
    expect(heard(out.items)).toBe('sure, i can help with that. ');
    conn.close();
  });

  it.each(['flush', 'schedule'] as const)('also speaks each clause with generation=%s', async (generation) => {
    const conn = await createElevenLabsTts(opts({ generation })).connect();
    const r = await say(conn, ['Sure,', 'I can help with that, and here is a longer clause to pass fifty characters.']);
    expect(heard(r.items)).toBe('sure, i can help with that, and here is a longer clause to pass fifty characters. ');
    conn.close();
  });

  it('keeps every open context within its own inactivity timeout while another context keeps the socket busy', async () => {
    emu.setKnobs({ inactivityTimeoutMs: 300 });
    try {
      const before = emu.timedOutContexts.length;
      const conn = await createElevenLabsTts(opts({ keepAliveMs: 100 })).connect();
      const t = controlled<string>();
      const out = collect(conn.synthesize(t.stream, new AbortController().signal));
      for (let i = 0; i < 16; i++) {
        t.push(`word${i}`); // a message every 50 ms: the socket is never idle, the keep-alive context would starve
        await sleep(50);
      }
      await sleep(400); // and now a reply waiting on a slow tool: text stops, its context must stay open
      t.push('done.');
      t.end();
      await out.finished;
      expect(out.error).toBeUndefined();
      expect(emu.timedOutContexts.slice(before)).toEqual([]);
      expect(conn.isOpen).toBe(true);
      conn.close();
    } finally {
      emu.setKnobs({ inactivityTimeoutMs: undefined });
    }
  });

  it('fails the reply with TtsError when the socket dies mid-synthesis', async () => {
    emu.setKnobs({ closeWith: { afterMs: 150, code: 1011, reason: 'internal_error' } });
    const conn = await createElevenLabsTts(opts()).connect();
    emu.setKnobs({ closeWith: undefined });
    const t = controlled<string>();
    const out = collect(conn.synthesize(t.stream, new AbortController().signal));
    t.push('waiting for more text'); // never flushed: the context stays open until the socket dies
    await out.finished;
    expect(out.error).toBeInstanceOf(TtsError);
    await conn.closed;
    expect(conn.isOpen).toBe(false);
  });

  it('refuses a wrong key at connect time with TtsError', async () => {
    const conn = await createElevenLabsTts(opts({ apiKey: 'wrong' })).connect();
    // The emulator (like ElevenLabs) answers a bad key with an error frame and a 1008 close.
    await conn.closed;
    const t = controlled<string>();
    t.push('hi');
    t.end();
    const out = collect(conn.synthesize(t.stream, new AbortController().signal));
    await out.finished;
    expect(out.error).toBeInstanceOf(TtsError);
  });

  it('synthesizes a whole phrase once over HTTP as ulaw_8000', async () => {
    const audio = await createElevenLabsTts(opts()).synthesizeOnce('One moment please.');
    expect(decodeToneText(audio)).toBe('one moment please.');
    await expect(createElevenLabsTts(opts({ apiKey: 'nope' })).synthesizeOnce('hi')).rejects.toMatchObject({ name: 'TtsError', code: 401 });
  });

  it('makes each cached phrase once per voice, and retries a phrase whose synthesis failed', async () => {
    const tts = createElevenLabsTts(opts({ voiceId: 'phrase-voice' }));
    emu.setKnobs({ httpError: { status: 503 } });
    await expect(tts.phrase('Let me check that.')).rejects.toMatchObject({ code: 503 });
    const [a, b] = await Promise.all([tts.phrase('Let me check that.'), tts.phrase('Let me check that.')]);
    expect(a).toBe(b);
    expect(decodeToneText(a)).toBe('let me check that.');
    expect(emu.generations.filter((g) => g.voiceId === 'phrase-voice')).toHaveLength(1);
  });
});
