// Re-seeding a diverged old primary as a replica of the new primary, then routing reads to it again.
// Local profile (services/ clusters): pg_rewind (or pg_basebackup) by the launcher, then adopt. Embedded: the
// emulated node is revived as a replica, then adopted. Patroni: POST /reinitialize to the member's Patroni, and
// the follower readmits it once Patroni reports it streaming. Anywhere else: the manual procedure, for humans.
import type { PgliteShardStore } from '../../adapters/pg/pglite-shard-store.ts';
import type { ShardStore, Topology } from '../../adapters/pg/port.ts';
import type { ClusterMonitor } from '../../actors/failover/cluster-monitor.ts';
import type { Config, PgClusterConfig } from '../../config/index.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';

export interface ReseedResult {
  cluster: string;
  node: string;
  primary: string;
  /** True when the node is a replica again and reads may be routed to it (adopted). */
  done: boolean;
  method: 'pg_rewind' | 'basebackup' | 'embedded' | 'patroni-reinitialize' | 'manual';
  message: string;
  topology?: Topology;
  /** method 'manual': the steps for an operator, in order. */
  procedure?: string[];
}

export async function reseed(config: Readonly<Config>, store: ShardStore, monitor: ClusterMonitor, node: string): Promise<ReseedResult> {
  const cluster = monitor.cluster;
  const c = config.postgres.clusters.find((x) => x.name === cluster)!;
  const { topology, mode } = monitor.status();
  const primary = topology.primary;
  if (!c.nodes.some((n) => n.name === node)) throw new TagstreamError(ErrorCodes.NOT_FOUND, `${cluster} has no node ${node} (nodes: ${c.nodes.map((n) => n.name).join(', ')})`);
  if (node === primary) throw new TagstreamError(ErrorCodes.BAD_REQUEST, `${node} is the primary of ${cluster}: nothing to re-seed`);
  const base = { cluster, node, primary };
  await monitor.ensureActing('reseed'); // only the failover leader re-seeds (a follower answers 409 naming it)

  if (mode === 'patroni') {
    const answer = await monitor.reinitialize(node);
    return { ...base, done: false, method: 'patroni-reinitialize', message: `Patroni re-initialises ${node} from ${primary} (${answer}); tagstream routes reads to it once Patroni reports it streaming on the leader's timeline` };
  }
  if (config.profile === 'embedded') {
    const e = (store as PgliteShardStore).embedded;
    e.reviveNode(node);
    e.demote(node);
    const t = await monitor.adopt(node);
    return { ...base, done: true, method: 'embedded', message: `${node} is a replica of ${primary} again and serves reads`, topology: t };
  }
  const refs = config.profile === 'local' ? await localRefs(config, cluster, node, primary) : null;
  if (refs) {
    const services = await import('../../services/index.ts');
    const method = await services.rewindAsReplica(config, refs.node, refs.primary);
    const t = await monitor.adopt(node);
    return { ...base, done: true, method, message: `${node} re-seeded from ${primary} with ${method}, streaming, and serving reads again`, topology: t };
  }
  return { ...base, done: false, method: 'manual', message: `${cluster} is not a cluster of the local services: re-seed ${node} by hand, then adopt it`, procedure: manualProcedure(c, node, primary) };
}

/** The services/ positions of a node and the primary, when this cluster is one the launcher runs. */
async function localRefs(config: Readonly<Config>, cluster: string, node: string, primary: string) {
  const { servicesLayout } = await import('../../services/layout.ts');
  const spec = servicesLayout(config.services).pg.find((x) => x.name === cluster);
  const n = spec?.nodes.find((x) => x.name === node);
  const p = spec?.nodes.find((x) => x.name === primary);
  return spec && n && p ? { node: { cluster: spec.cluster, node: n.node }, primary: p.node } : null;
}

/** The documented manual procedure (pg_rewind, else a fresh clone), written for this cluster and node. */
export function manualProcedure(c: PgClusterConfig, node: string, primary: string): string[] {
  const p = c.nodes.find((x) => x.name === primary)!;
  const src = `host=${p.host} port=${p.port} user=${c.user} dbname=postgres`;
  const slot = node.replace(/[^a-z0-9_]/gi, '_').toLowerCase();
  return [
    `1. Stop ${node} if it still runs (on its host): pg_ctl -D <data dir of ${node}> stop -m fast. tagstream already keeps it out of routing.`,
    `2. On the new primary ${primary}: CHECKPOINT;  (else pg_rewind may read a stale timeline and say no rewind is needed)`,
    `   and, if replicas use slots: SELECT pg_create_physical_replication_slot('${slot}') WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${slot}');`,
    `3. On ${node}: pg_rewind -D <data dir> --source-server='${src}' -R   (needs wal_log_hints = on or data checksums)`,
    `   If pg_rewind fails (e.g. the WAL it needs is gone), clone it afresh: pg_basebackup -d '${src.replace('dbname=postgres', `application_name=${node}`)}' -D <empty data dir> -R -X stream -S ${slot} --checkpoint=fast`,
    `4. pg_rewind copied ${primary}'s postgresql.auto.conf: set ${node}'s own port and primary_slot_name again, make primary_conninfo point at ${primary} with application_name=${node}, and remove any default_transaction_read_only left by tagstream's fence.`,
    `5. Start it: pg_ctl -D <data dir> start. On ${primary}, SELECT application_name, state FROM pg_stat_replication; must show '${node}' streaming.`,
    `6. Route reads to it again: tagstream adopt ${c.name} ${node}   (refused unless ${node} is a replica streaming from ${primary})`,
  ];
}
