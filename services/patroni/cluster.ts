// The Patroni-managed cluster in its canonical shape: etcd up, member n0 the leader, n1 and n2 replicas
// streaming from it. `ensurePatroniCluster` gets there with as little work as possible: start what is down,
// let Patroni rejoin a former leader, switch the leadership back to n0 — and rebuilds from scratch otherwise.
// "running" in /cluster does not mean streaming: readiness is pg_stat_replication on the leader.
import { existsSync, rmSync } from 'node:fs';
import { hasData, postmasterPid } from '../pg/node.ts';
import { query } from '../pg/sql.ts';
import { serviceError, waitFor } from '../proc.ts';
import { ensureEtcd, etcdPid, stopEtcd } from './etcd.ts';
import { FAST_TIMING, type PatroniLayout, type PatroniTiming } from './layout.ts';
import { clusterView, killMember, leaderOf, ownedDir, patroniPid, startMember, stopMember, thawMember, type PatroniMemberView } from './member.ts';

export interface PatroniHealth {
  /** Canonical: settled, with member n0 the leader. */
  healthy: boolean;
  /** One running leader, every other member a running replica streaming from it. */
  settled: boolean;
  leader: string | null;
  members: PatroniMemberView[] | null;
  /** Members streaming from the leader (pg_stat_replication.state = 'streaming'). */
  streaming: string[];
  problem?: string;
}

export type PatroniAction = 'left running' | 'started' | 'switched over' | 'built' | 'rebuilt';

export async function patroniHealth(l: PatroniLayout): Promise<PatroniHealth> {
  const members = await clusterView(l);
  const leader = leaderOf(members);
  let streaming: string[] = [];
  const leaderSpec = l.members.find((m) => m.name === leader);
  if (leaderSpec) {
    const rows = await query<{ application_name: string }>(leaderSpec.pg, `SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'`, [], { timeoutMs: 2_000 }).catch(() => []);
    streaming = rows.map((r) => r.application_name);
  }
  const problems: string[] = [];
  if (!members) problems.push('no Patroni REST API answers');
  else if (!leader) problems.push('no running leader');
  else {
    for (const m of l.members.filter((x) => x.name !== leader)) {
      const v = members.find((x) => x.name === m.name);
      if (!v) problems.push(`${m.name} is not a member`);
      else if (v.role === 'leader' || (v.state !== 'running' && v.state !== 'streaming')) problems.push(`${m.name} is ${v.role} ${v.state}`);
      else if (!streaming.includes(m.name)) problems.push(`${m.name} is not streaming from ${leader}`);
    }
  }
  const settled = problems.length === 0;
  if (settled && leader !== l.members[0]!.name) problems.push(`leader is ${leader}, not ${l.members[0]!.name}`);
  return { healthy: problems.length === 0, settled, leader, members, streaming, ...(problems.length ? { problem: problems.join('; ') } : {}) };
}

async function waitUntil(l: PatroniLayout, what: string, done: (h: PatroniHealth) => boolean, timeoutMs: number): Promise<PatroniHealth> {
  let last: PatroniHealth | undefined;
  try {
    await waitFor(`${l.cluster}: ${what}`, async () => {
      last = await patroniHealth(l);
      return done(last);
    }, { timeoutMs, intervalMs: 200 });
  } catch {
    // the caller decides
  }
  return last ?? (await patroniHealth(l));
}

export async function ensurePatroniCluster(l: PatroniLayout, opts: { timing?: PatroniTiming; wipe?: boolean } = {}): Promise<{ action: PatroniAction; reason?: string }> {
  const timing = opts.timing ?? FAST_TIMING;
  // A cluster found completely stopped is built afresh (its data is test data): started one by one, the first
  // member up finds no leader and no peer to compare with, takes the lead with whatever WAL it has — a former
  // leader on an abandoned timeline would fork history, and the others could never follow it.
  const cold = !l.members.some((m) => patroniPid(m) !== undefined || postmasterPid(m.pg) !== undefined);
  if (opts.wipe || cold || !hasData(l.members[0]!.pg) || !existsSync(l.etcd.dataDir)) {
    const fresh = !existsSync(l.dir);
    await buildPatroniCluster(l, timing);
    return fresh ? { action: 'built' } : { action: 'rebuilt', reason: opts.wipe ? 'wipe requested' : cold ? 'found stopped' : 'no data' };
  }
  for (const m of l.members) thawMember(m);
  await ensureEtcd(l);
  let started = false;
  for (const m of l.members) started = (await startMember(l, m, timing)) || started;
  // A former leader that comes back is rewound by its Patroni and rejoins as a replica: wait for that.
  let h = await waitUntil(l, 'one leader, replicas streaming', (x) => x.settled, 30_000);
  if (h.healthy) return { action: started ? 'started' : 'left running' };
  if (h.settled) {
    await switchoverTo(l, h.leader!, l.members[0]!.name).catch(() => undefined);
    h = await waitUntil(l, `${l.members[0]!.name} leader, replicas streaming`, (x) => x.healthy, 30_000);
    if (h.healthy) return { action: 'switched over' };
  }
  await buildPatroniCluster(l, timing);
  return { action: 'rebuilt', reason: h.problem ?? 'unhealthy' };
}

/** Planned leadership change through Patroni's REST API (POST /switchover on the leader). */
export async function switchoverTo(l: PatroniLayout, leader: string, candidate: string): Promise<void> {
  const m = l.members.find((x) => x.name === leader);
  if (!m) throw serviceError(`${l.cluster}: no member ${leader}`);
  const res = await fetch(`${m.url}/switchover`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ leader, candidate }), signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw serviceError(`${l.cluster}: switchover ${leader} → ${candidate} refused: ${res.status} ${await res.text()}`);
}

/** From nothing: fresh etcd, n0 bootstraps (initdb) and becomes leader, then n1 and n2 clone from it. */
export async function buildPatroniCluster(l: PatroniLayout, timing: PatroniTiming = FAST_TIMING): Promise<void> {
  await Promise.all(l.members.map((m) => killMember(m)));
  await stopEtcd(l.etcd);
  rmSync(l.dir, { recursive: true, force: true });
  await ownedDir(l.pgUser, l.dir);
  await ensureEtcd(l);
  const [first, ...others] = l.members;
  await startMember(l, first!, timing);
  await waitFor(`${first!.name} to bootstrap and lead`, async () => {
    if (patroniPid(first!) === undefined) throw serviceError(`${first!.name}: Patroni exited: see ${first!.logFile}`);
    return leaderOf(await clusterView(l)) === first!.name;
  }, { timeoutMs: 90_000, intervalMs: 200 });
  await query(first!.pg, `CREATE DATABASE ${l.database}`, [], { timeoutMs: 30_000 });
  for (const m of others) await startMember(l, m, timing);
  const h = await waitUntil(l, `${first!.name} leader, replicas streaming`, (x) => x.healthy, 90_000);
  if (!h.healthy) throw serviceError(`${l.cluster} did not come up: ${h.problem}`);
}

/** Replicas first, so the leader's shutdown triggers no election; then etcd. */
export async function stopPatroniCluster(l: PatroniLayout): Promise<void> {
  const [first, ...others] = l.members;
  await Promise.all(others.map((m) => stopMember(m)));
  await stopMember(first!);
  await stopEtcd(l.etcd);
}

/** Anything of the Patroni cluster running (for `down` and `status`)? */
export function patroniRunning(l: PatroniLayout): boolean {
  return etcdPid(l.etcd) !== undefined || l.members.some((m) => patroniPid(m) !== undefined || postmasterPid(m.pg) !== undefined);
}
