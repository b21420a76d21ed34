// The UsageStore contract against PostgreSQL (the local clusters started by services/): rows routed by tag over
// both clusters, positions claimed and counters bumped in one statement.
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
