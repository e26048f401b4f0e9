// Warm pools of real provider sockets (Deepgram via @deepgram/sdk, ElevenLabs via ws) against the local emulators.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeepgramEmulator, type DeepgramEmulator } from '../../../local/emulators/deepgram';
import { startElevenLabsEmulator, type ElevenLabsEmulator } from '../../../local/emulators/elevenlabs';
import { decodeToneText } from '../../../local/audio/tone-text';
import { createDeepgramStt, type DeepgramConnection, type DeepgramSttOptions } from '../../../fargate/src/providers/deepgram-stt';
import { createElevenLabsTts, type TtsConnection } from '../../../fargate/src/providers/elevenlabs-tts';
import { WarmPool, WarmPools } from '../../../fargate/src/providers/warm-pool';
import { collect, controlled, log, waitFor } from './helpers';

let dg: DeepgramEmulator;
let el: ElevenLabsEmulator;
const sttOpts = (o: Partial<DeepgramSttOptions> = {}): DeepgramSttOptions => ({
  apiKey: 'dg', url: dg.url, model: 'nova-3', profile: { endpointingMs: 300, utteranceEndMs: 1000 }, log, ...o,
});

beforeAll(async () => {
  dg = await startDeepgramEmulator();
  el = await startElevenLabsEmulator({ knobs: { firstByteMs: 5, msPerChar: 0 } });
});
afterAll(async () => {
  await dg.close();
  await el.close();
});

/** A pool whose dials are recorded, so tests can tell a handed-over warm socket from a fresh dial. */
function recordingPool(size: number, o: Partial<DeepgramSttOptions> = {}, retryMs = 1000) {
  const stt = createDeepgramStt(sttOpts(o));
  const dialed: DeepgramConnection[] = [];
  const pool = new WarmPool<DeepgramConnection>({
    name: 'stt:test', size, log, retryMs,
    dial: async (s) => {
      const c = await stt.connect(s);
      dialed.push(c);
      return c;
    },
  });
  return { pool, dialed };
}

describe('WarmPool', () => {
  it('keeps N open sockets ready, hands one over without dialing, and refills in the background', async () => {
    const { pool, dialed } = recordingPool(2);
    await pool.warmed();
    expect(dialed).toHaveLength(2);
    const got = await pool.acquire();
    expect(dialed.slice(0, 2)).toContain(got);
    expect(got.isOpen).toBe(true);
    await pool.warmed();
    expect(dialed).toHaveLength(3);
    expect(pool.readyCount).toBe(2);
    got.close();
    pool.close();
  });

  it('replaces an idle socket the vendor dropped', async () => {
    dg.setKnobs({ noAudioTimeoutMs: 300 });
    try {
      // keep-alive off, so the emulator drops the idle sockets (1011 NET-0001) and the pool must redial
      const { pool, dialed } = recordingPool(1, { keepAliveMs: 60_000 });
      await waitFor('a replacement dial', () => dialed.length >= 3, 5000);
      expect(dialed[0]!.isOpen).toBe(false);
      dg.setKnobs({ noAudioTimeoutMs: undefined });
      await pool.warmed();
      const got = await pool.acquire();
      expect(got.isOpen).toBe(true);
      got.close();
      pool.close();
    } finally {
      dg.setKnobs({ noAudioTimeoutMs: undefined });
    }
  });

  it('backs off after failed dials and fills once the vendor accepts again', async () => {
    dg.setKnobs({ httpError: { status: 503, count: 2 } });
    const { pool } = recordingPool(1, {}, 30);
    await pool.warmed(5000);
    expect(pool.readyCount).toBe(1);
    pool.close();
  });

  it('dials on acquire when nothing is ready (size 0); close() closes idle sockets only and refuses acquire', async () => {
    const { pool: cold, dialed } = recordingPool(0);
    const c = await cold.acquire();
    expect(dialed).toEqual([c]);
    c.close();
    cold.close();

    const { pool, dialed: warm } = recordingPool(2);
    await pool.warmed();
    const inCall = await pool.acquire();
    pool.close();
    await Promise.all(warm.filter((s) => s !== inCall).map((s) => s.closed));
    expect(inCall.isOpen).toBe(true); // shutting the pool down never cuts a call that holds a socket
    inCall.close();
    await Promise.all(warm.map((s) => s.closed));
    expect(warm.every((s) => !s.isOpen)).toBe(true);
    await expect(pool.acquire()).rejects.toThrow(/closed/);
  });
});

describe('WarmPools keyed by connection options', () => {
  it('gives agents with different endpointing their own pools and shares one between identical options', async () => {
    const pools = new WarmPools<DeepgramConnection>({ size: 1, log });
    const balanced = createDeepgramStt(sttOpts({ profile: { endpointingMs: 500, utteranceEndMs: 1000 } }));
    const aggressive = createDeepgramStt(sttOpts({ profile: { endpointingMs: 300, utteranceEndMs: 1000 } }));
    const balancedAgain = createDeepgramStt(sttOpts({ profile: { endpointingMs: 500, utteranceEndMs: 1000 } }));
    expect(balanced.key).not.toBe(aggressive.key);
    expect(balancedAgain.key).toBe(balanced.key);
    const a = pools.pool(balanced.key, (s) => balanced.connect(s));
    const b = pools.pool(aggressive.key, (s) => aggressive.connect(s));
    expect(pools.pool(balancedAgain.key, (s) => balancedAgain.connect(s))).toBe(a);
    expect(b).not.toBe(a);
    await a.warmed();
    await b.warmed();
    pools.close();
  });

  it('hands a call an already-open ElevenLabs socket that speaks at once', async () => {
    const pools = new WarmPools<TtsConnection>({ size: 1, log });
    const tts = createElevenLabsTts({ apiKey: 'xi', url: el.url, voiceId: 'v1', model: 'eleven_flash_v2_5', log });
    expect(tts.key).not.toMatch(/xi/); // the key never carries the API key
    await pools.pool(tts.key, (s) => tts.connect(s)).warmed();
    const conn = await pools.acquire(tts.key, (s) => tts.connect(s));
    expect(conn.isOpen).toBe(true);
    const t = controlled<string>();
    const out = collect(conn.synthesize(t.stream, new AbortController().signal));
    t.push('Hi!');
    t.end();
    await out.finished;
    expect(decodeToneText(new Uint8Array(Buffer.concat(out.items.map((c) => Buffer.from(c.audio)))))).toBe('hi! ');
    conn.close();
    pools.close();
  });
});
