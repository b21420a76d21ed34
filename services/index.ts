// The launcher's programmatic API for integration tests, chaos tests and benchmarks: bring the real services
// up, and break and mend them on purpose. Nodes are named by position ({ cluster, node }); no driver type leaks.
import type { Config } from '../config/index.ts';
import * as es from './elasticsearch/node.ts';
import * as kafka from './kafka/broker.ts';
import { pgNode, redisSpec, servicesLayout, type PgNodeSpec } from './layout.ts';
import { ensureCluster, clusterHealth, type ClusterHealth } from './pg/cluster.ts';
import * as failover from './pg/failover.ts';
import * as node from './pg/node.ts';
import * as redis from './redis.ts';
import { assertReachable, installMissing } from './install.ts';
import { withRunLock } from './lock.ts';
import * as patroniCluster from './patroni/cluster.ts';
import * as patroniL from './patroni/layout.ts';
import { patroniLayout } from './patroni/layout.ts';
import * as patroniMember from './patroni/member.ts';

export { ensureServices, SERVICE_KINDS, type EnsureOptions, type ServiceKind, type ServiceOutcome } from './ensure.ts';
export { servicesStatus, stopServices, resetServices, formatStatus, type ServiceStatus } from './status.ts';
export type { NodeRole } from './pg/node.ts';
export type { RewindMethod } from './pg/failover.ts';
export type { RedisState } from './redis.ts';
export type { ClusterHealth } from './pg/cluster.ts';

/** Everything here needs only the `services` slice; a whole Config fits. */
export type ServicesScope = Pick<Config, 'services'>;

export interface PgNodeRef {
  cluster: number;
  node: number;
}

export interface PgNodeInfo {
  name: string;
  host: '127.0.0.1';
  port: number;
  dataDir: string;
  slot: string;
}

const layoutOf = (s: ServicesScope) => servicesLayout(s.services);
const spec = (s: ServicesScope, ref: PgNodeRef): PgNodeSpec => pgNode(layoutOf(s), ref.cluster, ref.node);

export function pgNodeInfo(s: ServicesScope, ref: PgNodeRef): PgNodeInfo {
  const n = spec(s, ref);
  return { name: n.name, host: '127.0.0.1', port: n.port, dataDir: n.dataDir, slot: n.slot };
}

// --- PostgreSQL nodes -------------------------------------------------------------------------------------
/** SIGKILL the postmaster and all its children (a node death); resolves once every process is gone. */
export const killNode = (s: ServicesScope, ref: PgNodeRef): Promise<void> => node.killNode(spec(s, ref));
/** SIGSTOP the postmaster and its children: the node hangs (connections stall, replication stops). */
export const stopNode = (s: ServicesScope, ref: PgNodeRef): void => node.freezeNode(spec(s, ref));
/** SIGCONT what stopNode froze. */
export const contNode = (s: ServicesScope, ref: PgNodeRef): void => node.thawNode(spec(s, ref));
/** Starts a node from its data directory (in whatever role that directory says); no-op if it runs. */
export const startNode = (s: ServicesScope, ref: PgNodeRef): Promise<void> => node.startNode(layoutOf(s), spec(s, ref));
/** Clean shutdown (pg_ctl stop -m fast). */
export const shutdownNode = (s: ServicesScope, ref: PgNodeRef): Promise<void> => node.stopNode(layoutOf(s), spec(s, ref));
export const nodeRole = (s: ServicesScope, ref: PgNodeRef): Promise<node.NodeRole> => node.nodeRole(spec(s, ref));
/** SELECT pg_promote(); resolves once the node accepts writes. */
export const promote = (s: ServicesScope, ref: PgNodeRef): Promise<void> => failover.promote(spec(s, ref));
/** Points a running replica at the node `newPrimary` of the same cluster (slot created there first). */
export const repointReplica = (s: ServicesScope, replica: PgNodeRef, newPrimary: number): Promise<void> =>
  failover.repointReplica(spec(s, replica), spec(s, { cluster: replica.cluster, node: newPrimary }));
