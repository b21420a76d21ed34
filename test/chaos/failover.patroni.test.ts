// Issue 5, Patroni mode, on real Patroni 3.0 + etcd 3.4 (services/patroni): the cluster `pgp` (members pgp-n0..n2,
// the daemon's node names) is managed by Patroni; tagstream never promotes it, it follows /cluster. Beside it,
// pg1 is promoted by tagstream itself (per-cluster failover mode) and must keep applying throughout.
// Under steady ingest with a reference model of the log:
//  (a) the leader dies (its PostgreSQL and its Patroni): Patroni promotes, we follow, nothing is lost;
//  (b) only the leader's Patroni dies: Patroni elects a new leader while the old PostgreSQL still accepts
//      writes (split brain, no watchdog); we stop writing to the old node as soon as the leader changes,
//      and nothing is lost (offsets wait for the leader's word, so writes a deposed leader took are replayed).
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import { clusterOfShard } from '../../actors/tree.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { failoverFeature } from '../../features/failover/index.ts';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { compareWithModel, type Drift } from '../support/db-state.ts';
import { steadyLoad } from '../support/ingest-load.ts';
import { localConfig, uniqueName } from '../support/local.ts';
import { expectedState, type ModelRecord } from '../support/reference-model.ts';
import { failoverKey } from '../../features/keys.ts';

const NO_DRIFT: Drift = { missing: [], extra: [], wrong: [], wrongCounts: [] };
const base = localConfig();
let d: Daemon | undefined;

