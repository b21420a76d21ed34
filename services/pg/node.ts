// One PostgreSQL node of a launched cluster: start, stop, kill, freeze, thaw, and ask its role (creating its
// data directory is seed.ts). Every server binary runs as the `postgres` user; the data directory belongs to it.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { PgNodeSpec, ServicesLayout } from '../layout.ts';
import { isAlive, procState, readPid, run, signalTree, waitExit } from '../proc.ts';
import { claimPort } from '../ports.ts';
import { writeNodeConf } from './conf.ts';
import { queryOne } from './sql.ts';

export type NodeRole = 'primary' | 'replica' | 'frozen' | 'unreachable' | 'down';

export function postmasterPid(spec: PgNodeSpec): number | undefined {
  const pid = readPid(path.join(spec.dataDir, 'postmaster.pid'));
  return isAlive(pid) ? pid : undefined;
}

export function hasData(spec: PgNodeSpec): boolean {
  return existsSync(path.join(spec.dataDir, 'PG_VERSION'));
}

export async function asPostgres(l: ServicesLayout, bin: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return (await run(path.join(l.pgBin, bin), args, { user: l.pgUser, timeoutMs })).stdout;
}

/** A directory owned by postgres, mode 700 (PostgreSQL insists on it for data directories). */
export async function ownedDir(l: ServicesLayout, dir: string): Promise<void> {
  await run('install', ['-d', '-o', l.pgUser, '-g', l.pgUser, '-m', '700', dir]);
}

/**
 * Starts a node. `wait: false` returns once the postmaster runs, without waiting for connections: a standby
 * that cannot reach a consistent state (the WAL it needs is gone) would otherwise hold pg_ctl for minutes.
 */
export async function startNode(l: ServicesLayout, spec: PgNodeSpec, opts: { wait?: boolean } = {}): Promise<void> {
  if (postmasterPid(spec) !== undefined) return;
  clearStaleLock(spec);
  await claimPort(spec.port, spec.name, { runDir: l.runDir, takeOver: l.takeOver });
  await writeNodeConf(l, spec);
  await asPostgres(l, 'pg_ctl', ['-D', spec.dataDir, '-l', spec.logFile, ...(opts.wait === false ? ['-W'] : ['-w', '-t', '120']), '-s', 'start']);
}

/**
 * A killed postmaster can linger as a zombie until init reaps it, and PostgreSQL (and pg_rewind's single-user
 * crash recovery) takes a zombie's pid in postmaster.pid for a live server. Call only when the node is dead.
 */
export function clearStaleLock(spec: PgNodeSpec): void {
  if (postmasterPid(spec) === undefined) rmSync(path.join(spec.dataDir, 'postmaster.pid'), { force: true });
}

/** Clean shutdown (fast mode), SIGKILL of the tree if it does not finish. */
export async function stopNode(l: ServicesLayout, spec: PgNodeSpec): Promise<void> {
  const pid = postmasterPid(spec);
  if (pid === undefined) return;
  signalTree(pid, 'SIGCONT');
  await run(path.join(l.pgBin, 'pg_ctl'), ['-D', spec.dataDir, '-m', 'fast', '-w', '-t', '30', '-s', 'stop'], { user: l.pgUser, check: false });
  if (!(await waitExit(pid, 5_000))) await killNode(spec);
}

/** Simulated node death: SIGKILL the postmaster and all its children, and wait until they are gone. */
export async function killNode(spec: PgNodeSpec): Promise<void> {
  const pid = postmasterPid(spec);
  if (pid === undefined) return;
  const pids = signalTree(pid, 'SIGKILL');
  // Every child must be gone too: a surviving backend would keep the shared memory and block a restart.
  for (const p of pids) await waitExit(p, 10_000);
  clearStaleLock(spec);
}

/** SIGSTOP the postmaster and every child: the node hangs (connections stall, no replication). */
export function freezeNode(spec: PgNodeSpec): void {
  const pid = postmasterPid(spec);
  if (pid !== undefined) signalTree(pid, 'SIGSTOP');
}

export function thawNode(spec: PgNodeSpec): void {
  const pid = postmasterPid(spec);
  if (pid !== undefined) signalTree(pid, 'SIGCONT');
}

export async function nodeRole(spec: PgNodeSpec, timeoutMs = 2_000): Promise<NodeRole> {
  const pid = postmasterPid(spec);
  if (pid === undefined) return 'down';
  if (procState(pid) === 'T') return 'frozen';
  try {
    const row = await queryOne<{ r: boolean }>(spec, 'SELECT pg_is_in_recovery() AS r', [], { timeoutMs });
    return row.r ? 'replica' : 'primary';
  } catch {
    return 'unreachable';
  }
}
