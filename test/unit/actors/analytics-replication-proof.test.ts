// The analytics sink commits only after a replica holds its counts at their (timeline, LSN) (issue 14, part 4).
import { describe, expect, it } from 'vitest';
import type { RecordResult, UsageStore } from '../../../adapters/analytics/index.ts';
import type { ReplicatedOptions, ShardStore } from '../../../adapters/pg/port.ts';
import { createAnalyticsTarget } from '../../../actors/analytics/analytics-target.ts';
import { createReplicationProof } from '../../../actors/analytics/replication-proof.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { classify } from '../../../lib/classify.ts';

const event = { tag: 't', hour: 0, op: 'attach' as const, topic: 'x', partition: 0, offset: '1' };

function usage(commits: RecordResult['commits']): UsageStore {
  return { record: async () => ({ counted: 1, duplicates: 0, commits }) } as unknown as UsageStore;
}

describe('analytics replication proof', () => {
  it('write() resolves only once every cluster it wrote to has a replica at the commit (timeline, LSN)', async () => {
    const clock = new SimulatedClock();
    const asked: Array<[string, string, ReplicatedOptions | undefined]> = [];
    let replicated = false;
    const store = (name: string) => ({ replicatedTo: async (lsn: string, o?: ReplicatedOptions) => (asked.push([name, lsn, o]), replicated) }) as unknown as ShardStore;
    const stores = new Map([['pg0', store('pg0')], ['pg1', store('pg1')]]);
    const target = createAnalyticsTarget({ store: usage([{ cluster: 'pg0', lsn: '0/10', timeline: 3 }, { cluster: 'pg1', lsn: '0/20', timeline: 1 }]), limits: {} as never, replicated: createReplicationProof({ stores, clock, timeoutMs: 1_000 }) });
    let done = false;
    const p = target.write([event], new AbortController().signal).then((r) => ((done = true), r));
    for (let i = 0; i < 3; i++) {
      clock.increment(10);
      await new Promise((r) => setImmediate(r));
    }
    expect(done).toBe(false);
    expect(asked).toContainEqual(['pg0', '0/10', { timeline: 3 }]);
    expect(asked).toContainEqual(['pg1', '0/20', { timeline: 1 }]);
    replicated = true;
    for (let i = 0; i < 5 && !done; i++) {
      clock.increment(50);
      await new Promise((r) => setImmediate(r));
    }
    expect(await p).toEqual([{ status: 'ok' }]);
  });

  it('no replica in time: a retriable error (the sink retries; the store re-counts nothing it already has)', async () => {
    const clock = new SimulatedClock();
    const stores = new Map([['pg0', { replicatedTo: async () => false } as unknown as ShardStore]]);
    const target = createAnalyticsTarget({ store: usage([{ cluster: 'pg0', lsn: '0/10', timeline: 2 }]), limits: {} as never, replicated: createReplicationProof({ stores, clock, timeoutMs: 100 }) });
    const p = target.write([event], new AbortController().signal).catch((e: unknown) => e);
    for (let i = 0; i < 20; i++) {
      clock.increment(20);
      await new Promise((r) => setImmediate(r));
    }
    const err = await p;
    expect(err).toMatchObject({ code: 'TS_ERR_TIMEOUT', retriable: true });
    expect(classify(err).class).toBe('retry');
  });

  it('a store without commit positions (the embedded one) is not held', async () => {
    const target = createAnalyticsTarget({ store: usage(undefined), limits: {} as never, replicated: async () => Promise.reject(new Error('not asked')) });
    expect(await target.write([event], new AbortController().signal)).toEqual([{ status: 'ok' }]);
  });
});
