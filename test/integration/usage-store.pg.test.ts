// The UsageStore contract against PostgreSQL (the local clusters started by services/): rows routed by tag over
// both clusters, positions claimed and counters bumped in one statement.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PgUsageStore } from '../../adapters/analytics/pg-usage-store.ts';
import { shardOf } from '../../lib/command.ts';
import { silentLogger } from '../../lib/logger.ts';
import { usageStoreContract } from '../contract/usage-store.contract.ts';
import { localConfig } from '../support/local.ts';

const config = localConfig();
const clusters = config.postgres.clusters;
const make = (port?: number) =>
  new PgUsageStore({
    clusters: clusters.map((c) => ({ name: c.name, nodes: port ? c.nodes.map((n) => ({ ...n, port })) : c.nodes, database: c.database, user: c.user, primary: () => c.nodes[0]!.name })),
    clusterOfTag: (tag) => clusters[shardOf(tag, config.shards.count) % clusters.length]!.name,
    statementTimeoutMs: 5_000,
    connectTimeoutMs: 1_000,
    logger: silentLogger(),
  });

usageStoreContract('PgUsageStore', async () => {
  const store = make();
  return { store, unreachable: () => make(1), close: () => store.close() };
});

describe('PgUsageStore when the server drops a session it holds', () => {
  it('a connection lost between two queries fails that call, and the process survives (no unhandled error event)', async () => {
    const store = make();
    try {
      const c = { name: clusters[0]!.name, nodes: clusters[0]!.nodes, database: clusters[0]!.database, user: clusters[0]!.user, primary: () => clusters[0]!.nodes[0]!.name };
      // The private session is the only place a pooled client is held across awaits; reach it as the store does.
      const session = (store as unknown as { session<T>(c: unknown, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> }).session.bind(store);
      const call = session(c, async (client) => {
        const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
        const admin = new pg.Client({ host: '127.0.0.1', port: clusters[0]!.nodes[0]!.port, user: 'postgres', database: clusters[0]!.database });
        await admin.connect();
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await admin.end();
        await new Promise((r) => setTimeout(r, 200)); // the server's notice arrives while the client is idle and held
        await client.query('SELECT 1');
      });
      await expect(call).rejects.toThrow();
      await store.ping(); // the pool replaced the lost client
    } finally {
      await store.close();
    }
  });
});
