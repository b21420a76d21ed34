// The ShardStore contract against real PostgreSQL (cluster pg1 of services/: a primary and two async
// streaming replicas), plus what only real servers can show: a frozen node fails calls within the timeouts.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PgShardStore, type PgShardStoreOptions } from '../../adapters/pg/pg-shard-store.ts';
import type { AssocWrite } from '../../adapters/pg/port.ts';
import { APPLY_BATCH, applyBatchParams } from '../../adapters/pg/shard-sql.ts';
import type { PgClusterConfig } from '../../config/index.ts';
import { classify } from '../../lib/classify.ts';
import { silentLogger } from '../../lib/logger.ts';
import { contNode, resetCluster, stopNode, waitStreaming } from '../../services/index.ts';
import { query } from '../../services/pg/sql.ts';
import { shardStoreContract, type ShardStoreHarness } from '../contract/shard-store.contract.ts';
import { localConfig, uniqueName } from '../support/local.ts';

const CLUSTER = 1;
const config = localConfig();
const cluster: PgClusterConfig = config.postgres.clusters[CLUSTER]!;
const nodes = cluster.nodes.map((n) => n.name) as [string, string, string];
const portOf = (node: string) => cluster.nodes.find((n) => n.name === node)!.port;
const admin = <R extends Record<string, unknown>>(node: string, sql: string, params: unknown[] = []) => query<R>({ port: portOf(node), database: cluster.database }, sql, params, { timeoutMs: 5_000 });

function storeOptions(overrides: Partial<PgShardStoreOptions> = {}): PgShardStoreOptions {
  return {
    cluster: cluster.name,
    nodes: cluster.nodes,
    database: cluster.database,
    user: cluster.user,
    statementTimeoutMs: config.postgres.statementTimeoutMs,
    connectTimeoutMs: config.failover.probeTimeoutMs,
    probeTimeoutMs: config.failover.probeTimeoutMs,
    poolSize: config.postgres.poolSize,
    applicationName: uniqueName('ts-contract'),
    logger: silentLogger(),
    ...overrides,
  };
}

/** Waits for a state the store reaches (replayed, connected, closed…), polling it. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  await vi.waitFor(async () => expect(await check(), what).toBe(true), { timeout: timeoutMs, interval: 50 });
}

beforeAll(async () => {
  // Another suite may have failed this cluster over: back to n0 primary, n1 and n2 streaming from it.
  await resetCluster(config, CLUSTER);
  await waitStreaming(config, { cluster: CLUSTER, node: 0 });
});

shardStoreContract('PgShardStore (real PostgreSQL)', async (): Promise<ShardStoreHarness> => {
  const opts = storeOptions();
  const store = new PgShardStore(opts);
  await store.migrate();
  const paused = new Set<string>();
  return {
    store,
    nodes,
    pauseReplay: async (n) => {
      paused.add(n);
      await admin(n, 'SELECT pg_wal_replay_pause()');
    },
    resumeReplay: async (n) => {
      await admin(n, 'SELECT pg_wal_replay_resume()');
      paused.delete(n);
    },
    connectionsTo: async (n) => {
      const [row] = await admin<{ n: string }>(n, 'SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = $1', [opts.applicationName]);
      return Number(row?.n ?? 0);
    },
    eventually,
    dispose: async () => {
      for (const n of paused) await admin(n, 'SELECT pg_wal_replay_resume()').catch(() => undefined);
      await store.close();
    },
  };
});

describe('PgShardStore against a frozen node (SIGSTOP)', () => {
  const replica = { cluster: CLUSTER, node: 2 };
  let frozen = false;
  afterEach(() => {
    if (frozen) contNode(config, replica);
    frozen = false;
  });

  it('a read on a frozen replica fails within the timeouts and falls back to the primary; probe says down', async () => {
    const store = new PgShardStore(storeOptions({ statementTimeoutMs: 500, connectTimeoutMs: 500, probeTimeoutMs: 500 }));
    try {
      await store.setTopology({ primary: nodes[0], replicas: [nodes[2]], fenced: [] });
      const e = uniqueName('frozen');
      const { commitLsn } = await store.applyBatch([{ shard: 31_999, entity: e, tag: 'Frozen', attached: true, partition: 0, offset: '1', at: 0 }]);
      await eventually(() => store.replicatedTo(commitLsn), 'n2 replays');
      expect((await store.entityTags(31_999, e)).servedBy).toBe(nodes[2]); // a pooled connection to n2 exists now

      stopNode(config, replica);
      frozen = true;
      // n2 stays frozen throughout: each call below can end only through the store's own timeouts (without
      // them it would hang and the test fail at its timeout), so each answering at all is the proof.
      const read = await store.entityTags(31_999, e);
      expect(read).toEqual({ tags: ['Frozen'], servedBy: nodes[0], role: 'primary' });

      const probes = await store.probe();
      expect(probes.find((p) => p.name === nodes[2])).toMatchObject({ up: false, error: expect.any(String) });
      expect(probes.find((p) => p.name === nodes[0])).toMatchObject({ up: true, role: 'primary' });

      expect(await store.replicatedTo(commitLsn)).toBe(true); // already known from before the freeze
      const later = await store.applyBatch([{ shard: 31_999, entity: e, tag: 'Frozen', attached: false, partition: 0, offset: '2', at: 0 }]);
      expect(await store.replicatedTo(later.commitLsn)).toBe(false); // the only replica is frozen
    } finally {
      if (frozen) contNode(config, replica);
      frozen = false;
      await store.close();
    }
  });

  it('a query on a frozen primary rejects with a retry-class error within the timeout instead of hanging', async () => {
    const store = new PgShardStore(storeOptions({ statementTimeoutMs: 500, connectTimeoutMs: 500 }));
    // Point the store at n2 as if it were the primary: a read forced to it exercises the pooled-connection path.
    try {
      await store.setTopology({ primary: nodes[2], replicas: [], fenced: [] });
      expect((await store.entityTags(31_998, 'x', { primary: true })).servedBy).toBe(nodes[2]);
      stopNode(config, replica);
      frozen = true;
      // n2 stays frozen: only the read timeout can end the query (the error says so), and it is retry-class.
      const err = await store.entityTags(31_998, 'x', { primary: true }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(err).not.toBeNull();
      expect(String((err as Error).message)).toMatch(/timeout|timed out/i);
      expect(classify(err).class).toBe('retry');
      // A new connection to the frozen node times out too (connect timeout).
      const err2 = await store.shardRows(31_998).then(
        () => null,
        (x: unknown) => x,
      );
      expect(String((err2 as Error).message)).toMatch(/timeout|timed out/i);
      expect(classify(err2).class).toBe('retry');
    } finally {
      if (frozen) contNode(config, replica);
      frozen = false;
      await store.close();
    }
  });
});

/** Rows produced by every node of an EXPLAIN ANALYZE plan, over all its loops (EXPLAIN shows per-loop figures),
 *  plus the rows its filters threw away: the work the statement did, in rows. */
