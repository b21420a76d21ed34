// One contract for every CacheStore: the embedded MemoryCacheStore (project unit) and the real
// RedisCacheStore (project integration). Keys are unique per test, so a shared Redis needs no flush.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CacheStore } from '../../adapters/redis/port.ts';
import { classify } from '../../lib/classify.ts';

export interface CacheStoreHarness {
  store: CacheStore;
  /** Lets `ms` of time pass for TTLs (simulated clock, or a real wait against a real server). */
  advance(ms: number): Promise<void>;
  dispose(): Promise<void>;
}

let seq = 0;

export function cacheStoreContract(name: string, make: () => Promise<CacheStoreHarness>): void {
  describe(`CacheStore contract: ${name}`, () => {
    let h: CacheStoreHarness;
    let store: CacheStore;
    let key: (s?: string) => string;

    beforeEach(async () => {
      h = await make();
      store = h.store;
      const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}-${++seq}`;
      key = (s = 'k') => `test:${run}:${s}`;
    });
    afterEach(async () => {
      await h.dispose();
    });

    it('get of a missing key is null; set then get returns the value; set overwrites', async () => {
      expect(await store.get(key())).toBeNull();
      await store.set(key(), 'v1', 60);
      expect(await store.get(key())).toBe('v1');
      await store.set(key(), 'v2 ✓ "quoted" ünï', 60);
      expect(await store.get(key())).toBe('v2 ✓ "quoted" ünï');
    });

    it('a key expires after its TTL', async () => {
      await store.set(key('short'), 'x', 1);
      await store.set(key('long'), 'y', 60);
      expect(await store.get(key('short'))).toBe('x');
      await h.advance(1_100);
      expect(await store.get(key('short'))).toBeNull();
      expect(await store.get(key('long'))).toBe('y');
    });

    it('set rejects a TTL that is not positive, as an error reply (poison)', async () => {
      const err = await store.set(key(), 'x', 0).then(
        () => null,
        (e: unknown) => e,
      );
      expect(classify(err).class).toBe('poison');
      expect(await store.get(key())).toBeNull();
    });

    it('mget answers in key order with null for missing keys; mget of nothing is []', async () => {
      await store.set(key('a'), '1', 60);
      await store.set(key('c'), '3', 60);
      expect(await store.mget([key('a'), key('b'), key('c'), key('a')])).toEqual(['1', null, '3', '1']);
      expect(await store.mget([])).toEqual([]);
    });

    it('mgets asked for at once each answer their own keys, in their order (shared and repeated keys too)', async () => {
      await store.set(key('a'), '1', 60);
      await store.set(key('b'), '2', 60);
      await store.set(key('c'), '3', 60);
      const asks = [[key('a'), key('b')], [key('c'), key('a'), key('x')], [key('b'), key('b')], [key('y')], [key('c')]];
      const answers = await Promise.all(asks.map((keys) => store.mget(keys)));
      expect(answers).toEqual([['1', '2'], ['3', '1', null], ['2', '2'], [null], ['3']]);
    });

    it('del removes keys and counts those that existed', async () => {
      await store.set(key('a'), '1', 60);
      await store.set(key('b'), '2', 60);
      expect(await store.del([key('a'), key('b'), key('missing')])).toBe(2);
      expect(await store.mget([key('a'), key('b')])).toEqual([null, null]);
      expect(await store.del([key('a')])).toBe(0);
      expect(await store.del([])).toBe(0);
    });

    it('incr counts from 1, continues from a numeric value, and keeps the TTL', async () => {
      expect(await store.incr(key('n'))).toBe(1);
      expect(await store.incr(key('n'))).toBe(2);
      expect(await store.get(key('n'))).toBe('2');
      await store.set(key('m'), '41', 1);
      expect(await store.incr(key('m'))).toBe(42);
      await h.advance(1_100);
      expect(await store.get(key('m'))).toBeNull();
    });

    it('incr of a non-integer value rejects as an error reply (poison) and leaves the value', async () => {
      await store.set(key('s'), 'not a number', 60);
      const err = await store.incr(key('s')).then(
        () => null,
        (e: unknown) => e,
      );
      // Classified at the store's boundary; the driver's reply is the cause, its message kept.
      expect(err).toMatchObject({ name: 'BackendError', message: expect.stringMatching(/^ERR /), cause: expect.objectContaining({ name: 'ReplyError' }) });
      expect(classify(err)).toEqual({ class: 'poison', source: 'redis:ERR' });
      expect(await store.get(key('s'))).toBe('not a number');
    });

    it('ping resolves', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('has the configured name', () => {
      expect(store.name).toMatch(/\S/);
    });
  });
}
