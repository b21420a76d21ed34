import { describe, expect, it } from 'vitest';
import type { ShardStore } from '../../../adapters/pg/port.ts';
import { ReplicationWatcher } from '../../../actors/shard-writer/replication-watcher.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';

describe('ReplicationWatcher', () => {
  it('survives its waiters being drained by a topology change while it awaits a replica check', async () => {
    const clock = new SimulatedClock();
    let release!: (v: boolean) => void;
    const store = { replicatedTo: () => new Promise<boolean>((r) => (release = r)) } as unknown as ShardStore;
    const w = new ReplicationWatcher(store, { clock, logger: silentLogger() });
    const a = w.waitFor('0/10', 0).catch((e: unknown) => e);
    const b = w.waitFor('0/20', 0).catch((e: unknown) => e);
    w.topologyChanged(); // drains both waiters
    release(false); // the in-flight check answers after the drain
    await new Promise((r) => setImmediate(r));
    expect(await a).toMatchObject({ code: 'TS_ERR_TOPOLOGY_CHANGED' });
    expect(await b).toMatchObject({ code: 'TS_ERR_TOPOLOGY_CHANGED' });
    // Still works afterwards, on the new epoch.
    const c = w.waitFor('0/30', 1);
    release(true);
    await expect(c).resolves.toBeUndefined();
  });

  it('an answer about the old primary, arriving after a topology change, releases no waiter of the new epoch', async () => {
    const clock = new SimulatedClock();
    const checks: Array<{ lsn: string; answer: (v: boolean) => void }> = [];
    const store = { replicatedTo: (lsn: string) => new Promise<boolean>((r) => checks.push({ lsn, answer: r })) } as unknown as ShardStore;
    const w = new ReplicationWatcher(store, { clock, logger: silentLogger() });
    const old = w.waitFor('0/50', 0).catch((e: unknown) => e);
    w.topologyChanged();
    let released = false;
    void w.waitFor('0/10', 1).then(() => (released = true));
    checks.shift()!.answer(true); // "0/50 is replicated" — on the old primary's replicas
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(released).toBe(false);
    expect(await old).toMatchObject({ code: 'TS_ERR_TOPOLOGY_CHANGED' });
    // The next check is about the new epoch's waiter and does release it.
    clock.increment(100);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const next = checks.shift()!;
    expect(next.lsn).toBe('0/10');
    next.answer(true);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(released).toBe(true);
  });

  it('with a confirmation required (Patroni mode), a replicated LSN counts only once the leader is confirmed after it', async () => {
    const clock = new SimulatedClock(1_000);
    const w = new ReplicationWatcher({ replicatedTo: async () => true } as unknown as ShardStore, { clock, logger: silentLogger() });
    const asked: number[] = [];
    let confirm!: (v: boolean) => void;
    w.requireConfirmation((since) => {
      asked.push(since);
      return new Promise<boolean>((r) => (confirm = r));
    });
    let released = false;
    void w.waitFor('0/10', 0).then(() => (released = true));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(asked).toEqual([1_000]);
    confirm(false); // the leader changed (or could not be seen): not proven
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(released).toBe(false);
    clock.increment(100);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    confirm(true);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(released).toBe(true);
  });

  it('rejects an LSN from before a topology change at once', async () => {
    const w = new ReplicationWatcher({ replicatedTo: async () => true } as unknown as ShardStore, { clock: new SimulatedClock(), logger: silentLogger() });
    w.topologyChanged();
    await expect(w.waitFor('0/1', 0)).rejects.toMatchObject({ code: 'TS_ERR_TOPOLOGY_CHANGED' });
  });
});
