// ReplicationWatcher with (timeline, LSN) proofs: the writer's commit timeline reaches the store's check, and a
// proof on one timeline releases no waiter of another.
import { describe, expect, it } from 'vitest';
import type { ReplicatedOptions, ShardStore } from '../../../adapters/pg/port.ts';
import { ReplicationWatcher } from '../../../actors/shard-writer/replication-watcher.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { lsnToBigInt } from '../../../lib/lsn.ts';
import { silentLogger } from '../../../lib/logger.ts';

const tick = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('ReplicationWatcher (timeline, LSN)', () => {
  it('asks the store with the commit timeline, and releases only waiters of the proven timeline', async () => {
    const clock = new SimulatedClock();
    const asked: Array<{ lsn: string; opts: ReplicatedOptions | undefined }> = [];
    // Replicas replayed up to 0/100 on timeline 2 only.
    const store = {
      replicatedTo: async (lsn: string, opts?: ReplicatedOptions) => {
        asked.push({ lsn, opts });
        return opts?.timeline === 2 && lsnToBigInt(lsn) <= lsnToBigInt('0/100');
      },
    } as unknown as ShardStore;
    const w = new ReplicationWatcher(store, { clock, logger: silentLogger() });
    let onNew = false;
    let onOld = false;
    void w.waitFor('0/50', 0, 2).then(() => (onNew = true));
    void w.waitFor('0/40', 0, 1).then(() => (onOld = true), () => undefined);
    await tick();
    expect(onNew).toBe(true);
    expect(onOld).toBe(false);
    expect(asked.some((a) => a.opts?.timeline === 2)).toBe(true);
    // A later waiter below the confirmed LSN but on the old timeline is not released by the timeline-2 proof.
    let late = false;
    void w.waitFor('0/10', 0, 1).then(() => (late = true), () => undefined);
    for (let i = 0; i < 10; i++) {
      clock.increment(100);
      await tick();
    }
    expect(late).toBe(false);
    expect(onOld).toBe(false);
    // Without a timeline (a writer that could not tell), a bare-LSN check is asked, as before.
    asked.length = 0;
    void w.waitFor('0/60', 0).catch(() => undefined);
    clock.increment(100);
    await tick();
    expect(asked.some((a) => a.lsn === '0/60' && a.opts === undefined)).toBe(true);
    w.stop(new Error('end'));
  });
});
