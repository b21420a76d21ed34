import { describe, expect, it } from 'vitest';
import { SimulatedClock, sleep } from '../../../lib/clock.ts';

describe('SimulatedClock', () => {
  it('fires timers in due order as time moves', () => {
    const clock = new SimulatedClock(1_000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    const c = clock.setTimeout(() => fired.push('c'), 15);
    clock.clearTimeout(c);
    clock.increment(15);
    expect(fired).toEqual(['a']);
    clock.increment(5);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(1_020);
  });

  it('fires timers armed by a firing timer when they are due', () => {
    const clock = new SimulatedClock();
    const at: number[] = [];
    clock.setTimeout(() => {
      at.push(clock.now());
      clock.setTimeout(() => at.push(clock.now()), 5);
    }, 5);
    clock.increment(10);
    expect(at).toEqual([5, 10]);
  });

  it('sleep is abortable: shutdown never waits out a backoff', async () => {
    const clock = new SimulatedClock();
    const ac = new AbortController();
    const p = sleep(clock, 60_000, ac.signal);
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(clock.pending()).toBe(0);
  });

  it('sleep resolves when the clock reaches the deadline', async () => {
    const clock = new SimulatedClock();
    const p = sleep(clock, 100);
    clock.increment(100);
    await expect(p).resolves.toBeUndefined();
  });
});