function configFor(topic: string) {
  return localConfig({
    http: { port: 0 },
    shards: { count: 8 },
    kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-w`, partitions: 4 },
    writer: { batchSize: 200, batchWindowMs: 10, mailboxCapacity: 2_000 },
    failover: { probeIntervalMs: 500, probeTimeoutMs: 1_000, suspectAfterMisses: 3 },
    postgres: { statementTimeoutMs: 2_000, clusters: [base.postgres.clusters[1]!, services.patroniClusterConfig(base)] },
  });
}

async function start(topic: string) {
  const config = configFor(topic);
  await services.resetCluster(config, 1);
  mkdirSync('artifacts', { recursive: true });
  const logger = createLogger({ level: 'warn', destination: createWriteStream(`artifacts/${topic}.log`) });
  d = await startDaemon(config, { logger, features: [failoverFeature] });
  return { d, failover: d.context.features.api(failoverKey)! };
}

async function readAll(d: Daemon, topic: string): Promise<ModelRecord[]> {
  const out: ModelRecord[] = [];
  for (const [p, end] of await d.log.endOffsets(topic)) out.push(...(await d.log.read(topic, p, '0', Number(end))));
  return out;
}

/** Waits until the databases hold exactly what the log says (polling the state, bounded). */
async function converged(d: Daemon, topic: string, prefix: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const drift = await compareWithModel(d.stores.values(), d.config.shards.count, (s) => clusterOfShard(d.config, s), expectedState(await readAll(d, topic)), prefix);
      expect(drift).toEqual(NO_DRIFT);
    },
    { timeout: 120_000, interval: 1_000 },
  );
}

/** Samples pg1's applied count while `during` runs: its writers must never stall for long. */
async function watchOtherCluster(d: Daemon, during: () => Promise<void>): Promise<number> {
  let longestGapMs = 0;
  let last = d.tree.applied.byCluster.get('pg1') ?? 0;
  let lastMove = Date.now();
  let done = false;
  const sampler = (async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, 100));
      const now = d.tree.applied.byCluster.get('pg1') ?? 0;
      if (now > last) {
        longestGapMs = Math.max(longestGapMs, Date.now() - lastMove);
        last = now;
        lastMove = Date.now();
      }
    }
  })();
  await during();
  done = true;
  await sampler;
  return longestGapMs;
}

/** Every write of ours to a node shows here: rows, their versions (log offsets) and last update. */
async function fingerprint(port: number, prefix: string): Promise<{ rows: string; versions: string; sessions: string; primary: boolean }> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'tagstream', connectionTimeoutMillis: 2_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const r = await c.query<{ rows: string; versions: string }>('SELECT count(*)::text AS rows, coalesce(sum(kafka_offset), 0)::text AS versions FROM tag_assoc WHERE entity LIKE $1', [`${prefix}%`]);
    const s = await c.query<{ n: string; recovery: boolean }>("SELECT count(*)::text AS n, pg_is_in_recovery() AS recovery FROM pg_stat_activity WHERE application_name = 'tagstream-pgp'");
    return { ...r.rows[0]!, sessions: s.rows[0]!.n, primary: !s.rows[0]!.recovery };
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  await services.ensurePatroniCluster(base);
}, 300_000);

afterEach(async () => {
  await d?.stop();
  d = undefined;
}, 60_000);

afterAll(async () => {
  // Leave nothing of Patroni or etcd running behind us.
  await services.stopPatroniCluster(base);
  expect((await services.servicesStatus(base)).filter((s) => s.kind === 'patroni' && s.state !== 'down')).toEqual([]);
}, 120_000);

describe('Patroni mode under steady ingest (real Patroni + etcd, PostgreSQL, Kafka)', () => {
  it('the leader dies (PostgreSQL and Patroni): Patroni promotes, tagstream follows, nothing is lost', async () => {
    await services.ensurePatroniCluster(base);
    const topic = uniqueName('fo-patroni-kill');
    const prefix = `${topic}-`;
    const { d, failover } = await start(topic);
    const load = steadyLoad(d.log, topic, { prefix, seed: 11 });
    await vi.waitFor(() => expect(d.tree.applied.byCluster.get('pgp') ?? 0).toBeGreaterThan(300), { timeout: 30_000 });
    const gap = await watchOtherCluster(d, async () => {
      await services.killPatroniMember(base, 0);
      await vi.waitFor(() => expect(failover.monitors.get('pgp')!.status().lastFailover).not.toBeNull(), { timeout: 60_000, interval: 100 });
      const before = d.tree.applied.byCluster.get('pgp') ?? 0;
      await vi.waitFor(() => expect(d.tree.applied.byCluster.get('pgp') ?? 0).toBeGreaterThan(before + 100), { timeout: 30_000, interval: 100 });
    });
    await load.stop();
    const s = failover.monitors.get('pgp')!.status();
    expect(s.lastFailover).toMatchObject({ reason: 'leader-changed', from: 'pgp-n0' });
    expect(s.topology.primary).toBe(await services.patroniLeader(base));
    expect(s.topology.fenced).toContain('pgp-n0');
    await converged(d, topic, prefix);
    expect(gap).toBeLessThan(2_000);
    expect(failover.monitors.get('pg1')!.status().lastFailover).toBeNull();
  }, 300_000);

  it('only the leader’s Patroni dies: no write of ours reaches the old node once the leader changed, and nothing is lost', async () => {
    await services.ensurePatroniCluster(base);
    const topic = uniqueName('fo-patroni-split');
    const prefix = `${topic}-`;
    const { d, failover } = await start(topic);
    const old = services.patroniNodeInfo(base, 0);
    const load = steadyLoad(d.log, topic, { prefix, seed: 12 });
    await vi.waitFor(() => expect(d.tree.applied.byCluster.get('pgp') ?? 0).toBeGreaterThan(300), { timeout: 30_000 });
    await services.killPatroniProcess(base, 0);
    // Patroni's view and ours, side by side: when did the leader change, and when did we follow?
    let patroniChangedAt = 0;
    let followedAt = 0;
    await vi.waitFor(
      async () => {
        if (!patroniChangedAt) {
          const leader = await services.patroniLeader(base);
          if (leader && leader !== 'pgp-n0') patroniChangedAt = Date.now();
        }
        if (!followedAt && failover.monitors.get('pgp')!.status().topology.primary !== 'pgp-n0') followedAt = Date.now();
        expect(patroniChangedAt && followedAt).toBeTruthy();
      },
      { timeout: 90_000, interval: 50 },
    );
    await vi.waitFor(() => expect(failover.monitors.get('pgp')!.status().lastFailover).not.toBeNull(), { timeout: 30_000, interval: 50 });
    const atChange = await fingerprint(old.port, prefix);
    // The old PostgreSQL still runs as a writable primary nobody manages, and no session of ours is left on it.
    expect(atChange).toMatchObject({ primary: true, sessions: '0' });
    const before = d.tree.applied.byCluster.get('pgp') ?? 0;
    await vi.waitFor(() => expect(d.tree.applied.byCluster.get('pgp') ?? 0).toBeGreaterThan(before + 300), { timeout: 30_000, interval: 100 });
    await load.stop();
    await converged(d, topic, prefix);
    expect(await fingerprint(old.port, prefix)).toEqual(atChange);
    expect(Math.abs(followedAt - patroniChangedAt)).toBeLessThan(3_000);
    expect(failover.monitors.get('pgp')!.status().lastFailover).toMatchObject({ reason: 'leader-changed', from: 'pgp-n0' });
    // The old node is reported diverged (a writable primary out of our topology) once the monitor probes it.
    await vi.waitFor(() => expect(failover.monitors.get('pgp')!.status().diverged).toContain('pgp-n0'), { timeout: 15_000, interval: 200 });
    // Re-seeding it is Patroni's job, and needs its Patroni: refused while it is dead, with what to do.
    await expect(failover.reseed('pgp', 'pgp-n0')).rejects.toThrow(/start its Patroni first/);
    // Its Patroni comes back, rewinds it onto the new leader's timeline: reads are routed to it again.
    await services.startPatroniMember(base, 0);
    await vi.waitFor(
      () => {
        const st = failover.monitors.get('pgp')!.status();
        expect(st.topology.fenced).toEqual([]);
        expect(st.topology.replicas).toContain('pgp-n0');
        expect(st.diverged).toEqual([]);
        expect(d.stores.get('pgp')!.topology().replicas).toContain('pgp-n0');
      },
      { timeout: 90_000, interval: 250 },
    );
  }, 300_000);

  it('a planned switchover is asked of Patroni; tagstream follows, nothing is lost', async () => {
    await services.ensurePatroniCluster(base);
    const topic = uniqueName('fo-patroni-switch');
    const prefix = `${topic}-`;
    const { d, failover } = await start(topic);
    const load = steadyLoad(d.log, topic, { prefix, seed: 13 });
    await vi.waitFor(() => expect(d.tree.applied.byCluster.get('pgp') ?? 0).toBeGreaterThan(300), { timeout: 30_000 });
    const r = await failover.switchover('pgp', { target: 'pgp-n2' });
    expect(r).toEqual({ cluster: 'pgp', from: 'pgp-n0', to: 'pgp-n2' });
    expect(await services.patroniLeader(base)).toBe('pgp-n2');
    const before = d.tree.applied.byCluster.get('pgp') ?? 0;
    await vi.waitFor(() => expect(d.tree.applied.byCluster.get('pgp') ?? 0).toBeGreaterThan(before + 300), { timeout: 30_000, interval: 100 });
    await load.stop();
    await converged(d, topic, prefix);
    // Patroni demoted the old leader cleanly: it rejoins as a replica and serves reads again.
    await vi.waitFor(() => expect(d.stores.get('pgp')!.topology()).toMatchObject({ primary: 'pgp-n2', fenced: [] }), { timeout: 60_000, interval: 250 });
    expect(failover.monitors.get('pgp')!.status().lastFailover).toMatchObject({ reason: 'leader-changed', from: 'pgp-n0', to: 'pgp-n2' });
  }, 300_000);
});
