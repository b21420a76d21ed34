// CPU time (user + system, µs) of a set of process trees, from /proc: on a machine shared with other people's
// work the machine-wide busy time of /proc/stat counts their load too, while the CPU of our own PostgreSQL
// nodes (every backend, walsender, walreceiver and startup process under each postmaster) and of this process
// does not move with it. Linux only; null elsewhere.
import { readdirSync, readFileSync } from 'node:fs';

const ticks = 100; // USER_HZ: /proc/<pid>/stat counts in clock ticks of 1/100 s on Linux

/** utime + stime of one process in ticks, and its parent; null when it is gone. */
function stat(pid: number): { ppid: number; cpu: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after its closing parenthesis.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

/**
 * CPU of the processes under the postmasters whose PIDs are given (the postmasters included), in µs. Children
 * that exited since the last call take their time with them unless they were waited for (cutime/cstime, fields
 * 16–17, are counted for that reason).
 */
export function treeCpuUs(roots: readonly number[]): number | null {
  let pids: number[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    return null;
  }
  const rootSet = new Set(roots);
  let total = 0;
  for (const pid of pids) {
    const s = stat(pid);
    if (s && (rootSet.has(pid) || rootSet.has(s.ppid))) total += s.cpu;
  }
  return (total * 1e6) / ticks;
}

/** This process's CPU (user + system) in µs. */
export function selfCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** The postmaster PID of a data directory (first line of postmaster.pid); null when it is not running. */
export function postmasterPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
