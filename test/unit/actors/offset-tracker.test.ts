import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionTracker } from '../../../actors/ingest/offset-tracker.ts';

describe('PartitionTracker', () => {
  it('commits only past records that are all done', () => {
    const t = new PartitionTracker(10n);
    expect(t.committable()).toBe(10n);
    for (const o of [10n, 11n, 12n, 15n]) t.track(o);
    t.done(11n);
    expect(t.committable()).toBe(10n); // 10 is not done: nothing moves
    t.done(10n);
    expect(t.committable()).toBe(12n);
    t.done(15n);
    expect(t.committable()).toBe(12n);
    t.done(12n);
    expect(t.committable()).toBe(16n);
    expect(t.inFlight()).toBe(0);
  });

  it('settle takes the handle track returned: it survives the compaction of settled records, and twice is once', () => {
    const t = new PartitionTracker(0n);
    const entries = Array.from({ length: 5_000 }, (_, i) => t.track(BigInt(i * 2)));
    for (let i = 0; i < 3_000; i++) t.settle(entries[i]!); // the head passes 1,024 twice: settled records are dropped
    expect(t.committable()).toBe(6_000n);
    t.settle(entries[4_999]!);
    t.settle(entries[4_999]!);
    expect(t.inFlight()).toBe(1_999);
    for (let i = 3_000; i < 4_999; i++) t.settle(entries[i]!);
    expect(t.inFlight()).toBe(0);
    expect(t.committable()).toBe(9_999n);
  });

  it('rejects out-of-order tracking', () => {
    const t = new PartitionTracker(0n);
    t.track(5n);
    expect(() => t.track(5n)).toThrow(/out of order/);
  });

  it('property: the committable offset never passes a record that is not done', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 300 }), fc.array(fc.nat(), { maxLength: 300 }), (gaps, order) => {
        const t = new PartitionTracker(0n);
        const offsets: bigint[] = [];
        let o = 0n;
        for (const g of gaps) {
          o += BigInt(g);
          offsets.push(o);
          t.track(o);
        }
        const remaining = [...offsets];
        const done = new Set<bigint>();
        for (const k of order) {
          if (remaining.length === 0) break;
          const [x] = remaining.splice(k % remaining.length, 1);
          t.done(x!);
          done.add(x!);
          const c = t.committable();
          for (const y of offsets) if (y < c) expect(done.has(y)).toBe(true);
          const firstUndone = offsets.find((y) => !done.has(y));
          expect(c).toBe(firstUndone ?? offsets[offsets.length - 1]! + 1n);
        }
      }),
    );
  });
});
