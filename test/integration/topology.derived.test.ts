// Issue 14 on real PostgreSQL: routing is derived from what the nodes say. A replica promoted by hand, the old
// primary started again on its old timeline: a store started while it was down, and one started after it came
// back, route no read to it and list it as diverged; a write it takes is never proven by the new primary's
// replicas ((timeline, LSN)); a frozen old primary does not hold up start-up or migration.
import { afterAll, describe, expect, it } from 'vitest';
import { createShardStores } from '../../adapters/pg/index.ts';
import type { AssocWrite, ShardStore } from '../../adapters/pg/port.ts';
import { silentLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { localConfig, uniqueName } from '../support/local.ts';

const PROBE_TIMEOUT_MS = 1_000;
const config = localConfig({ failover: { probeTimeoutMs: PROBE_TIMEOUT_MS } });
const [n0, n1, n2] = [{ cluster: 0, node: 0 }, { cluster: 0, node: 1 }, { cluster: 0, node: 2 }] as const;
const opened: Array<Map<string, ShardStore>> = [];

async function store(): Promise<ShardStore> {
  const stores = await createShardStores(config, silentLogger());
  opened.push(stores);
  return stores.get('pg0')!;
}

const prefix = `${uniqueName('derived')}-`;
let offset = 0;
const write = (entity: string): AssocWrite => ({ shard: 0, entity: `${prefix}${entity}`, tag: 't', attached: true, partition: 0, offset: String(++offset), at: Date.now() });

async function servedBy(s: ShardStore, entity: string, n = 30): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < n; i++) out.add((await s.entityTags(0, `${prefix}${entity}`)).servedBy);
  return out;
}

afterAll(async () => {
  services.contNode(config, n0);
  for (const stores of opened) for (const s of stores.values()) await s.close().catch(() => undefined);
  await services.resetCluster(config, 0);
}, 300_000);

describe('topology derived from the cluster (real PostgreSQL)', () => {
  it('an old primary back on its old timeline is never read, is listed as diverged, and its writes are never proven; a frozen one does not hold up start-up', async () => {
    await services.resetCluster(config, 0);
    const a = await store(); // the daemon that was running all along (and never reroutes in this test)
    await a.discoverPrimary();
    await a.migrate();
    const w1 = await a.applyBatch([write('before')]);
    expect(w1.commitTimeline).toBeGreaterThan(0);
    const tl1 = w1.commitTimeline!;
    await expect.poll(() => a.replicatedTo(w1.commitLsn, { timeline: tl1 }), { timeout: 10_000 }).toBe(true);

    // The primary dies; a replica is promoted by hand and the other one repointed at it.
    await services.killNode(config, n0);
    await services.promote(config, n1);
    await services.repointReplica(config, n2, 1);

    // A daemon started while the old primary is down.
    const b = await store();
    expect(await b.discoverPrimary()).toMatchObject({ primary: 'pg0-n1' });
    await b.migrate();
    const w2 = await b.applyBatch([write('after')]);
    expect(w2.commitTimeline).toBe(tl1 + 1);
    await expect.poll(() => b.replicatedTo(w2.commitLsn, { timeline: w2.commitTimeline! }), { timeout: 10_000 }).toBe(true);

    // The old primary's host reboots: it comes back writable, on its old timeline.
    await services.startNode(config, n0);
    await b.probe(); // one monitor round
    expect(b.routing()).toMatchObject({ primary: 'pg0-n1', timeline: tl1 + 1, readable: ['pg0-n2'], diverged: ['pg0-n0'] });
    expect([...(await servedBy(b, 'before'))].filter((n) => n === 'pg0-n0')).toEqual([]);

    // A daemon started after it came back fences it at once.
    const c = await store();
    expect(await c.discoverPrimary()).toEqual({ primary: 'pg0-n1', replicas: ['pg0-n2'], fenced: ['pg0-n0'] });
    expect(await servedBy(c, 'after')).not.toContain('pg0-n0');

    // The daemon that never noticed still writes to the old primary: that write exists only there, on the old
    // timeline, and no replica proves it — whatever LSN the new primary's replica replays.
    const lost = await a.applyBatch([write('lost')]);
    expect(lost.commitTimeline).toBe(tl1);
    await b.applyBatch(Array.from({ length: 200 }, (_, i) => write(`pad-${i}`)));
    for (let i = 0; i < 10; i++) expect(await a.replicatedTo(lost.commitLsn, { timeline: lost.commitTimeline! })).toBe(false);
    // …and the old daemon's own probe round sees it as out of routing too.
    await a.probe();
    expect(a.routing()).toMatchObject({ primary: 'pg0-n1', diverged: ['pg0-n0'] });

    // Frozen (SIGSTOP) old primary: a daemon starting now is not held up by it.
    services.stopNode(config, n0);
    const d = await store();
    const t0 = Date.now();
    expect(await d.discoverPrimary()).toMatchObject({ primary: 'pg0-n1' });
    await d.migrate();
    expect(Date.now() - t0).toBeLessThan(4 * PROBE_TIMEOUT_MS + 2_000);
    expect(d.routing()?.unreachable).toEqual(['pg0-n0']);
    services.contNode(config, n0);
  }, 240_000);
});