/** Re-seeds a former primary as a replica of `newPrimary` (pg_rewind, else pg_basebackup) and starts it. */
export const rewindAsReplica = (s: ServicesScope, ref: PgNodeRef, newPrimary: number): Promise<failover.RewindMethod> =>
  failover.rewindAsReplica(layoutOf(s), spec(s, ref), spec(s, { cluster: ref.cluster, node: newPrimary }));
/** Resolves once each replica streams from `primary` (all other nodes of the cluster by default). */
export function waitStreaming(s: ServicesScope, primary: PgNodeRef, replicas?: readonly number[], timeoutMs?: number): Promise<void> {
  const cluster = layoutOf(s).pg[primary.cluster]!;
  const others = (replicas ?? cluster.nodes.map((n) => n.node).filter((n) => n !== primary.node)).map((n) => spec(s, { cluster: primary.cluster, node: n }));
  return failover.waitStreaming(spec(s, primary), others, timeoutMs);
}
export const replicaLsns = (s: ServicesScope, ref: PgNodeRef) => failover.replicaLsns(spec(s, ref));

// --- PostgreSQL clusters ----------------------------------------------------------------------------------
export const pgClusterHealth = (s: ServicesScope, cluster: number): Promise<ClusterHealth> => clusterHealth(layoutOf(s).pg[cluster]!);
/**
 * Back to the canonical shape: n0 primary, the others streaming from it. A healthy cluster is left alone
 * (milliseconds) unless `wipe`; anything else is rebuilt from scratch (~2–3 s). Data is lost on a rebuild.
 */
export async function resetCluster(s: ServicesScope, cluster: number, opts: { wipe?: boolean } = {}): Promise<string> {
  const l = layoutOf(s);
  const c = l.pg[cluster];
  if (!c) throw new RangeError(`no PostgreSQL cluster ${cluster}`);
  const r = await ensureCluster(l, c, opts);
  return r.reason ? `${r.action} (${r.reason})` : r.action;
}

// --- Redis ------------------------------------------------------------------------------------------------
export const killRedis = (s: ServicesScope, i: number): Promise<void> => redis.killRedis(redisSpec(layoutOf(s), i));
export const stopRedis = (s: ServicesScope, i: number): void => redis.freezeRedis(redisSpec(layoutOf(s), i));
export const contRedis = (s: ServicesScope, i: number): void => redis.thawRedis(redisSpec(layoutOf(s), i));
/** Starts a (killed) instance, empty; resolves once it answers PING. */
export const startRedis = async (s: ServicesScope, i: number): Promise<void> => void (await redis.startRedis(layoutOf(s), redisSpec(layoutOf(s), i)));
export const redisState = (s: ServicesScope, i: number): redis.RedisState => redis.redisState(redisSpec(layoutOf(s), i));

// --- Kafka and Elasticsearch ------------------------------------------------------------------------------
/** Stops the broker (SIGTERM, SIGKILL after 30 s) and starts it again on the same log dirs; resolves when ready. */
export async function restartKafka(s: ServicesScope, opts: { kill?: boolean } = {}): Promise<void> {
  const l = layoutOf(s);
  await (opts.kill ? kafka.killKafka(l.kafka) : kafka.stopKafka(l.kafka));
  await kafka.ensureKafka(l, () => undefined);
}
export const killElasticsearch = (s: ServicesScope): Promise<void> => es.killElasticsearch(layoutOf(s).es);
export const startElasticsearch = async (s: ServicesScope): Promise<void> => void (await es.ensureElasticsearch(layoutOf(s), () => undefined));

// --- The optional Patroni-managed cluster (services/patroni) ----------------------------------------------
export { PATRONI_CLUSTER, FAST_TIMING, type PatroniTiming } from './patroni/layout.ts';
export type { PatroniHealth, PatroniAction } from './patroni/cluster.ts';
export type { PatroniMemberView } from './patroni/member.ts';

