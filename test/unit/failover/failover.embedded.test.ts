// Automated failover on the embedded profile: the monitor sees a dead primary, promotes a replica, reroutes
// the writers and the ingest carries on; the final state matches the log exactly. The tests share one daemon
// (pg0 is the failover's, pg1 the switchover's) and hold in any order (vitest --sequence.shuffle).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MemoryCommandLog } from '../../../adapters/kafka/memory-command-log.ts';
import type { PgliteShardStore } from '../../../adapters/pg/pglite-shard-store.ts';
import { clusterOfShard } from '../../../actors/tree.ts';
import { loadConfig } from '../../../config/index.ts';
import { startDaemon, type Daemon } from '../../../daemon.ts';
import { failoverFeature } from '../../../features/failover/index.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { compareWithModel } from '../../support/db-state.ts';
import { allSettled } from '../../support/settled.ts';
import { commandStream, expectedState, type ModelRecord } from '../../support/reference-model.ts';
import { failoverKey } from '../../../features/keys.ts';

const config = loadConfig({ env: {}, overrides: { http: { port: 0 }, shards: { count: 8 }, kafka: { partitions: 4 }, writer: { batchSize: 100, batchWindowMs: 5 }, failover: { probeIntervalMs: 50, probeTimeoutMs: 200, suspectAfterMisses: 3 } } });
let d: Daemon;

beforeAll(async () => {
  d = await startDaemon(config, { listen: false, logger: silentLogger(), features: [failoverFeature] });
}, 60_000);
afterAll(async () => d?.stop());

async function readAll(): Promise<ModelRecord[]> {
  const out: ModelRecord[] = [];
  for (const [p, end] of await d.log.endOffsets(config.kafka.topic)) out.push(...(await d.log.read(config.kafka.topic, p, '0', Number(end))));
  return out;
}
/** Offsets committed and holds drained: a cluster failing over is held, its commands applied from its hold topic. */
function allCommitted(): Promise<boolean> {
  return allSettled(d.log, { topic: config.kafka.topic, groupId: config.kafka.groupId, clusters: d.stores.keys() });
}

describe('failover (embedded)', () => {
  it('promotes a replica when the primary dies, reroutes, and loses nothing', async () => {
    const failover = d.context.features.api(failoverKey)!;
    const log = d.log as MemoryCommandLog;
    await log.produce(config.kafka.topic, commandStream(600, 31, { prefix: 'fo-' }));
    await vi.waitFor(async () => expect(await allCommitted()).toBe(true), { timeout: 20_000, interval: 20 });

    const store = d.stores.get('pg0') as PgliteShardStore;
    expect(store.topology().primary).toBe('pg0-n0');
    const pg1Before = failover.monitors.get('pg1')!.status().lastFailover;
    await d.context.faults.get('kill-primary:pg0')!.inject();
    const during = log.produce(config.kafka.topic, commandStream(600, 32, { prefix: 'fo-' }));
    await vi.waitFor(() => expect(failover.monitors.get('pg0')!.status().lastFailover).not.toBeNull(), { timeout: 20_000, interval: 20 });
    await during;
    const status = failover.monitors.get('pg0')!.status();
    expect(status.topology.primary).not.toBe('pg0-n0');
    expect(status.topology.fenced).toContain('pg0-n0');
    expect(store.topology()).toEqual(status.topology);
    expect(store.embedded.connections('pg0-n0')).toBe(0); // fenced: no pool of ours stays open on it
    expect(failover.monitors.get('pg1')!.status().lastFailover).toEqual(pg1Before); // the other cluster did not fail over

    await log.produce(config.kafka.topic, commandStream(300, 33, { prefix: 'fo-' }));
    await vi.waitFor(async () => expect(await allCommitted()).toBe(true), { timeout: 30_000, interval: 20 });
    const drift = await compareWithModel(d.stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expectedState((await readAll()).filter((r) => r.key?.startsWith('fo-'))), 'fo-');
    expect(drift).toEqual({ missing: [], extra: [], wrong: [], wrongCounts: [] });

    const metrics = await d.metrics.registry.getSingleMetricAsString('tagstream_failovers_total');
    expect(metrics).toMatch(/cluster="pg0"/);
    // /status shows the cluster's topology and its last failover.
    const body = (await d.app.inject({ method: 'GET', url: '/status' })).json();
    expect(body.topology.pg0.fenced).toContain('pg0-n0');
    expect(body.failover.pg0.lastFailover).toMatchObject({ cluster: 'pg0', from: 'pg0-n0' });
  }, 90_000);
});

