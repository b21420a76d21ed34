// `status` and `down`: what runs where, and stopping all of it gracefully (SIGKILL after a grace period).
import { rmSync } from 'node:fs';
import type { Config } from '../config/index.ts';
import { esPid, stopElasticsearch } from './elasticsearch/node.ts';
import { kafkaPid, stopKafka } from './kafka/broker.ts';
import { servicesLayout } from './layout.ts';
import { withRunLock } from './lock.ts';
import { stopCluster } from './pg/cluster.ts';
import { nodeRole, postmasterPid } from './pg/node.ts';
import { procState } from './proc.ts';
import { redisPid, redisState, stopRedis } from './redis.ts';
import type { ServiceKind } from './ensure.ts';
import { existsSync } from 'node:fs';
import { patroniRunning, stopPatroniCluster } from './patroni/cluster.ts';
import { etcdPid } from './patroni/etcd.ts';
import { patroniLayout } from './patroni/layout.ts';
import { clusterView, patroniPid } from './patroni/member.ts';

export interface ServiceStatus {
  kind: ServiceKind;
  name: string;
  /** up, down, frozen (SIGSTOPped), or a PostgreSQL role: primary, replica, unreachable. */
  state: string;
  pid?: number;
  port: number;
}

export async function servicesStatus(config: Readonly<Config>): Promise<ServiceStatus[]> {
  const l = servicesLayout(config.services);
  const pg = await Promise.all(
    l.pg.flatMap((c) => c.nodes).map(async (n): Promise<ServiceStatus> => ({ kind: 'pg', name: n.name, state: await nodeRole(n), pid: postmasterPid(n), port: n.port })),
  );
  const redis = l.redis.map((r): ServiceStatus => ({ kind: 'redis', name: r.name, state: redisState(r), pid: redisPid(r), port: r.port }));
  const jvm = (kind: ServiceKind, name: string, pid: number | undefined, port: number): ServiceStatus => ({
    kind,
    name,
    state: pid === undefined ? 'down' : procState(pid) === 'T' ? 'frozen' : 'up',
    pid,
    port,
  });
  return [...pg, ...redis, jvm('kafka', 'kafka', kafkaPid(l.kafka), l.kafka.port), jvm('es', 'elasticsearch', esPid(l.es), l.es.port), ...(await patroniStatus(config))];
}

/** The optional Patroni cluster, when it was ever started here: each member's role as Patroni reports it, and etcd. */
async function patroniStatus(config: Readonly<Config>): Promise<ServiceStatus[]> {
  const p = patroniLayout(config.services);
  if (!existsSync(p.dir)) return [];
  const view = await clusterView(p);
  const members = p.members.map((m): ServiceStatus => {
    const pid = patroniPid(m);
    const v = view?.find((x) => x.name === m.name);
    const state = pid === undefined ? (postmasterPid(m.pg) !== undefined ? 'unmanaged' : 'down') : procState(pid) === 'T' ? 'frozen' : v ? `${v.role}/${v.state}` : 'up';
    return { kind: 'patroni', name: m.name, state, pid, port: m.restPort };
  });
  const etcd = etcdPid(p.etcd);
  return [...members, { kind: 'patroni', name: 'etcd', state: etcd === undefined ? 'down' : 'up', pid: etcd, port: p.etcd.port }];
}

export function formatStatus(rows: ServiceStatus[]): string {
  return rows.map((r) => `${r.kind.padEnd(7)} ${r.name.padEnd(14)} ${r.state.padEnd(16)} pid ${String(r.pid ?? '-').padEnd(8)} 127.0.0.1:${r.port}`).join('\n');
}

export async function stopServices(config: Readonly<Config>): Promise<void> {
  const l = servicesLayout(config.services);
  await withRunLock(l.runDir, async () => {
    await Promise.all([
      ...l.pg.map((c) => stopCluster(l, c)),
      ...l.redis.map((r) => stopRedis(r)),
      stopKafka(l.kafka),
      stopElasticsearch(l.es),
      ...(patroniRunning(patroniLayout(config.services)) ? [stopPatroniCluster(patroniLayout(config.services))] : []),
    ]);
  });
}

/** down, then wipe the run directory (downloads in cacheDir are kept). */
export async function resetServices(config: Readonly<Config>): Promise<void> {
  await stopServices(config);
  rmSync(config.services.runDir, { recursive: true, force: true });
}
