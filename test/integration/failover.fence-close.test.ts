// Fencing a hung primary (SIGSTOP) must not wait for our sessions stuck on it: their sockets are dropped, so
// the reroute completes while the node is still frozen and, when it thaws, nothing of the half-done transaction
// can commit there. The stuck write is pinned on the server first (it waits for a shard lock an admin session
// holds), so "in flight on the frozen node" is a state the test sees, not a guess after a sleep.
import { afterAll, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import { PgShardStore } from '../../adapters/pg/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { countRows } from '../support/pg-faults.ts';
import { localConfig, uniqueName } from '../support/local.ts';

const config = localConfig({ postgres: { statementTimeoutMs: 30_000 }, failover: { probeTimeoutMs: 1_000 } });
const primary = { cluster: 0, node: 0 };
/** The shard lock class of adapters/pg/shard-sql.ts: a writer of shard 0 waits for (7161, 0). */
const SHARD_LOCK = [7161, 0];

afterAll(async () => {
  services.contNode(config, primary);
  await services.resetCluster(config, 0);
}, 120_000);

async function adminClient(): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: services.pgNodeInfo(config, primary).port, user: 'postgres', database: 'tagstream', connectionTimeoutMillis: 2_000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

describe('fencing a frozen primary', () => {
  it('drops our sessions stuck on it: the new topology is in place while it is frozen and the stuck write never lands', async () => {
    await services.resetCluster(config, 0);
    const cluster = config.postgres.clusters[0]!;
    const app = uniqueName('ts-fence');
    const store = new PgShardStore({ cluster: cluster.name, nodes: cluster.nodes, database: cluster.database, user: cluster.user, statementTimeoutMs: config.postgres.statementTimeoutMs, connectTimeoutMs: config.failover.probeTimeoutMs, probeTimeoutMs: config.failover.probeTimeoutMs, poolSize: config.postgres.poolSize, applicationName: app, logger: silentLogger() });
    const admin = await adminClient();
    const ours = async (where = '') => Number((await admin.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = $1 ${where}`, [app])).rows[0]!.n);
    try {
      await store.migrate();
      const prefix = `${uniqueName('fence')}-`;
      await store.applyBatch([{ shard: 0, entity: `${prefix}warm`, tag: 't', attached: true, partition: 0, offset: '1', at: 1 }]);
      await admin.query('SELECT pg_advisory_lock($1, $2)', [...SHARD_LOCK]);
      const stuck = store.applyBatch([{ shard: 0, entity: `${prefix}stuck`, tag: 't', attached: true, partition: 0, offset: '2', at: 2 }]);
      const failed = stuck.then(() => 'committed', (e: unknown) => (e as Error).message);
      await vi.waitFor(async () => expect(await ours("AND wait_event_type = 'Lock'")).toBe(1), { timeout: 10_000, interval: 20 });
      services.stopNode(config, primary);

      // The stuck session can end only by the drop (the node is frozen and the lock held): setTopology resolving
      // here, and the write failing for a reason other than its 30 s timeouts, is the proof.
      await store.setTopology({ primary: 'pg0-n1', replicas: ['pg0-n2'], fenced: ['pg0-n0'] });
      const reason = await failed;
      expect(reason).not.toBe('committed');
      expect(reason).not.toMatch(/timeout/i);

      services.contNode(config, primary);
      await admin.query('SELECT pg_advisory_unlock($1, $2)', [...SHARD_LOCK]);
      // Thawed and unlocked: every backend of ours ends (its client is gone) without committing.
      await vi.waitFor(async () => expect(await ours()).toBe(0), { timeout: 20_000, interval: 50 });
      expect(await countRows(services.pgNodeInfo(config, primary).port, `${prefix}stuck`)).toBe(0);
      expect(await countRows(services.pgNodeInfo(config, primary).port, `${prefix}warm`)).toBe(1);
    } finally {
      services.contNode(config, primary);
      await admin.end().catch(() => undefined);
      await store.close();
    }
  }, 120_000);
});