describe('switchover, re-seed and adopt (embedded)', () => {
  it('a planned switchover under ingest promotes the chosen replica, fences the old primary, and loses nothing; a re-seed over the admin API makes the old primary a replica again that serves reads', async () => {
    const failover = d.context.features.api(failoverKey)!;
    const log = d.log as MemoryCommandLog;
    const store = d.stores.get('pg1') as PgliteShardStore;
    const during = log.produce(config.kafka.topic, commandStream(600, 41, { prefix: 'sw-' }));
    const r = await failover.switchover('pg1', { target: 'pg1-n2' });
    await during;
    expect(r).toEqual({ cluster: 'pg1', from: 'pg1-n0', to: 'pg1-n2' });
    expect(store.topology()).toEqual({ primary: 'pg1-n2', replicas: ['pg1-n1'], fenced: ['pg1-n0'] });
    expect(store.embedded.roleOf('pg1-n0')).toBe('replica'); // fenced read-only before the promotion
    expect(failover.monitors.get('pg1')!.status().lastFailover).toMatchObject({ reason: 'switchover', from: 'pg1-n0', to: 'pg1-n2' });
    expect((await d.app.inject({ method: 'GET', url: '/status' })).json().failover.pg1.lastFailover).toMatchObject({ reason: 'switchover' });
    await log.produce(config.kafka.topic, commandStream(200, 42, { prefix: 'sw-' }));
    await vi.waitFor(async () => expect(await allCommitted()).toBe(true), { timeout: 30_000, interval: 20 });
    const drift = await compareWithModel(d.stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expectedState((await readAll()).filter((r) => r.key?.startsWith('sw-'))), 'sw-');
    expect(drift).toEqual({ missing: [], extra: [], wrong: [], wrongCounts: [] });
    expect(await d.metrics.registry.getSingleMetricAsString('tagstream_failovers_total')).toMatch(/cluster="pg1",outcome="switchover"/);

    // Re-seed: refused without the admin token and for the primary; then the old primary serves reads again.
    const url = '/admin/reseed/pg1/pg1-n0';
    expect((await d.app.inject({ method: 'POST', url })).statusCode).toBe(401);
    const primary = await d.app.inject({ method: 'POST', url: '/admin/reseed/pg1/pg1-n2', headers: { authorization: `Bearer ${config.http.adminToken}` } });
    expect(primary.statusCode).toBe(400);
    const reseed = await d.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${config.http.adminToken}` } });
    expect(reseed.statusCode).toBe(200);
    expect(reseed.json()).toMatchObject({ cluster: 'pg1', node: 'pg1-n0', primary: 'pg1-n2', done: true, method: 'embedded', topology: { primary: 'pg1-n2', replicas: ['pg1-n1', 'pg1-n0'], fenced: [] } });
    expect(store.topology().fenced).toEqual([]);
    const servedBy = new Set<string>();
    for (let i = 0; i < 6; i++) servedBy.add((await store.entityTags(0, 'sw-e1')).servedBy);
    expect(servedBy.has('pg1-n0')).toBe(true);
    const status = await d.app.inject({ method: 'GET', url: '/admin/failover', headers: { authorization: `Bearer ${config.http.adminToken}` } });
    expect(status.json().clusters.pg1).toMatchObject({ mode: 'builtin', state: 'healthy', diverged: [] });
  }, 90_000);

  it('refuses a switchover to a node that is not a replica, and one of an unknown cluster', async () => {
    const failover = d.context.features.api(failoverKey)!;
    const primary = d.stores.get('pg1')!.topology().primary; // whichever it is now: the test runs in any order
    await expect(failover.switchover('pg1', { target: primary })).rejects.toMatchObject({ code: 'TS_ERR_BAD_REQUEST' });
    await expect(failover.switchover('pg9')).rejects.toMatchObject({ code: 'TS_ERR_NOT_FOUND' });
  });
});