const patroniOf = (s: ServicesScope) => patroniLayout(s.services);
const memberOf = (s: ServicesScope, i: number) => {
  const m = patroniOf(s).members[i];
  if (!m) throw new RangeError(`no Patroni member ${i}`);
  return m;
};

/**
 * Installs Patroni and etcd when missing, then brings the Patroni cluster to its canonical shape (member n0
 * leader, the others streaming from it): idempotent, seconds when it runs; a rebuild (~10 s) loses its data.
 */
export async function ensurePatroniCluster(s: ServicesScope, opts: { wipe?: boolean; timing?: patroniL.PatroniTiming; install?: boolean; log?: (line: string) => void } = {}): Promise<string> {
  const l = patroniOf(s);
  if (opts.install ?? true) {
    const installed = await installMissing({ pgBin: s.services.pgBin, browser: false, patroni: true, ...(opts.log ? { log: opts.log } : {}) });
    if (installed.length) opts.log?.(`installed ${installed.join(', ')}`);
  }
  return withRunLock(s.services.runDir, async () => {
    await assertReachable(l.pgUser, s.services.runDir);
    const r = await patroniCluster.ensurePatroniCluster(l, opts);
    return r.reason ? `${r.action} (${r.reason})` : r.action;
  });
}
/** Stops every member (replicas first) and etcd. */
export const stopPatroniCluster = (s: ServicesScope): Promise<void> => withRunLock(s.services.runDir, () => patroniCluster.stopPatroniCluster(patroniOf(s)));
export const patroniHealth = (s: ServicesScope): Promise<patroniCluster.PatroniHealth> => patroniCluster.patroniHealth(patroniOf(s));
/** GET /cluster from the first member that answers. */
export const patroniMembers = (s: ServicesScope): Promise<patroniMember.PatroniMemberView[] | null> => patroniMember.clusterView(patroniOf(s));
/** The member Patroni reports as the running leader, or null. */
export const patroniLeader = async (s: ServicesScope): Promise<string | null> => patroniMember.leaderOf(await patroniMember.clusterView(patroniOf(s)));
/** Node death: SIGKILL of member i's Patroni and its PostgreSQL (postmaster and backends). */
export const killPatroniMember = (s: ServicesScope, i: number): Promise<void> => patroniMember.killMember(memberOf(s, i));
/** SIGKILL of member i's Patroni process only: its PostgreSQL keeps running, unmanaged. */
export const killPatroniProcess = (s: ServicesScope, i: number): Promise<void> => patroniMember.killPatroniProcess(memberOf(s, i));
/** Starts member i's Patroni again (it rejoins: pg_rewind of a former leader, or adopts a running PostgreSQL). */
export const startPatroniMember = async (s: ServicesScope, i: number, timing?: patroniL.PatroniTiming): Promise<void> => void (await patroniMember.startMember(patroniOf(s), memberOf(s, i), timing ?? patroniL.FAST_TIMING));
/** Member i's PostgreSQL, as pgNodeInfo describes a node of the other clusters. */
export function patroniNodeInfo(s: ServicesScope, i: number): PgNodeInfo & { restUrl: string } {
  const m = memberOf(s, i);
  return { name: m.name, host: '127.0.0.1', port: m.pg.port, dataDir: m.pg.dataDir, slot: m.pg.slot, restUrl: m.url };
}
/** The daemon's config entry for the Patroni cluster: member names are node names; failover follows Patroni. */
export function patroniClusterConfig(s: ServicesScope) {
  const l = patroniOf(s);
  return {
    name: l.cluster,
    nodes: l.members.map((m) => ({ name: m.name, host: '127.0.0.1', port: m.pg.port })),
    database: l.database,
    user: l.pgUser,
    failover: { mode: 'patroni' as const, patroniUrls: l.members.map((m) => m.url) },
  };
}
