// Reads the topology epoch a failover leader recorded on a node (adapters/pg/topology-epoch.ts), for chaos tests.
import { PgClusterControl } from '../../adapters/pg/pg-cluster-control.ts';
import type { RecordedEpoch } from '../../adapters/pg/port.ts';
import type { Config } from '../../config/index.ts';

export async function recordedEpoch(config: Readonly<Config>, cluster: string, node: string): Promise<RecordedEpoch | null> {
  const c = config.postgres.clusters.find((x) => x.name === cluster)!;
  const control = new PgClusterControl({ cluster, nodes: c.nodes, user: c.user, ...(c.password ? { password: c.password } : {}), database: c.database, timeoutMs: 5_000 });
  try {
    return await control.readEpoch(node);
  } finally {
    await control.close();
  }
}
