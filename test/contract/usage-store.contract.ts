// The UsageStore contract: one suite, run against MemoryUsageStore (unit project) and PgUsageStore on the
// real PostgreSQL clusters (integration project). Each case uses its own topic and tags.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS, type UsageEvent, type UsageStore } from '../../adapters/analytics/port.ts';
import { classify } from '../../lib/classify.ts';

export interface UsageStoreHarness {
  store: UsageStore;
  /** A store whose server is unreachable (classified retry), when the implementation has one. */
  unreachable?: () => Promise<UsageStore> | UsageStore;
  close(): Promise<void>;
}

let seq = 0;
const unique = (p: string) => `${p}${process.pid}x${Date.now().toString(36)}x${++seq}`;
const H0 = 1_700_000_000_000 - (1_700_000_000_000 % HOUR_MS);

export function usageStoreContract(name: string, make: () => Promise<UsageStoreHarness>): void {
  describe(`UsageStore contract: ${name}`, () => {
    let h: UsageStoreHarness;
    beforeAll(async () => {
      h = await make();
      await h.store.migrate();
      await h.store.migrate(); // idempotent
    }, 60_000);
    afterAll(async () => h?.close());

    const ev = (topic: string, tag: string, hour: number, op: 'attach' | 'detach', partition: number, offset: number): UsageEvent => ({ topic, tag, hour, op, partition, offset: String(offset) });

    it('rolls up attaches and detaches per tag per hour', async () => {
      const topic = unique('t');
      const [a, b] = [unique('tagA'), unique('tagB')];
      const r = await h.store.record([ev(topic, a, H0, 'attach', 0, 1), ev(topic, a, H0, 'attach', 0, 2), ev(topic, a, H0, 'detach', 1, 1), ev(topic, a, H0 + HOUR_MS, 'attach', 1, 2), ev(topic, b, H0, 'detach', 2, 9)]);
      expect(r).toMatchObject({ counted: 5, duplicates: 0 });
      expect(await h.store.usage({ tag: a })).toEqual([
        { tag: a, hour: H0, attaches: 2, detaches: 1 },
        { tag: a, hour: H0 + HOUR_MS, attaches: 1, detaches: 0 },
      ]);
      expect(await h.store.usage({ tag: b })).toEqual([{ tag: b, hour: H0, attaches: 0, detaches: 1 }]);
      expect(await h.store.usage({ tag: a, from: H0 + HOUR_MS })).toEqual([{ tag: a, hour: H0 + HOUR_MS, attaches: 1, detaches: 0 }]);
      expect(await h.store.usage({ tag: a, to: H0 + HOUR_MS })).toEqual([{ tag: a, hour: H0, attaches: 2, detaches: 1 }]);
    });

    it('counts a position once: re-recording, repeats within a call and replays change nothing', async () => {
      const topic = unique('t');
      const tag = unique('tag');
      const batch = [ev(topic, tag, H0, 'attach', 0, 10), ev(topic, tag, H0, 'attach', 0, 11), ev(topic, tag, H0, 'detach', 3, 10)];
      expect(await h.store.record(batch)).toMatchObject({ counted: 3, duplicates: 0 });
      expect(await h.store.record(batch)).toMatchObject({ counted: 0, duplicates: 3 });
      expect(await h.store.record([batch[0]!, batch[0]!, ev(topic, tag, H0, 'attach', 0, 12)])).toMatchObject({ counted: 1, duplicates: 2 });
      // The same position on another topic is another command.
      expect(await h.store.record([{ ...batch[0]!, topic: unique('other') }])).toMatchObject({ counted: 1, duplicates: 0 });
      expect(await h.store.usage({ tag })).toEqual([{ tag, hour: H0, attaches: 4, detaches: 1 }]);
    });

    it('concurrent writers of overlapping batches count every position exactly once', async () => {
      const topic = unique('t');
      const tag = unique('tag');
      const all = Array.from({ length: 200 }, (_, i) => ev(topic, tag, H0 + (i % 3) * HOUR_MS, i % 4 === 0 ? 'detach' : 'attach', i % 4, i));
      await Promise.all([h.store.record(all.slice(0, 150)), h.store.record(all.slice(50)), h.store.record(all.slice(25, 175)), h.store.record(all)]);
      const rows = await h.store.usage({ tag });
      expect(rows.reduce((n, r) => n + r.attaches + r.detaches, 0)).toBe(200);
      expect(rows.reduce((n, r) => n + r.detaches, 0)).toBe(50);
    });

    it('prunes remembered positions older than a bound (bounded storage)', async () => {
      const topic = unique('t');
      const tag = unique('tag');
      await h.store.record([ev(topic, tag, H0, 'attach', 0, 1)]);
      expect(await h.store.prune(Date.now() + 60_000)).toBeGreaterThanOrEqual(1);
      // Forgotten: the same position now counts again (why pruning only goes back a week).
      expect(await h.store.record([ev(topic, tag, H0, 'attach', 0, 1)])).toMatchObject({ counted: 1, duplicates: 0 });
    });

    it('an unreachable store fails with an error classified retry', async () => {
      if (!h.unreachable) return;
      const s = await h.unreachable();
      try {
        const err = await s.record([ev(unique('t'), unique('tag'), H0, 'attach', 0, 1)]).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toMatchObject({ name: 'BackendError' }); // classified at the store's boundary
        expect(classify(err).class).toBe('retry');
      } finally {
        await s.close();
      }
    });
  });
}
