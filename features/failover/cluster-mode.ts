// How each cluster fails over: the `failover` section, overridden per cluster by postgres.clusters[].failover
// (e.g. one cluster managed by Patroni beside clusters tagstream promotes itself).
import type { Config } from '../../config/index.ts';

export type ClusterFailoverMode = Config['failover']['mode'];

export interface ClusterFailover {
  mode: ClusterFailoverMode;
  /** Patroni REST APIs of this cluster's members (patroni mode). */
  patroniUrls: readonly string[];
}

export function clusterFailover(config: Readonly<Config>, cluster: string): ClusterFailover {
  const c = config.postgres.clusters.find((x) => x.name === cluster);
  if (!c) throw new Error(`no cluster ${cluster}`);
  return { mode: c.failover?.mode ?? config.failover.mode, patroniUrls: c.failover?.patroniUrls ?? config.failover.patroniUrls };
}
