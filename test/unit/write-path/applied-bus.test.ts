// The bus behind `?wait=applied`: a waiter hears its position whether it registered before or shortly after the
// shard writer applied it; the memory of recent positions is bounded and forgets the oldest first.
import { describe, expect, it } from 'vitest';
import { AppliedBus } from '../../../actors/applied-bus.ts';
import type { Applied } from '../../../actors/shard-writer/messages.ts';
import { SimulatedClock } from '../../../lib/clock.ts';

const applied = (lsn: string): Applied => ({ shard: 1, cluster: 'c0', commitLsn: lsn, changed: true });

describe('AppliedBus', () => {
  it('resolves a waiter registered before the application, and one registered after it', async () => {
    const bus = new AppliedBus(new SimulatedClock(), 10);
    bus.expect();
    const early = bus.wait(0, '5', 1_000);
    bus.applied(0, '5', applied('0/1'));
    await expect(early).resolves.toEqual(applied('0/1'));
    await expect(bus.wait(0, '5', 1_000)).resolves.toEqual(applied('0/1'));
    expect(bus.count).toBe(1);
    expect(bus.byCluster.get('c0')).toBe(1);
  });

  it('remembers the newest `capacity` positions and forgets the oldest first (a late waiter then times out)', async () => {
    const clock = new SimulatedClock();
    const bus = new AppliedBus(clock, 3);
    bus.expect();
    for (let o = 0; o < 5; o++) bus.applied(0, String(o), applied(`0/${o}`));
    for (const o of [2, 3, 4]) await expect(bus.wait(0, String(o), 100)).resolves.toEqual(applied(`0/${o}`));
    const forgotten = [bus.wait(0, '0', 100), bus.wait(0, '1', 100)];
    clock.increment(100);
    await expect(Promise.all(forgotten)).resolves.toEqual([null, null]);
  });

  it('a position applied again (a replay) is remembered once and still evicted in order', async () => {
    const clock = new SimulatedClock();
    const bus = new AppliedBus(clock, 2);
    bus.expect();
    bus.applied(0, '1', applied('0/1'));
    bus.applied(0, '1', applied('0/1b'));
    bus.applied(0, '2', applied('0/2'));
    await expect(bus.wait(0, '1', 100)).resolves.toEqual(applied('0/1b'));
    bus.applied(0, '3', applied('0/3'));
    const gone = bus.wait(0, '1', 100);
    clock.increment(100);
    await expect(gone).resolves.toBeNull();
    await expect(bus.wait(0, '2', 100)).resolves.toEqual(applied('0/2'));
    await expect(bus.wait(0, '3', 100)).resolves.toEqual(applied('0/3'));
  });

  it('keeps working over many times its capacity (the eviction is a ring, not a scan of the map)', async () => {
    const bus = new AppliedBus(new SimulatedClock(), 100);
    bus.expect();
    for (let o = 0; o < 100_000; o++) bus.applied(o % 16, String(o), applied('0/0'));
    await expect(bus.wait(99_999 % 16, '99999', 1)).resolves.toEqual(applied('0/0'));
    expect(bus.remembered).toBe(100);
  });

  it('remembers nothing while no writer expects an application, and stops again once every one released', async () => {
    const clock = new SimulatedClock();
    const bus = new AppliedBus(clock, 10);
    bus.applied(0, '1', applied('0/1'));
    expect(bus.remembered).toBe(0);
    const release = bus.expect();
    bus.applied(0, '2', applied('0/2'));
    release();
    release(); // twice is once
    bus.applied(0, '3', applied('0/3'));
    expect(bus.remembered).toBe(1);
    await expect(bus.wait(0, '2', 100)).resolves.toEqual(applied('0/2'));
    const late = bus.wait(0, '3', 100);
    bus.applied(0, '3', applied('0/3')); // a waiter that registered first still hears it
    await expect(late).resolves.toEqual(applied('0/3'));
    expect(bus.count).toBe(4);
  });
});

describe('AppliedBus.wait with a signal', () => {
  it('an abort resolves null at once and drops the waiter; an application after it reaches nobody', async () => {
    const clock = new SimulatedClock(0);
    const bus = new AppliedBus(clock);
    const stop = new AbortController();
    const w = bus.wait(1, '7', 60_000, stop.signal);
    expect(bus.waiting).toBe(1);
    stop.abort();
    await expect(w).resolves.toBeNull();
    expect(bus.waiting).toBe(0);
    expect(clock.pending()).toBe(0);
    bus.applied(1, '7', { shard: 0, cluster: 'pg0', commitLsn: '0/1', changed: true });
    await expect(bus.wait(1, '7', 10, AbortSignal.abort())).resolves.toBeNull();
  });
});
