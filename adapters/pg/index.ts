// createShardStores: one ShardStore per configured PostgreSQL cluster, real or embedded by profile.
// Stores are created unmigrated and unconnected; the composition root runs migrate() on each at start.
import type { Config } from '../../config/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { PgShardStore } from './pg-shard-store.ts';
import { PgliteShardStore } from './pglite-shard-store.ts';
import type { ClusterControl, ShardStore } from './port.ts';
import { EmbeddedClusterControl } from './embedded-cluster-control.ts';
import { PgClusterControl } from './pg-cluster-control.ts';

export type { ClusterControl, ShardStore } from './port.ts';
export { PgShardStore } from './pg-shard-store.ts';
export { PgliteShardStore } from './pglite-shard-store.ts';
export { EmbeddedPgCluster } from './embedded-pg-cluster.ts';
export { FencedNodeError } from './routed-shard-store.ts';
export { compareLsn, lsnReached } from './lsn.ts';
export { deriveTopology, toTopology, type DerivedTopology, type DeriveInput, type NodeVerdict } from './derive-topology.ts';

export interface ShardStoreFactoryOptions {
  clock?: Clock;
}

export async function createShardStores(config: Readonly<Config>, logger: Logger, opts: ShardStoreFactoryOptions = {}): Promise<Map<string, ShardStore>> {
  const stores = new Map<string, ShardStore>();
  for (const c of config.postgres.clusters) {
    if (config.profile === 'embedded') {
      stores.set(c.name, await PgliteShardStore.create(c.name, c.nodes.map((n) => n.name), { logger, clock: opts.clock }));
    } else {
      stores.set(
        c.name,
        new PgShardStore({
          cluster: c.name,
          nodes: c.nodes,
          database: c.database,
          user: c.user,
          password: c.password,
          statementTimeoutMs: config.postgres.statementTimeoutMs,
          connectTimeoutMs: config.failover.probeTimeoutMs,
          probeTimeoutMs: config.failover.probeTimeoutMs,
          poolSize: config.postgres.poolSize,
          logger, // the stores name their cluster in every line (a child binding printed it twice)
          clock: opts.clock,
        }),
      );
    }
  }
  return stores;
}

/**
 * Each store's primary found from what its nodes say (RoutedShardStore.discoverPrimary: probes bounded by the
 * probe timeout, the writable node on the newest timeline), in parallel — for one-shot tools (the standalone
 * CLI) that do not run a failover monitor. A cluster whose probes fail keeps its configured order (logged).
 */
export async function discoverPrimaries(stores: Map<string, ShardStore>, logger: Logger): Promise<void> {
  await Promise.all(
    [...stores].map(([name, s]) =>
      s.discoverPrimary().then(
        (t) => logger.debug({ cluster: name, topology: t }, 'primary discovered'),
        (err: unknown) => logger.warn({ cluster: name, err }, 'could not discover the primary: using the configured order'),
      ),
    ),
  );
}

/** Runs every store's migrations in parallel; resolves with the clusters that failed (the daemon retries them). */
export async function migrateAll(stores: Map<string, ShardStore>, logger: Logger): Promise<string[]> {
  const failed: string[] = [];
  await Promise.all(
    [...stores].map(async ([name, s]) => {
      try {
        await s.migrate();
      } catch (err) {
        failed.push(name);
        logger.error({ cluster: name, err }, 'schema migration failed');
      }
    }),
  );
  return failed;
}

/** The control plane of each cluster (failover monitor only), matching the stores `createShardStores` made. */
export function createClusterControls(config: Readonly<Config>, stores: Map<string, ShardStore>): Map<string, ClusterControl> {
  const out = new Map<string, ClusterControl>();
  for (const c of config.postgres.clusters) {
    const store = stores.get(c.name);
    if (store instanceof PgliteShardStore) out.set(c.name, new EmbeddedClusterControl(store.embedded));
    else out.set(c.name, new PgClusterControl({ cluster: c.name, nodes: c.nodes, user: c.user, ...(c.password ? { password: c.password } : {}), database: c.database, timeoutMs: config.failover.probeTimeoutMs }));
  }
  return out;
}
