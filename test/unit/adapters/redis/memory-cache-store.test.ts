// MemoryCacheStore beyond the contract: its faults, on simulated time.
import { describe, expect, it } from 'vitest';
import { MemoryCacheStore } from '../../../../adapters/redis/memory-cache-store.ts';
import { reconnectDelay } from '../../../../adapters/redis/redis-cache-store.ts';
import { classify } from '../../../../lib/classify.ts';
import { SimulatedClock } from '../../../../lib/clock.ts';

function setup(maxKeys?: number) {
  const clock = new SimulatedClock(1_000);
  const store = new MemoryCacheStore({ name: 'redis0', clock, commandTimeoutMs: 250, maxKeys });
  return { clock, store };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('MemoryCacheStore faults', () => {
  it('unavailable: every call rejects at once with a retry-class error; data survives the outage', async () => {
    const { store } = setup();
    await store.set('k', 'v', 60);
    store.setAvailable(false);
    for (const call of [() => store.get('k'), () => store.mget(['k']), () => store.set('k', 'x', 1), () => store.del(['k']), () => store.incr('n'), () => store.ping()]) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(classify(err).class).toBe('retry');
    }
    store.setAvailable(true);
    expect(await store.get('k')).toBe('v');
  });

  it('frozen: calls hang until the command timeout on the clock, then reject as retry', async () => {
    const { clock, store } = setup();
    store.freeze();
    let outcome: unknown = 'pending';
    store.get('k').then(
      (v) => (outcome = v),
      (e: unknown) => (outcome = e),
    );
    clock.increment(249);
    await settle();
    expect(outcome).toBe('pending');
    clock.increment(1);
    await settle();
    expect(outcome).toMatchObject({ message: 'Command timed out' });
    expect(classify(outcome).class).toBe('retry');
    expect(clock.pending()).toBe(0);
  });

  it('thaw answers the calls still waiting, in order, and cancels their timers', async () => {
    const { clock, store } = setup();
    store.freeze();
    const incr1 = store.incr('n');
    const incr2 = store.incr('n');
    clock.increment(100);
    store.thaw();
    expect(await Promise.all([incr1, incr2])).toEqual([1, 2]);
    expect(clock.pending()).toBe(0);
    expect(await store.get('n')).toBe('2');
  });

  it('going unavailable while frozen fails the waiting calls with a connection error', async () => {
    const { store } = setup();
    store.freeze();
    const p = store.get('k');
    store.setAvailable(false);
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(classify(err).class).toBe('retry');
  });

  it('flushAll empties the store (a restart without persistence)', async () => {
    const { store } = setup();
    await store.set('a', '1', 60);
    store.flushAll();
    expect(await store.get('a')).toBeNull();
  });

  it('close fails pending and later calls', async () => {
    const { store } = setup();
    store.freeze();
    const p = store.get('a');
    await store.close();
    await expect(p).rejects.toThrow(/Connection is closed/);
    await expect(store.ping()).rejects.toThrow(/Connection is closed/);
  });
});

describe('MemoryCacheStore semantics', () => {
  it('ttl follows Redis: seconds left, -1 without expiry, -2 when missing', async () => {
    const { clock, store } = setup();
    await store.set('a', '1', 10);
    await store.incr('n');
    expect(store.ttl('a')).toBe(10);
    clock.increment(2_500);
    expect(store.ttl('a')).toBe(8);
    expect(store.ttl('n')).toBe(-1);
    expect(store.ttl('zzz')).toBe(-2);
  });

  it('evicts the oldest-written keys past maxKeys', async () => {
    const { store } = setup(3);
    for (const k of ['a', 'b', 'c']) await store.set(k, k, 60);
    await store.set('a', 'a2', 60); // rewritten: now the newest
    await store.set('d', 'd', 60);
    expect(await store.mget(['a', 'b', 'c', 'd'])).toEqual(['a2', null, 'c', 'd']);
    expect(store.size()).toBe(3);
  });

  it('expired keys are swept, not only hidden', async () => {
    const { clock, store } = setup();
    for (let i = 0; i < 10; i++) await store.set(`old${i}`, 'x', 1);
    clock.increment(2_000);
    for (let i = 0; i < 1_100; i++) await store.set(`new${i % 20}`, 'y', 60);
    expect(store.size()).toBe(20);
  });

  it('incr refuses values beyond a signed 64-bit integer', async () => {
    const { store } = setup();
    await store.set('big', '9223372036854775807', 60);
    await expect(store.incr('big')).rejects.toMatchObject({ name: 'BackendError', source: 'redis:ERR', cause: expect.objectContaining({ name: 'ReplyError' }) });
    await store.set('neg', '-5', 60);
    expect(await store.incr('neg')).toBe(-4);
    await store.set('lead', '007', 60);
    await expect(store.incr('lead')).rejects.toMatchObject({ name: 'BackendError', source: 'redis:ERR', cause: expect.objectContaining({ name: 'ReplyError' }) });
  });
});

describe('reconnectDelay', () => {
  it('doubles from 50 ms and is capped', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((t) => reconnectDelay(t, 2_000))).toEqual([50, 100, 200, 400, 800, 1_600, 2_000]);
    expect(reconnectDelay(10_000, 2_000)).toBe(2_000);
  });
});
