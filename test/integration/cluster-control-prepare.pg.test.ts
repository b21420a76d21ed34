// The promotion's session opened ahead (PgClusterControl.prepare, issue 14) on real PostgreSQL: it is one
// session per node (a new prepare replaces the older one), a session never taken by a promotion is closed after
// its time to live (the promotion was abandoned), and close() ends any left.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PgClusterControl } from '../../adapters/pg/pg-cluster-control.ts';
import type { PgClusterConfig } from '../../config/index.ts';
import { SimulatedClock } from '../../lib/clock.ts';
import { query } from '../../services/pg/sql.ts';
import { localConfig } from '../support/local.ts';

const config = localConfig();
const cluster: PgClusterConfig = config.postgres.clusters[1]!;
const node = cluster.nodes[2]!; // a replica: nothing here promotes it
const controlSessions = async () => {
  const [row] = await query<{ n: number }>({ port: node.port, database: cluster.database }, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tagstream-control'", [], { timeoutMs: 5_000 });
  return row!.n;
};

describe('PgClusterControl.prepare on real PostgreSQL', () => {
  const clock = new SimulatedClock(0);
  const control = new PgClusterControl({ cluster: cluster.name, nodes: cluster.nodes, user: cluster.user, ...(cluster.password ? { password: cluster.password } : {}), database: cluster.database, timeoutMs: 2_000, clock });
  afterAll(() => control.close());

  it('opens one session per node, closes one no promotion took after its time to live, and close() ends any left', async () => {
    expect(await controlSessions()).toBe(0);
    control.prepare(node.name, 5_000);
    await vi.waitFor(async () => expect(await controlSessions()).toBe(1), { timeout: 10_000, interval: 50 });
    control.prepare(node.name, 5_000); // a later promotion attempt: a fresh session replaces the older one
    await vi.waitFor(async () => expect(await controlSessions()).toBe(1), { timeout: 10_000, interval: 50 });
    clock.increment(10_000); // never taken: the failover was abandoned
    await vi.waitFor(async () => expect(await controlSessions()).toBe(0), { timeout: 10_000, interval: 50 });
    control.prepare(node.name, 5_000);
    await vi.waitFor(async () => expect(await controlSessions()).toBe(1), { timeout: 10_000, interval: 50 });
    await control.close();
    await vi.waitFor(async () => expect(await controlSessions()).toBe(0), { timeout: 10_000, interval: 50 });
  });
});
