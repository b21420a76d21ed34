// Issue 14: a one-sided partition. The failover leader reaches the pg0 primary through a TCP proxy; the two
// followers reach it directly. The proxy is cut (black-holed): the leader alone loses the primary.
//
// Behaviour chosen (README "Running several daemons", partitions): the leader acts on what it sees. A primary
// the leader cannot reach is a primary it cannot fence or prove replication on, and the leader is the one
// daemon allowed to decide, so it fails over — the classic split, resolved by the one decider. The followers,
// which still reach the old primary, keep writing to it until they read the leader's decision (or see the new
// primary on a newer timeline): a write that then exists only on the old primary must never let a Kafka offset
// commit, so the final state equals the log's. The old primary, still writable and unfenced (the leader cannot
// reach it), is listed as diverged by the followers, who can, and no daemon routes to it.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createCommandLog } from '../../adapters/kafka/index.ts';
import { loadConfig } from '../../config/index.ts';
import { createLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { allRouteAway, converged, fleetLines, leaderOf, promotionsMetric, startFleet, status, stopFleets } from '../support/fleet.ts';
import { steadyLoad } from '../support/ingest-load.ts';
import { startPgProxy, type PgProxy } from '../support/pg-proxy.ts';
import { recordedEpoch } from '../support/topology-epoch.ts';

const logger = createLogger({ level: 'silent' });
let proxy: PgProxy | null = null;

afterEach(async () => {
  await stopFleets();
  await proxy?.close();
  proxy = null;
}, 60_000);

afterAll(async () => {
  const config = loadConfig({ overrides: { profile: 'local' } });
  await services.resetCluster(config, 0);
}, 120_000);

describe('a one-sided partition between the failover leader and the primary (real PostgreSQL + Kafka)', () => {
  it('the leader fails over; no offset commits for a write only the old primary has; the final state equals the log', async () => {
    const base = loadConfig({ overrides: { profile: 'local' } });
    const n0 = base.postgres.clusters[0]!.nodes[0]!;
    proxy = await startPgProxy({ host: n0.host, port: n0.port });
    const p = proxy;
    // Daemon 0 (started first, so it leads) knows pg0-n0 by the proxy's address; the others by its own.
    const viaProxy = JSON.stringify(base.postgres.clusters.map((c, i) => (i === 0 ? { ...c, nodes: c.nodes.map((n, j) => (j === 0 ? { ...n, host: p.host, port: p.port } : n)) } : c)));
    const f = await startFleet('fleet-part', { firstLeads: true, env: (i): Record<string, string> => (i === 0 ? { TAGSTREAM_POSTGRES__CLUSTERS: viaProxy } : {}) });
    const [leader, ...followers] = f.daemons as [typeof f.daemons[0], ...typeof f.daemons];
    expect(await leaderOf(f)).toBe(leader);
    expect(p.accepted).toBeGreaterThan(0); // the leader does reach pg0-n0 through the proxy
    const prefix = `${f.topic}-`;
    const log = createCommandLog(f.config, logger);
    const load = steadyLoad(log, f.topic, { prefix, seed: 31 });
    try {
      await vi.waitFor(async () => expect((await log.committed(`${f.topic}-w`, f.topic)).size).toBeGreaterThan(0), { timeout: 30_000, interval: 250 });
      // Still the leader (a follower joining the group makes it pause for a rebalance: wait that out).
      await vi.waitFor(async () => expect((await status(leader)).leadership.leader).toBe(true), { timeout: 30_000, interval: 100 });
      p.cut();
      // The leader alone loses pg0-n0 and fails over; every daemon follows its decision.
      const routed = await allRouteAway(f, 'pg0-n0', 60_000);
      expect(routed.size).toBe(3);
      const primary = [...routed.values()][0]!.primary;
      expect(new Set([...routed.values()].map((r) => r.primary))).toEqual(new Set([primary]));
      expect(fleetLines(f, 'promoting replica')).toBe(1);
      expect((await Promise.all(f.daemons.map(promotionsMetric))).reduce((a, b) => a + b, 0)).toBe(1);
      // The followers still reach the old primary: it is up, not ours to write to, and listed as diverged there.
      for (const d of followers) {
        await vi.waitFor(async () => {
          const s = await status(d);
          expect(s.failover.pg0.diverged).toContain('pg0-n0');
          expect(s.topology.pg0.fenced).toContain('pg0-n0');
        }, { timeout: 30_000, interval: 200 });
      }
      await vi.waitFor(async () => expect((await recordedEpoch(f.config, 'pg0', primary))?.epoch).toBe((await status(leader)).failover.pg0.leadership.epoch), { timeout: 10_000, interval: 200 });
    } finally {
      await load.stop();
      await log.close();
    }
    // Nothing lost, nothing extra: whatever the followers wrote on the old primary after the promotion was
    // applied again on the new one (its offsets never committed).
    await converged(f, prefix, leader);
    for (const d of f.daemons) expect((await status(d)).topology.pg0.primary).not.toBe('pg0-n0');
  }, 480_000);
});
