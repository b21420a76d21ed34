// A fleet of daemons for the drill and the failover bench: N child processes with the same configuration (the
// same topic and consumer groups, so they share the partitions and elect one failover leader), each on its own
// HTTP port with its own log file. Who leads is read from each daemon's /status.
import { freePort } from '../lib/free-port.ts';
import path from 'node:path';
import { daemonProcess, type DaemonProcess } from './daemon-process.ts';

export interface FleetMember extends DaemonProcess {
  /** d0, d1, …: stable across restarts (the process and its daemon id change). */
  name: string;
  logFile: string;
}

export interface LeadershipView {
  leader: boolean;
  term: number | null;
  daemonId: string;
  current: { term: number; daemonId: string; url: string | null } | null;
}

export interface Fleet {
  members: FleetMember[];
  /** Round-robin over the members that are up and not paused (what a load balancer with health checks does). */
  next(): FleetMember | null;
  /** The member whose /status says it leads now (null when none does, or no answer). */
  leader(): Promise<FleetMember | null>;
  /** Some member that answers /status, the leader first. */
  anyUp(): FleetMember | null;
  status(m: FleetMember, timeoutMs?: number): Promise<Record<string, unknown> | null>;
  /** Thaws the paused, starts the stopped ones. */
  restoreAll(): Promise<void>;
  stopAll(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `n` daemons with `env` plus their own TAGSTREAM_HTTP__PORT; resolves once every one answers /healthz. */
export async function startFleet(opts: { root: string; n: number; env: Record<string, string>; logPrefix: string }): Promise<Fleet> {
  const members: FleetMember[] = [];
  for (let i = 0; i < opts.n; i++) {
    const port = await freePort();
    const logFile = `${opts.logPrefix}.d${i}.log`;
    const d = daemonProcess({ root: opts.root, env: { ...opts.env, TAGSTREAM_HTTP__PORT: String(port) }, port, logFile: path.resolve(logFile) });
    members.push(Object.assign(d, { name: `d${i}`, logFile }));
  }
  await Promise.all(members.map((m) => m.start()));
  return fleetOf(members);
}

export function fleetOf(members: FleetMember[]): Fleet {
  let rr = 0;
  const status = async (m: FleetMember, timeoutMs = 2_000): Promise<Record<string, unknown> | null> => {
    if (!m.available()) return null;
    try {
      const r = await fetch(`${m.url}/status`, { signal: AbortSignal.timeout(timeoutMs) });
      return (await r.json()) as Record<string, unknown>;
    } catch {
      return null;
    }
  };
  return {
    members,
    next() {
      for (let k = 0; k < members.length; k++) {
        const m = members[rr++ % members.length]!;
        if (m.available()) return m;
      }
      return null;
    },
    async leader() {
      const views = await Promise.all(members.map(async (m) => ({ m, s: await status(m) })));
      return views.find((v) => (v.s?.leadership as LeadershipView | undefined)?.leader)?.m ?? null;
    },
    anyUp() {
      return members.find((m) => m.available()) ?? null;
    },
    status,
    async restoreAll() {
      for (const m of members) if (m.paused()) m.resume();
      for (const m of members) if (!m.running()) await m.start();
    },
    async stopAll(signal = 'SIGTERM') {
      await Promise.all(members.map((m) => m.kill(signal)));
    },
  };
}
