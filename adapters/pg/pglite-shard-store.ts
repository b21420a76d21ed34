// PgliteShardStore: the embedded ShardStore. The same router and the same SQL as PgShardStore, over an
// EmbeddedPgCluster (one PGlite instance per cluster, replicas emulated) that tests can break on purpose.
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { NodeFaultHooks } from '../fault-hooks.ts';
import { EmbeddedPgCluster } from './embedded-pg-cluster.ts';
import type { NodeDriver } from './node-conn.ts';
import { RoutedShardStore } from './routed-shard-store.ts';

export interface PgliteShardStoreOptions {
  /** The emulated servers; several stores (clients) may share one. */
  embedded: EmbeddedPgCluster;
  logger: Logger;
  clock?: Clock;
  /** Close the embedded cluster with the store (the store created it). */
  ownsCluster?: boolean;
  replicaRetryMs?: number;
}

export class PgliteShardStore extends RoutedShardStore {
  /** The emulated cluster behind this store: fault injection (killNode, holdReplication, promote…). */
  readonly embedded: EmbeddedPgCluster;
  readonly faults: NodeFaultHooks = { killNode: (n) => this.embedded.killNode(n), reviveNode: (n) => this.embedded.reviveNode(n) };

  constructor(opts: PgliteShardStoreOptions) {
    const e = opts.embedded;
    const driver: NodeDriver = {
      open: (node) => e.connect(node),
      probe: (node) => e.probe(node),
      close: async () => {
        if (opts.ownsCluster) await e.close();
      },
    };
    super({ cluster: e.name, nodes: [...e.nodes], driver, logger: opts.logger, clock: opts.clock, replicaRetryMs: opts.replicaRetryMs });
    this.embedded = e;
  }

  /** A store over a fresh embedded cluster of its own. */
  static async create(cluster: string, nodes: string[], opts: { logger: Logger; clock?: Clock; dataDir?: string }): Promise<PgliteShardStore> {
    const embedded = await EmbeddedPgCluster.create(cluster, nodes, { dataDir: opts.dataDir });
    return new PgliteShardStore({ embedded, logger: opts.logger, clock: opts.clock, ownsCluster: true });
  }
}
