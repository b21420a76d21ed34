// Launched Redis instances: Debian's redis-server, no persistence, daemonized with a pidfile, loopback only.
import { mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import type { RedisSpec, ServicesLayout } from './layout.ts';
import { claimPort } from './ports.ts';
import { isAlive, procState, readPid, run, signalTree, terminate, waitExit, waitFor } from './proc.ts';

export type RedisState = 'up' | 'frozen' | 'down';

export function redisPid(spec: RedisSpec): number | undefined {
  const pid = readPid(spec.pidFile);
  return isAlive(pid) ? pid : undefined;
}

export function redisState(spec: RedisSpec): RedisState {
  const pid = redisPid(spec);
  if (pid === undefined) return 'down';
  return procState(pid) === 'T' ? 'frozen' : 'up';
}

/** Sends PING over a raw socket and resolves true on +PONG (no client library, no reconnect logic). */
export function ping(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** Starts the instance unless it runs; resolves once it answers PING. Returns whether it started it. */
export async function startRedis(l: ServicesLayout, spec: RedisSpec): Promise<boolean> {
  if (redisPid(spec) !== undefined) return false;
  await claimPort(spec.port, spec.name, { runDir: l.runDir, takeOver: l.takeOver });
  mkdirSync(spec.dir, { recursive: true });
  rmSync(spec.pidFile, { force: true });
  await run('redis-server', [
    '--port', String(spec.port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--dir', spec.dir,
    '--daemonize', 'yes',
    '--pidfile', spec.pidFile,
    '--logfile', spec.logFile,
    '--maxmemory', '256mb',
    '--maxmemory-policy', 'allkeys-lru',
  ]);
  await waitFor(`${spec.name} to answer PING on ${spec.port}`, () => ping(spec.port), { timeoutMs: 10_000, intervalMs: 20 });
  return true;
}

export async function stopRedis(spec: RedisSpec): Promise<void> {
  const pid = redisPid(spec);
  if (pid !== undefined) await terminate(pid, { graceMs: 5_000 });
  rmSync(spec.pidFile, { force: true });
}

export async function killRedis(spec: RedisSpec): Promise<void> {
  const pid = redisPid(spec);
  if (pid === undefined) return;
  signalTree(pid, 'SIGKILL');
  await waitExit(pid, 5_000);
  rmSync(spec.pidFile, { force: true });
}

export function freezeRedis(spec: RedisSpec): void {
  const pid = redisPid(spec);
  if (pid !== undefined) signalTree(pid, 'SIGSTOP');
}

export function thawRedis(spec: RedisSpec): void {
  const pid = redisPid(spec);
  if (pid !== undefined) signalTree(pid, 'SIGCONT');
}
