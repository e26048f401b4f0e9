// CallInputs' one clock: a single `tick` event at the turn detector's next deadline (real timers), re-armed, cancelled, or polled when a tick left it in the past.
import { afterEach, describe, expect, it } from 'vitest';
import { CallInputs, type CallEvent } from '../../../fargate/src/call/inputs';

const log = { warn: () => undefined };
let open: CallInputs[] = [];
afterEach(() => {
  for (const i of open) i.close();
  open = [];
});

/** A fresh CallInputs and the ticks it emits, with their arrival times. */
function inputs() {
  const i = new CallInputs(Date.now, log);
  open.push(i);
  const ticks: number[] = [];
  void (async () => {
    for await (const ev of i.events as AsyncIterable<CallEvent>) if (ev.kind === 'tick') ticks.push(Date.now());
  })();
  return { i, ticks };
}
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CallInputs.tickAt', () => {
  it('emits one tick at the deadline, not before, and none after it', async () => {
    const { i, ticks } = inputs();
    const at = Date.now() + 60;
    i.tickAt(at, false);
    i.tickAt(at, false); // re-armed after another event, same deadline: still one tick
    await wait(30);
    expect(ticks).toEqual([]);
    await wait(150);
    expect(ticks).toHaveLength(1);
    expect(ticks[0]!).toBeGreaterThanOrEqual(at - 2);
  });

  it('moves the tick when the deadline moves, and cancels it when there is none', async () => {
    const { i, ticks } = inputs();
    i.tickAt(Date.now() + 40, false);
    const later = Date.now() + 120;
    i.tickAt(later, false);
    await wait(80);
    expect(ticks).toEqual([]);
    await wait(100);
    expect(ticks).toHaveLength(1);
    expect(ticks[0]!).toBeGreaterThanOrEqual(later - 2);
    i.tickAt(Date.now() + 30, false);
    i.tickAt(undefined, false);
    await wait(100);
    expect(ticks).toHaveLength(1);
  });

  it('ticks at once for a deadline already passed, but polls every 50 ms one that a tick left in the past', async () => {
    const { i, ticks } = inputs();
    const start = Date.now();
    i.tickAt(start - 10, false);
    await wait(20); // timers fire in due order: the 0 ms tick comes before this wait ends, a 50 ms poll would not
    expect(ticks).toHaveLength(1);
    const afterTick = Date.now();
    i.tickAt(start - 10, true);
    await wait(25);
    expect(ticks).toHaveLength(1);
    await wait(100);
    expect(ticks).toHaveLength(2);
    expect(ticks[1]! - afterTick).toBeGreaterThanOrEqual(48);
  });

  it('stops the clock on close', async () => {
    const { i, ticks } = inputs();
    i.tickAt(Date.now() + 30, false);
    i.close();
    await wait(80);
    expect(ticks).toEqual([]);
  });
});
