// Chooses the UsageStore for the profile: embedded → MemoryUsageStore; local/production → PgUsageStore on the
// shard clusters, each tag's rows on the cluster of its shard, written through the store's current primary.
import type { ShardStore } from '../pg/port.ts';
import type { Config } from '../../config/index.ts';
import type { Clock } from '../../lib/clock.ts';
import { shardOf } from '../../lib/command.ts';
import type { Logger } from '../../lib/logger.ts';
import { MemoryUsageStore } from './memory-usage-store.ts';
import { PgUsageStore } from './pg-usage-store.ts';
import type { UsageStore } from './port.ts';

export type { RecordResult, UsageCommit, UsageEvent, UsageQuery, UsageRow, UsageStore } from './port.ts';
export { HOUR_MS, hourOf } from './port.ts';
export { MemoryUsageStore } from './memory-usage-store.ts';
export { PgUsageStore, type PgUsageStoreOptions, type UsageCluster } from './pg-usage-store.ts';

export interface UsageStoreDeps {
  stores: Map<string, ShardStore>;
  /** The shard map (actors/tree.ts clusterOfShard). */
  clusterOfShard: (shard: number) => string;
  logger: Logger;
  clock: Clock;
}

export function createUsageStore(config: Readonly<Config>, deps: UsageStoreDeps): UsageStore {
  const { stores, clusterOfShard, logger } = deps;
  if (config.profile === 'embedded') return new MemoryUsageStore({ clock: deps.clock });
  return new PgUsageStore({
    clusters: config.postgres.clusters.map((c) => ({
      name: c.name,
      nodes: c.nodes,
      database: c.database,
      user: c.user,
      ...(c.password !== undefined ? { password: c.password } : {}),
      primary: () => stores.get(c.name)?.topology().primary ?? c.nodes[0]!.name,
    })),
    clusterOfTag: (tag) => clusterOfShard(shardOf(tag, config.shards.count)),
    statementTimeoutMs: config.postgres.statementTimeoutMs,
    connectTimeoutMs: config.failover.probeTimeoutMs,
    logger: logger.child({ component: 'usage-store' }),
  });
}
