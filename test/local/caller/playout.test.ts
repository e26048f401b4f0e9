// Pins the caller's model of Twilio's playout buffer: drift-free drain at 8000 bytes/s, mark echo timing, clear.
import { describe, expect, it } from 'vitest';
import { Playout } from '../../../local/caller/playout';

function recorder() {
  const events: { kind: string; at: number; name?: string; bytes?: number }[] = [];
  const playout = new Playout({
    played: (bytes, at) => events.push({ kind: 'played', at, bytes: bytes.length }),
    mark: (name, at) => events.push({ kind: 'mark', at, name }),
    drained: (at) => events.push({ kind: 'drained', at }),
    cleared: (at, dropped) => events.push({ kind: 'cleared', at, bytes: dropped }),
  });
  const played = () => events.filter((e) => e.kind === 'played').reduce((n, e) => n + e.bytes!, 0);
  return { events, playout, played };
}

describe('playout model', () => {
  it('drains 8 bytes per ms however irregular the advances, without drift', () => {
    const { playout, played } = recorder();
    playout.pushAudio(new Uint8Array(80_000), 0);
    for (let t = 0; t <= 5000; t += 7.3) playout.advance(t);
    playout.advance(5000);
    expect(played()).toBe(40_000);
    expect(playout.queuedBytes).toBe(40_000);
  });

  it('echoes a mark when the audio queued before it has played', () => {
    const { playout, events } = recorder();
    playout.pushAudio(new Uint8Array(1600), 0);
    playout.pushMark('a', 0);
    playout.pushAudio(new Uint8Array(800), 0);
    playout.pushMark('b', 0);
    playout.advance(199);
    expect(events.filter((e) => e.kind === 'mark')).toEqual([]);
    playout.advance(400);
    expect(events.filter((e) => e.kind === 'mark')).toEqual([
      { kind: 'mark', at: 200, name: 'a' },
      { kind: 'mark', at: 300, name: 'b' },
    ]);
    expect(events.find((e) => e.kind === 'drained')!.at).toBe(300);
  });

  it('echoes a mark at once when nothing is queued, and starts late audio when it arrives', () => {
    const { playout, events } = recorder();
    playout.pushMark('now', 50);
    expect(events).toEqual([{ kind: 'mark', at: 50, name: 'now' }]);
    playout.pushAudio(new Uint8Array(160), 1000);
    playout.advance(1030);
    expect(events.find((e) => e.kind === 'played')).toEqual({ kind: 'played', at: 1000, bytes: 160 });
  });

  it('clear drops the queued audio and echoes every pending mark in order', () => {
    const { playout, events, played } = recorder();
    playout.pushAudio(new Uint8Array(1600), 0);
    playout.pushMark('x', 0);
    playout.pushAudio(new Uint8Array(1600), 0);
    playout.pushMark('y', 0);
    playout.clear(100);
    expect(played()).toBe(800);
    expect(events.slice(-3)).toEqual([
      { kind: 'cleared', at: 100, bytes: 2400 },
      { kind: 'mark', at: 100, name: 'x' },
      { kind: 'mark', at: 100, name: 'y' },
    ]);
    expect(playout.idle).toBe(true);
    playout.advance(1000);
    expect(played()).toBe(800);
  });
});
