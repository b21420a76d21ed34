// Who holds a port we are about to listen on. A stack launched from another checkout (a CI clone run on the
// machine where a developer left one running) is recognised by the marker file in its run directory and
// stopped, unless services.takeOver is false; anything else holding the port is an error that names it.
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAlive, serviceError, signalTree, waitExit } from './proc.ts';

const MARKER = '.tagstream-services';

/** Marks a run directory as ours, so another checkout's launcher can recognise what it started. */
export function markRunDir(runDir: string): void {
  writeFileSync(path.join(runDir, MARKER), 'run directory of tagstream services/\n');
}

function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A = LISTEN
      if (parseInt(f[1]!.split(':')[1]!, 16) === port) inodes.add(f[9]!);
    }
  }
  return inodes;
}

/** The pid listening on 127.0.0.1:port (any address family), if any. */
export function portHolder(port: number): number | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(pid);
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return -1; // listening, but the owner is not visible to us
}

/** The run directory of a process launched by tagstream services/ (from its cwd or a -D/config path), if any. */
export function tagstreamRunDir(pid: number): string | undefined {
  const candidates: string[] = [];
  try {
    candidates.push(readlinkSync(`/proc/${pid}/cwd`));
    candidates.push(...readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a.startsWith('/')));
  } catch {
    return undefined;
  }
  for (const start of candidates) {
    let dir = start;
    for (let up = 0; up < 4; up++) {
      if (existsSync(path.join(dir, MARKER))) return dir;
      dir = path.dirname(dir);
    }
  }
  return undefined;
}

function describe(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 160);
  } catch {
    return '?';
  }
}

/**
 * Makes sure nothing but us will hold `port`. A tagstream service of another run directory is stopped
 * (SIGCONT + SIGTERM, SIGKILL after 20 s) when takeOver is set; anything else is reported, never touched.
 */
export async function claimPort(port: number, what: string, opts: { runDir: string; takeOver: boolean; log?: (line: string) => void }): Promise<void> {
  let pid = portHolder(port);
  // Just after a SIGKILL the listening socket can outlive its owner for a moment: wait for it to go.
  for (let waited = 0; pid !== undefined && pid < 0 && waited < 15_000; waited += 250) {
    await new Promise((r) => setTimeout(r, 250));
    pid = portHolder(port);
  }
  if (pid === undefined) return;
  if (pid < 0) throw serviceError(`${what}: port ${port} is in use by a process we cannot see; set TAGSTREAM_SERVICES__BASE_PORT to another base`);
  const owner = tagstreamRunDir(pid);
  if (owner === undefined || path.resolve(owner) === path.resolve(opts.runDir)) {
    throw serviceError(`${what}: port ${port} is in use by pid ${pid} (${describe(pid)}); stop it or set TAGSTREAM_SERVICES__BASE_PORT to another base`);
  }
  if (!opts.takeOver) {
    throw serviceError(`${what}: port ${port} is held by tagstream services of ${owner} (pid ${pid}): run \`npm run services -- down\` there, or set TAGSTREAM_SERVICES__BASE_PORT`);
  }
  (opts.log ?? ((line: string) => process.stderr.write(`${line}\n`)))(`${what}: port ${port} was held by tagstream services of ${owner} (pid ${pid}); stopping it`);
  signalTree(pid, 'SIGCONT');
  // postgres: SIGINT is a fast shutdown; the JVMs and Redis take SIGTERM.
  process.kill(pid, describe(pid).includes('postgres') ? 'SIGINT' : 'SIGTERM');
  if (!(await waitExit(pid, 20_000))) {
    for (const p of signalTree(pid, 'SIGKILL')) await waitExit(p, 5_000);
  }
  if (isAlive(pid)) throw serviceError(`${what}: could not stop pid ${pid} holding port ${port}`);
}
