// One Patroni member: a Patroni process (run as postgres under /usr/bin/python3, not a python found on PATH)
// that manages its PostgreSQL. Start, stop, kill, freeze, and read its REST API.
import { rmSync, writeFileSync } from 'node:fs';
import { userIds } from '../install.ts';
import { killNode, postmasterPid } from '../pg/node.ts';
import { claimPort } from '../ports.ts';
import { isAlive, readPid, run, signalTree, spawnDetached, terminate, waitExit, writePid } from '../proc.ts';
import { memberConfig, type PatroniLayout, type PatroniMemberSpec, type PatroniTiming } from './layout.ts';

/** A directory owned by `user`, mode 700 (PostgreSQL and Patroni insist on it for data directories). */
export async function ownedDir(user: string, dir: string): Promise<void> {
  await run('install', ['-d', '-o', user, '-g', user, '-m', '700', dir]);
}

export function patroniPid(m: PatroniMemberSpec): number | undefined {
  const pid = readPid(m.pidFile);
  return isAlive(pid) ? pid : undefined;
}

/** Starts the member's Patroni unless it runs (Patroni then starts or adopts its PostgreSQL). */
export async function startMember(l: PatroniLayout, m: PatroniMemberSpec, timing: PatroniTiming): Promise<boolean> {
  if (patroniPid(m) !== undefined) return false;
  await ownedDir(l.pgUser, m.dir);
  await claimPort(m.restPort, `${m.name} (Patroni REST)`, { runDir: l.runDir, takeOver: l.takeOver });
  // A PostgreSQL left running by a killed Patroni is adopted by the new one; only a free port needs claiming.
  if (postmasterPid(m.pg) === undefined) await claimPort(m.pg.port, m.name, { runDir: l.runDir, takeOver: l.takeOver });
  writeFileSync(m.configFile, `${JSON.stringify(memberConfig(l, m, timing), null, 2)}\n`, { mode: 0o600 });
  await run('chown', [`${l.pgUser}:${l.pgUser}`, m.configFile]);
  const { uid, gid } = await userIds(l.pgUser);
  const pid = spawnDetached('/usr/bin/python3', ['/usr/bin/patroni', m.configFile], {
    logFile: m.logFile,
    cwd: m.dir,
    uid,
    gid,
    // Patroni must run on the system python with Debian's modules, whatever python environment we run in.
    env: { HOME: m.dir, PYTHONPATH: undefined, PYTHONHOME: undefined, VIRTUAL_ENV: undefined, PYTHONDONTWRITEBYTECODE: '1' },
  });
  writePid(m.pidFile, pid);
  return true;
}

/** Graceful: Patroni stops its PostgreSQL (fast) and exits; whatever is left after the grace period is killed. */
export async function stopMember(m: PatroniMemberSpec): Promise<void> {
  const pid = patroniPid(m);
  if (pid !== undefined) await terminate(pid, { graceMs: 20_000 });
  rmSync(m.pidFile, { force: true });
  // A PostgreSQL whose Patroni was killed earlier has nobody to stop it.
  if (postmasterPid(m.pg) !== undefined) {
    signalTree(postmasterPid(m.pg)!, 'SIGCONT');
    try {
      process.kill(postmasterPid(m.pg)!, 'SIGINT'); // fast shutdown
    } catch {
      /* gone */
    }
    const pmPid = postmasterPid(m.pg);
    if (pmPid !== undefined && !(await waitExit(pmPid, 15_000))) await killNode(m.pg);
  }
}

/** SIGKILL the Patroni process only: its PostgreSQL keeps running, unmanaged (no watchdog here). */
export async function killPatroniProcess(m: PatroniMemberSpec): Promise<void> {
  const pid = patroniPid(m);
  if (pid === undefined) return;
  // Not the tree: the postmaster may be Patroni's child and must survive.
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  await waitExit(pid, 5_000);
  rmSync(m.pidFile, { force: true });
}

/** A node death: Patroni and its PostgreSQL (postmaster and every backend) SIGKILLed. */
export async function killMember(m: PatroniMemberSpec): Promise<void> {
  const pid = patroniPid(m);
  if (pid !== undefined) signalTree(pid, 'SIGSTOP'); // it must not restart the postmaster in between
  await killNode(m.pg);
  if (pid !== undefined) {
    for (const p of signalTree(pid, 'SIGKILL')) await waitExit(p, 5_000);
  }
  rmSync(m.pidFile, { force: true });
}

export function freezeMember(m: PatroniMemberSpec): void {
  for (const pid of [patroniPid(m), postmasterPid(m.pg)]) if (pid !== undefined) signalTree(pid, 'SIGSTOP');
}

export function thawMember(m: PatroniMemberSpec): void {
  for (const pid of [postmasterPid(m.pg), patroniPid(m)]) if (pid !== undefined) signalTree(pid, 'SIGCONT');
}

// --- REST API -------------------------------------------------------------------------------------------

export interface PatroniMemberView {
  name: string;
  role: string;
  state: string;
  host?: string;
  port?: number;
  timeline?: number;
  lag?: number | string;
}

export async function getJson<T>(url: string, timeoutMs = 1_000): Promise<{ status: number; body: T | null }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: T | null = null;
  try {
    body = JSON.parse(text) as T;
  } catch {
    body = null;
  }
  return { status: res.status, body };
}

/** GET /cluster from the first member that answers; null when none does. */
export async function clusterView(l: PatroniLayout, timeoutMs = 1_000): Promise<PatroniMemberView[] | null> {
  for (const m of l.members) {
    if (patroniPid(m) === undefined) continue;
    try {
      const r = await getJson<{ members?: PatroniMemberView[] }>(`${m.url}/cluster`, timeoutMs);
      if (r.status === 200 && r.body?.members) return r.body.members;
    } catch {
      /* next member */
    }
  }
  return null;
}

export function leaderOf(members: readonly PatroniMemberView[] | null): string | null {
  return members?.find((x) => x.role === 'leader' && x.state === 'running')?.name ?? null;
}
