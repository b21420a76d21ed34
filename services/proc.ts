// Process plumbing for the launcher: run a command, read pidfiles, look at /proc, signal a process tree,
// poll until something is true. The only module of services/ that touches child_process directly.
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { sleep, systemClock } from '../lib/clock.ts';
import { ErrorCodes, TagstreamError, errorMessage } from '../lib/errors.ts';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Run as this user (runuser -u USER --); we are root. */
  user?: string;
  /** Fail instead of resolving when the exit code is not 0 (default true). */
  check?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function serviceError(message: string, cause?: unknown): TagstreamError {
  return new TagstreamError(ErrorCodes.SERVICE_START, message, { cause });
}

/** Runs a command to completion, capturing its output. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, argv] = opts.user ? ['runuser', ['-u', opts.user, '--', cmd, ...args]] : [cmd, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(serviceError(`${cmd}: ${err.message}`, err)));
    child.on('close', (code, signal) => {
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if ((opts.check ?? true) && result.code !== 0) {
        reject(serviceError(`${[cmd, ...args].join(' ')} exited ${code ?? signal}: ${(stderr || stdout).trim().slice(-2000)}`));
      } else resolve(result);
    });
  });
}

/** Starts a long-running process detached from us (own session), output appended to logFile. Returns its pid. */
export function spawnDetached(cmd: string, args: readonly string[], opts: { logFile: string; cwd?: string; env?: Record<string, string | undefined>; uid?: number; gid?: number }): number {
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(cmd, [...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, detached: true, stdio: ['ignore', fd, fd], uid: opts.uid, gid: opts.gid });
    child.unref();
    if (child.pid === undefined) throw serviceError(`could not start ${cmd}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** The first line of a pidfile (postmaster.pid, redis.pid, …), or undefined. */
export function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function writePid(file: string, pid: number): void {
  writeFileSync(file, `${pid}\n`);
}

/** Scheduler state from /proc/PID/stat: R, S, D, T (stopped), Z (zombie) … or undefined when gone. */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number | undefined): pid is number {
  if (pid === undefined) return false;
  const state = procState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** Direct children of a process (from /proc, no ps fork). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // raced with an exiting process
    }
  }
  return out;
}

/** Sends a signal to a process and all of its descendants. For SIGKILL/SIGSTOP the parent is frozen first so
 *  it cannot fork a child we would miss (PostgreSQL backends are their own process-group leaders). */
export function signalTree(pid: number, signal: NodeJS.Signals): number[] {
  const send = (p: number, s: NodeJS.Signals) => {
    try {
      process.kill(p, s);
    } catch {
      // already gone
    }
  };
  if (signal === 'SIGKILL' || signal === 'SIGSTOP') send(pid, 'SIGSTOP');
  const all: number[] = [];
  const walk = (p: number) => {
    for (const c of childrenOf(p)) {
      all.push(c);
      walk(c);
    }
  };
  walk(pid);
  if (signal === 'SIGCONT') {
    for (const c of all) send(c, signal);
    send(pid, signal);
  } else {
    send(pid, signal);
    for (const c of all) send(c, signal);
  }
  return [pid, ...all];
}

/** Polls `check` until it returns a value other than undefined/false, or throws after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, opts: { timeoutMs: number; intervalMs?: number }): Promise<T> {
  const deadline = systemClock.now() + opts.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (systemClock.now() > deadline) throw serviceError(`timed out after ${opts.timeoutMs} ms waiting for ${what}${last ? `: ${errorMessage(last)}` : ''}`, last);
    await sleep(systemClock, opts.intervalMs ?? 100);
  }
}

/** Waits until pid is gone; true if it went within timeoutMs. */
export async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  try {
    await waitFor(`pid ${pid} to exit`, () => !isAlive(pid), { timeoutMs, intervalMs: 50 });
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM (or `signal`), wait, then SIGKILL the whole tree. */
export async function terminate(pid: number, opts: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<void> {
  if (!isAlive(pid)) return;
  signalTree(pid, 'SIGCONT'); // a frozen process would sit on SIGTERM forever
  try {
    process.kill(pid, opts.signal ?? 'SIGTERM');
  } catch {
    return;
  }
  if (await waitExit(pid, opts.graceMs ?? 15_000)) return;
  signalTree(pid, 'SIGKILL');
  await waitExit(pid, 5_000);
}