function rowsHandled(node: unknown): number {
  const n = node as Record<string, unknown>;
  const num = (k: string, d = 0): number => (typeof n[k] === 'number' ? (n[k] as number) : d);
  const own = (num('Actual Rows') + num('Rows Removed by Join Filter') + num('Rows Removed by Filter')) * num('Actual Loops', 1);
  const children: unknown[] = [...(n.Plan ? [n.Plan] : []), ...(Array.isArray(n.Plans) ? (n.Plans as unknown[]) : [])];
  return own + children.reduce<number>((sum, c) => sum + rowsHandled(c), 0);
}

describe('applyBatch on real PostgreSQL does work linear in its batch', () => {
  it('re-applying 2,000 existing rows at higher offsets handles each row a bounded number of times (no batch × batch join)', async () => {
    const store = new PgShardStore(storeOptions());
    await store.migrate();
    try {
      const prefix = uniqueName('linear');
      const n = 2_000;
      const batch = (offset: number, attached: boolean): AssocWrite[] =>
        Array.from({ length: n }, (_, i) => ({ shard: i % 64, entity: `${prefix}-e${i}`, tag: `${prefix}-t${i % 7}`, attached, partition: 0, offset: String(offset + i), at: 1_700_000_000_000 }));
      const first = await store.applyBatch(batch(1, true));
      expect(first.changed).toBe(n);

      const [row] = await admin<{ 'QUERY PLAN': unknown[] }>(nodes[0], `EXPLAIN (ANALYZE, FORMAT JSON) ${APPLY_BATCH}`, applyBatchParams(batch(10_000, false)));
      // A few dozen passes over the batch at most (unnest, sort, look-ups, the writes, the counters);
      // a plan that pairs every row with every other handles n² = 4,000,000 rows.
      expect(rowsHandled(row!['QUERY PLAN'][0])).toBeLessThanOrEqual(50 * n);

      // The statement did its job: every row detached, every counter of these tags back to 0.
      expect((await store.entityTags(5, `${prefix}-e5`, { primary: true })).tags).toEqual([]);
      const counts = (await Promise.all(Array.from({ length: 64 }, (_, s) => store.shardCounts(s)))).flat().filter((c) => c.tag.startsWith(prefix));
      expect(counts).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
