// A launched PostgreSQL cluster in its canonical shape: node n0 primary, every other node an async streaming
// replica of it through its own slot. `ensureCluster` gets there with as little work as possible; a cluster
// left in another shape (after a failover test) is rebuilt from scratch, which takes a few seconds.
import { rmSync } from 'node:fs';
import type { PgClusterSpec, ServicesLayout } from '../layout.ts';
import { waitFor } from '../proc.ts';
import { hasData, killNode, nodeRole, ownedDir, postmasterPid, startNode, stopNode, thawNode, type NodeRole } from './node.ts';
import { basebackup, ensureSlot, ensureTemplate, seedFromTemplate } from './seed.ts';
import { query } from './sql.ts';

export interface ClusterHealth {
  healthy: boolean;
  roles: NodeRole[];
  /** application_name of each replica streaming from n0. */
  streaming: string[];
  problem?: string;
}

export type ClusterAction = 'left running' | 'started' | 'built' | 'rebuilt';

export async function clusterHealth(spec: PgClusterSpec): Promise<ClusterHealth> {
  const roles = await Promise.all(spec.nodes.map((n) => nodeRole(n)));
  const [primary, ...replicas] = spec.nodes;
  let streaming: string[] = [];
  let fenced = false;
  if (roles[0] === 'primary') {
    const rows = await query<{ application_name: string | null; ro: string }>(
      primary!,
      `SELECT r.application_name, current_setting('default_transaction_read_only') AS ro FROM (SELECT 1) one LEFT JOIN pg_stat_replication r ON r.state = 'streaming'`,
    ).catch(() => []);
    streaming = rows.flatMap((r) => (r.application_name ? [r.application_name] : []));
    fenced = rows[0]?.ro === 'on';
  }
  const problems: string[] = [];
  if (roles[0] !== 'primary') problems.push(`${primary!.name} is ${roles[0]}`);
  else if (fenced) problems.push(`${primary!.name} is fenced (default_transaction_read_only = on)`);
  replicas.forEach((r, i) => {
    if (roles[i + 1] !== 'replica') problems.push(`${r.name} is ${roles[i + 1]}`);
    else if (!streaming.includes(r.name)) problems.push(`${r.name} is not streaming from ${primary!.name}`);
  });
  return { healthy: problems.length === 0, roles, streaming, ...(problems.length ? { problem: problems.join('; ') } : {}) };
}

/**
 * Waits until the cluster is in its canonical shape. Replicas that are merely catching up get `timeoutMs`;
 * a settled wrong set of roles (two primaries, n0 a replica, a node down) does not heal by waiting: returns at once.
 */
export async function waitHealthy(spec: PgClusterSpec, timeoutMs: number): Promise<ClusterHealth> {
  let last: ClusterHealth | undefined;
  try {
    await waitFor(`${spec.name} primary + streaming replicas`, async () => {
      last = await clusterHealth(spec);
      // 'unreachable' may be a node still starting or a slow machine: keep waiting for it.
      return last.healthy || (!rolesRight(last) && !last.roles.includes('unreachable'));
    }, { timeoutMs, intervalMs: 100 });
  } catch {
    // the caller decides what an unhealthy cluster means
  }
  return last ?? (await clusterHealth(spec));
}

function rolesRight(h: ClusterHealth): boolean {
  return h.roles.every((r, i) => r === (i === 0 ? 'primary' : 'replica'));
}

/** From nothing: every node a copy of the cluster's template, replicas pointed at n0 through their slots. */
export async function buildCluster(l: ServicesLayout, spec: PgClusterSpec): Promise<void> {
  await Promise.all(spec.nodes.map((n) => killNode(n)));
  rmSync(spec.dir, { recursive: true, force: true });
  await ownedDir(l, spec.dir);
  const [primary, ...replicas] = spec.nodes;
  const template = await ensureTemplate(l, spec);
  await Promise.all(spec.nodes.map((n) => seedFromTemplate(l, template, n, n === primary ? undefined : primary!.port)));
  await startNode(l, primary!);
  await Promise.all(replicas.map((r) => ensureSlot(primary!, r.slot)));
  await Promise.all(replicas.map((r) => startNode(l, r)));
  const health = await waitHealthy(spec, 30_000);
  if (!health.healthy) throw new Error(`${spec.name} did not come up: ${health.problem}`);
}

/** Starts what is down, keeps what runs, rebuilds a cluster that is not primary n0 + streaming replicas. */
export async function ensureCluster(l: ServicesLayout, spec: PgClusterSpec, opts: { wipe?: boolean } = {}): Promise<{ action: ClusterAction; reason?: string }> {
  const [primary, ...replicas] = spec.nodes;
  if (opts.wipe) {
    await buildCluster(l, spec);
    return { action: 'rebuilt', reason: 'wipe requested' };
  }
  if (!hasData(primary!)) {
    await buildCluster(l, spec);
    return { action: 'built' };
  }
  let started = false;
  for (const n of spec.nodes) thawNode(n);
  for (const n of spec.nodes) {
    if (postmasterPid(n) !== undefined) continue;
    started = true;
    if (n !== primary && !hasData(n)) await basebackup(l, n, primary!).catch(() => undefined);
    if (hasData(n)) await startNode(l, n).catch(() => undefined);
  }
  await Promise.all(replicas.map((r) => query(r, 'SELECT pg_wal_replay_resume() WHERE pg_is_wal_replay_paused()').catch(() => undefined)));
  await unfence(spec);
  const health = await waitHealthy(spec, 30_000);
  if (health.healthy) return { action: started ? 'started' : 'left running' };
  await buildCluster(l, spec);
  return { action: 'rebuilt', reason: health.problem ?? 'unhealthy' };
}

/** Clean shutdown of every node: replicas first, so the primary's shutdown does not wait on their walsenders. */
/** Undoes a fence left by a failover test (ALTER SYSTEM default_transaction_read_only) on every running node. */
async function unfence(spec: PgClusterSpec): Promise<void> {
  await Promise.all(
    spec.nodes.map(async (n) => {
      const rows = await query<{ ro: string }>(n, `SELECT setting AS ro FROM pg_settings WHERE name = 'default_transaction_read_only' AND source <> 'default'`).catch(() => []);
      if (rows.length === 0) return;
      await query(n, 'ALTER SYSTEM RESET default_transaction_read_only').catch(() => undefined);
      await query(n, 'SELECT pg_reload_conf()').catch(() => undefined);
    }),
  );
}

export async function stopCluster(l: ServicesLayout, spec: PgClusterSpec): Promise<void> {
  const [primary, ...replicas] = spec.nodes;
  await Promise.all(replicas.map((r) => stopNode(l, r)));
  await stopNode(l, primary!);
}
