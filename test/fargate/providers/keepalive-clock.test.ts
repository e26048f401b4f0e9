// The shared keep-alive clock: one timer per period for every vendor socket.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { onKeepAliveTick } from '../../../fargate/src/providers/keepalive-clock';

afterEach(() => vi.useRealTimers());

describe('shared keep-alive clock', () => {
  it('runs every registered check on one timer per period, and stops a check that left', () => {
    vi.useFakeTimers();
    const ran: string[] = [];
    const stopA = onKeepAliveTick(1000, () => ran.push('a'));
    const stopB = onKeepAliveTick(1000, () => ran.push('b'));
    const stopFast = onKeepAliveTick(100, () => ran.push('fast'));
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(1000);
    expect(ran.filter((r) => r !== 'fast')).toEqual(['a', 'b']);
    expect(ran.filter((r) => r === 'fast')).toHaveLength(10);
    stopA();
    stopA(); // twice: harmless
    ran.length = 0;
    vi.advanceTimersByTime(1000);
    expect(ran.filter((r) => r !== 'fast')).toEqual(['b']);
    stopB();
    stopFast();
    expect(vi.getTimerCount()).toBe(0);
  });
});
