// The Patroni cluster's DCS: one etcd 3.4 node on loopback, run as postgres, detached with our own pidfile.
import { rmSync } from 'node:fs';
import { userIds } from '../install.ts';
import { claimPort } from '../ports.ts';
import { isAlive, readPid, spawnDetached, terminate, waitFor, writePid } from '../proc.ts';
import { ownedDir } from './member.ts';
import type { EtcdSpec, PatroniLayout } from './layout.ts';

export function etcdPid(spec: EtcdSpec): number | undefined {
  const pid = readPid(spec.pidFile);
  return isAlive(pid) ? pid : undefined;
}

export async function etcdHealthy(spec: EtcdSpec, timeoutMs = 1_000): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${spec.port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

/** Starts etcd unless it runs; resolves once /health says true. Returns whether it started it. */
export async function ensureEtcd(l: PatroniLayout): Promise<boolean> {
  const spec = l.etcd;
  if (etcdPid(spec) !== undefined) {
    await waitFor(`etcd on ${spec.port}`, () => etcdHealthy(spec), { timeoutMs: 15_000, intervalMs: 100 });
    return false;
  }
  await claimPort(spec.port, 'etcd', { runDir: l.runDir, takeOver: l.takeOver });
  await claimPort(spec.peerPort, 'etcd (peer)', { runDir: l.runDir, takeOver: l.takeOver });
  await ownedDir(l.pgUser, spec.dir);
  const { uid, gid } = await userIds(l.pgUser);
  const peer = `http://127.0.0.1:${spec.peerPort}`;
  const client = `http://127.0.0.1:${spec.port}`;
  const pid = spawnDetached(
    '/usr/bin/etcd',
    [
      '--name', 'tagstream',
      '--data-dir', spec.dataDir,
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `tagstream=${peer}`,
      '--initial-cluster-state', 'new',
      '--log-level', 'warn',
      '--logger', 'zap',
    ],
    { logFile: spec.logFile, cwd: spec.dir, uid, gid },
  );
  writePid(spec.pidFile, pid);
  await waitFor(`etcd on ${spec.port}`, async () => {
    if (!isAlive(pid)) throw new Error(`etcd exited during start: see ${spec.logFile}`);
    return etcdHealthy(spec);
  }, { timeoutMs: 30_000, intervalMs: 100 });
  return true;
}

export async function stopEtcd(spec: EtcdSpec): Promise<void> {
  const pid = etcdPid(spec);
  if (pid !== undefined) await terminate(pid, { graceMs: 5_000 });
  rmSync(spec.pidFile, { force: true });
}
