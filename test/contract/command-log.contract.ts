// The CommandLog contract: one suite, run against MemoryCommandLog (unit project) and KafkaCommandLog
// (integration project), so the stand-in cannot drift from Kafka. Waiting goes through the harness:
// the stand-in drains and advances simulated time, the real one polls with a bound.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandLog, LogBatch, LogRecord, SubscribeOptions, Subscription } from '../../adapters/kafka/port.ts';
import { classify } from '../../lib/classify.ts';
import { uniqueName } from '../support/local.ts';

export interface CommandLogHarness {
  log: CommandLog;
  /** Resolves once `pred()` holds; fails with `what` after a bounded wait. */
  eventually(pred: () => boolean | Promise<boolean>, what: string): Promise<void>;
  /** Lets deliveries that are going to happen happen (drain + a little time), to assert that others did not. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Kafka's default partitioner for N=8, computed once with the Java client's murmur2. */
export const PARTITIONS_OF_8: Record<string, number> = {
  'entity-0': 7,
  'entity-1': 0,
  'bug-123': 0,
  'bug-124': 1,
  'user:alice': 4,
  'user:bob': 7,
  '42': 4,
  'ü✓日本': 1,
  a: 4,
};

class Collector {
  readonly batches: LogBatch[] = [];
  fail: ((b: LogBatch) => boolean) | null = null;
  readonly eachBatch = async (b: LogBatch): Promise<void> => {
    if (this.fail?.(b)) throw new Error(`injected handler failure at ${b.topic}[${b.partition}]@${b.records[0]?.offset}`);
    this.batches.push(b);
  };
  records(partition?: number): LogRecord[] {
    return this.batches.flatMap((b) => b.records).filter((r) => partition === undefined || r.partition === partition);
  }
  values(partition?: number): Array<string | null> {
    return this.records(partition).map((r) => r.value);
  }
}

export function commandLogContract(name: string, make: () => Promise<CommandLogHarness>): void {
  describe(`CommandLog contract: ${name}`, () => {
    let h: CommandLogHarness;
    let log: CommandLog;
    const subs: Subscription[] = [];

    beforeEach(async () => {
      h = await make();
      log = h.log;
    });
    afterEach(async () => {
      await Promise.all(subs.splice(0).map((s) => s.stop().catch(() => undefined)));
      await h.close();
    });

    async function topic(partitions: number): Promise<string> {
      const t = uniqueName('contract-topic');
      await log.ensureTopic(t, partitions);
      return t;
    }
    async function subscribe(opts: Omit<SubscribeOptions, 'eachBatch'> & { eachBatch: SubscribeOptions['eachBatch'] }): Promise<Subscription> {
      const s = await log.subscribe(opts);
      subs.push(s);
      return s;
    }

    it('creates topics idempotently and reports partitions and empty end offsets', async () => {
      const t = await topic(3);
      await log.ensureTopic(t, 3);
      expect(await log.partitionCount(t)).toBe(3);
      expect([...(await log.endOffsets(t)).entries()].sort()).toEqual([[0, '0'], [1, '0'], [2, '0']]);
    });

    it('appends in order per partition and reports each offset', async () => {
      const t = await topic(2);
      const res = await log.produce(t, [
        { key: null, value: 'a', partition: 1 },
        { key: null, value: 'b', partition: 0 },
        { key: null, value: 'c', partition: 1 },
      ]);
      expect(res).toEqual([
        { topic: t, partition: 1, offset: '0' },
        { topic: t, partition: 0, offset: '0' },
        { topic: t, partition: 1, offset: '1' },
      ]);
      const more = await log.produce(t, [{ key: null, value: 'd', partition: 1 }]);
      expect(more).toEqual([{ topic: t, partition: 1, offset: '2' }]);
      expect(Object.fromEntries(await log.endOffsets(t))).toEqual({ 0: '1', 1: '3' });
    });

    it('many sends at once (HTTP writes) each get the positions of their own messages, in call order per partition', async () => {
      const t = await topic(2);
      const sends = Array.from({ length: 60 }, (_, i) => log.produce(t, Array.from({ length: (i % 3) + 1 }, (_, k) => ({ key: `k${i}`, value: `v${i}.${k}`, partition: i % 2 }))));
      const results = await Promise.all(sends);
      for (const p of [0, 1]) {
        const mine = results.flatMap((r, i) => (i % 2 === p ? r.map((x, k) => ({ ...x, value: `v${i}.${k}` })) : []));
        expect(mine.map((x) => Number(x.offset))).toEqual(mine.map((_, j) => j)); // contiguous, in call order
        const stored = await log.read(t, p, '0', 1_000);
        expect(stored.map((r) => [r.offset, r.value])).toEqual(mine.map((x) => [x.offset, x.value]));
      }
      expect(results.every((r, i) => r.length === (i % 3) + 1 && r.every((x) => x.topic === t && x.partition === i % 2))).toBe(true);
    });

    it('places keys with Kafka’s default partitioner (fixed table for 8 partitions)', async () => {
      const t = await topic(8);
      const keys = Object.keys(PARTITIONS_OF_8);
      const res = await log.produce(t, keys.map((key) => ({ key, value: key })));
      expect(Object.fromEntries(keys.map((k, i) => [k, res[i]!.partition]))).toEqual(PARTITIONS_OF_8);
      const again = await log.produce(t, [{ key: 'bug-123', value: 'x' }]);
      expect(again[0]!.partition).toBe(PARTITIONS_OF_8['bug-123']);
    });

    it('reads a range of one partition without a group, with keys, values and headers', async () => {
      const t = await topic(2);
      await log.produce(t, [0, 1, 2, 3, 4].map((i) => ({ key: `k${i}`, value: `v${i}`, headers: { h: `x${i}` }, partition: 1 })));
      const got = await log.read(t, 1, '1', 3);
      expect(got.map((r) => [r.partition, r.offset, r.key, r.value, r.headers.h])).toEqual([
        [1, '1', 'k1', 'v1', 'x1'],
        [1, '2', 'k2', 'v2', 'x2'],
        [1, '3', 'k3', 'v3', 'x3'],
      ]);
      expect(got[0]!.topic).toBe(t);
      expect(got[0]!.timestamp).toBeGreaterThan(0);
      expect((await log.read(t, 1, '3', 10)).map((r) => r.value)).toEqual(['v3', 'v4']);
      expect(await log.read(t, 1, '5', 10)).toEqual([]);
      expect(await log.read(t, 0, '0', 10)).toEqual([]);
      expect(await log.committed(uniqueName('nobody'), t)).toEqual(new Map());
    });

    it('rejects a produce to a topic that does not exist, as a retriable error', async () => {
      const err = await log.produce(uniqueName('missing'), [{ key: 'k', value: 'v' }]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: 'BackendError' }); // classified at the log's boundary
      expect(classify(err).class).toBe('retry');
    });

    it('delivers every record in order per partition and commits nothing by itself', async () => {
      const t = await topic(3);
      const c = new Collector();
      const group = uniqueName('g');
      await subscribe({ groupId: group, topics: [t], fromBeginning: true, eachBatch: c.eachBatch });
      for (let round = 0; round < 3; round++) {
        await log.produce(t, [0, 1, 2].flatMap((p) => [0, 1, 2, 3].map((i) => ({ key: null, value: `p${p}-${round * 4 + i}`, partition: p }))));
      }
      await h.eventually(() => c.records().length === 36, 'all 36 records delivered');
      for (const p of [0, 1, 2]) {
        expect(c.values(p)).toEqual(Array.from({ length: 12 }, (_, i) => `p${p}-${i}`));
        expect(c.records(p).map((r) => r.offset)).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
      }
      for (const b of c.batches) expect(BigInt(b.highWatermark)).toBeGreaterThan(BigInt(b.records[b.records.length - 1]!.offset));
      expect(c.batches.every((b) => b.topic === t && b.records.every((r) => r.partition === b.partition))).toBe(true);
      expect(await log.committed(group, t)).toEqual(new Map());
    });

    it('commits explicitly, and a restarted member resumes from the committed offsets', async () => {
      const t = await topic(2);
      const group = uniqueName('g');
      await log.produce(t, [0, 1, 2, 3, 4].flatMap((i) => [0, 1].map((p) => ({ key: null, value: `p${p}-${i}`, partition: p }))));
      const first = new Collector();
      const s1 = await subscribe({ groupId: group, topics: [t], fromBeginning: true, eachBatch: first.eachBatch });
      await h.eventually(() => first.records().length === 10, 'first member read everything');
      await s1.commit([
        { topic: t, partition: 0, offset: '3' },
        { topic: t, partition: 1, offset: '5' },
      ]);
      expect(Object.fromEntries(await log.committed(group, t))).toEqual({ 0: '3', 1: '5' });
      await s1.stop();
      await expect(s1.commit([{ topic: t, partition: 0, offset: '4' }])).rejects.toThrow();

      await log.produce(t, [{ key: null, value: 'p1-5', partition: 1 }]);
      const second = new Collector();
      await subscribe({ groupId: group, topics: [t], fromBeginning: true, eachBatch: second.eachBatch });
      await h.eventually(() => second.records().length === 3, 'second member resumed');
      expect(second.values(0)).toEqual(['p0-3', 'p0-4']);
      expect(second.values(1)).toEqual(['p1-5']);
    });

    it('starts a new group at the end when fromBeginning is false', async () => {
      const t = await topic(1);
      await log.produce(t, [{ key: null, value: 'old', partition: 0 }]);
      const c = new Collector();
      await subscribe({ groupId: uniqueName('g'), topics: [t], fromBeginning: false, eachBatch: c.eachBatch });
      await log.produce(t, [{ key: null, value: 'new', partition: 0 }]);
      await h.eventually(() => c.records().length >= 1, 'the new record delivered');
      await h.settle();
      expect(c.values()).toEqual(['new']);
    });

    it('re-delivers from a seek position', async () => {
      const t = await topic(2);
      await log.produce(t, [0, 1, 2].map((i) => ({ key: null, value: `v${i}`, partition: 0 })));
      const c = new Collector();
      const s = await subscribe({ groupId: uniqueName('g'), topics: [t], fromBeginning: true, eachBatch: c.eachBatch });
      await h.eventually(() => c.records().length === 3, 'first pass');
      s.seek(t, 0, '1');
      await h.eventually(() => c.records().length === 5, 'second pass from offset 1');
      expect(c.values(0)).toEqual(['v0', 'v1', 'v2', 'v1', 'v2']);
    });

    it('a seek made while a batch is in the handler wins over that batch', async () => {
      const t = await topic(1);
      await log.produce(t, [0, 1, 2].map((i) => ({ key: null, value: `v${i}`, partition: 0 })));
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let first = true;
      const seen: Array<string | null> = [];
      const s = await subscribe({
        groupId: uniqueName('g'),
        topics: [t],
        fromBeginning: true,
        eachBatch: async (b) => {
          seen.push(...b.records.map((r) => r.value));
          if (first) {
            first = false;
            await held; // the ingest rewinds while a batch of this partition is still being handled
          }
        },
      });
      try {
        await h.eventually(() => seen.length > 0, 'the first batch in the handler');
        s.seek(t, 0, '0');
      } finally {
        release();
      }
      const firstPass = seen.length;
      await h.eventually(() => seen.length >= firstPass + 3, 'the partition delivered again from the seek position');
      await h.settle();
      expect(seen.slice(firstPass)).toEqual(['v0', 'v1', 'v2']);
    });

    it('stops delivering a paused partition and restarts on resume', async () => {
      const t = await topic(2);
      const c = new Collector();
      const s = await subscribe({ groupId: uniqueName('g'), topics: [t], fromBeginning: true, eachBatch: c.eachBatch });
      s.pause(t, [0]);
      expect(s.paused()).toEqual([{ topic: t, partition: 0 }]);
      await log.produce(t, [
        { key: null, value: 'held', partition: 0 },
        { key: null, value: 'flows', partition: 1 },
      ]);
      await h.eventually(() => c.values(1).includes('flows'), 'the unpaused partition delivers');
      await h.settle();
      expect(c.values(0)).toEqual([]);
      s.resume(t, [0]);
      expect(s.paused()).toEqual([]);
      await h.eventually(() => c.values(0).length === 1, 'the resumed partition delivers');
      expect(c.values(0)).toEqual(['held']);
    });

    it('delivers a batch again when the handler throws, and commits nothing', async () => {
      const t = await topic(1);
      const group = uniqueName('g');
      const c = new Collector();
      let failures = 0;
      c.fail = () => failures++ < 2;
      await subscribe({ groupId: group, topics: [t], fromBeginning: true, eachBatch: c.eachBatch });
      await log.produce(t, [{ key: null, value: 'a', partition: 0 }, { key: null, value: 'b', partition: 0 }]);
      await h.eventually(() => c.records().length >= 2, 'delivered after two failures');
      expect(failures).toBeGreaterThanOrEqual(3);
      expect(c.values()).toEqual(['a', 'b']);
      await log.produce(t, [{ key: null, value: 'c', partition: 0 }]);
      await h.eventually(() => c.records().length === 3, 'later records flow again');
      expect(await log.committed(group, t)).toEqual(new Map());
    });

    it('splits the partitions of a group among its members and rebalances when one leaves', async () => {
      const t = await topic(4);
      const group = uniqueName('g');
      const a = new Collector();
      const b = new Collector();
      let assignedA: number[] = [];
      let assignedB: number[] = [];
      const sa = await subscribe({ groupId: group, topics: [t], fromBeginning: true, eachBatch: a.eachBatch, onAssign: (x) => (assignedA = x.map((p) => p.partition).sort()) });
      await subscribe({ groupId: group, topics: [t], fromBeginning: true, eachBatch: b.eachBatch, onAssign: (x) => (assignedB = x.map((p) => p.partition).sort()) });
      await h.eventually(() => assignedA.length === 2 && assignedB.length === 2, 'two partitions each');
      expect([...assignedA, ...assignedB].sort()).toEqual([0, 1, 2, 3]);

      await log.produce(t, [0, 1, 2, 3].map((p) => ({ key: null, value: `first-${p}`, partition: p })));
      await h.eventually(() => a.records().length + b.records().length >= 4, 'each record delivered');
      expect(new Set(a.records().map((r) => r.partition))).toEqual(new Set(assignedA));
      expect(new Set(b.records().map((r) => r.partition))).toEqual(new Set(assignedB));

      await sa.stop();
      await h.eventually(() => assignedB.length === 4, 'the remaining member owns every partition');
      await log.produce(t, [0, 1, 2, 3].map((p) => ({ key: null, value: `second-${p}`, partition: p })));
      await h.eventually(() => [0, 1, 2, 3].every((p) => b.values(p).includes(`second-${p}`)), 'the remaining member reads all');
    });
  });
}
