// The drill's fault schedule: a pure function of the seed and the duration, so the same seed replays the same
// faults. Every kind appears at least once when the drill is long enough; faults never overlap. With several
// daemons the fleet's own faults (the leader killed, the leader paused past its lease, a daemon restarted while
// an old primary is down) come first, so that even the 3-minute drill has them.

export type FaultKind =
  | 'pg-primary-kill'
  | 'pg-primary-stop'
  | 'pg-replica-kill'
  | 'pg-replica-stop'
  | 'pg-cluster-stop'
  | 'redis-kill'
  | 'redis-stop'
  | 'es-kill'
  | 'kafka-restart'
  | 'daemon-kill'
  | 'leader-kill'
  | 'leader-pause'
  | 'daemon-restart-primary-down';

export const FAULT_KINDS: readonly FaultKind[] = ['pg-primary-kill', 'pg-primary-stop', 'pg-replica-kill', 'pg-replica-stop', 'pg-cluster-stop', 'redis-kill', 'redis-stop', 'es-kill', 'kafka-restart', 'daemon-kill', 'leader-kill', 'leader-pause', 'daemon-restart-primary-down'];

/** The kinds that hit the daemons' failover leadership (first in the schedule when there are several daemons). */
export const FLEET_KINDS: readonly FaultKind[] = ['leader-kill', 'leader-pause', 'daemon-restart-primary-down'];

/** The failover leader's Kafka group session (adapters/kafka DEFAULT_LEADER_SESSION_MS): its lease lapses within it. */
export const LEADER_SESSION_S = 6;

export interface ScheduledFault {
  kind: FaultKind;
  /** Seconds from the start of the drill. */
  at: number;
  /** How long the fault lasts before it is healed (SIGCONT, restart, re-seed). */
  durationS: number;
  /** Which cluster / Redis instance / daemon (daemon-kill) it hits. */
  target: number;
}

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DURATION: Record<FaultKind, [number, number]> = {
  'pg-primary-kill': [15, 25],
  'pg-primary-stop': [8, 15],
  'pg-replica-kill': [8, 15],
  'pg-replica-stop': [5, 10],
  // The whole cluster unreachable (every node SIGSTOPped, nothing to promote): its shards are held (issue 17).
  'pg-cluster-stop': [20, 40],
  'redis-kill': [8, 20],
  'redis-stop': [5, 12],
  'es-kill': [20, 60],
  'kafka-restart': [5, 5],
  'daemon-kill': [3, 6],
  // Down past the group session (another daemon leads meanwhile), then started again: it rejoins as a follower.
  'leader-kill': [LEADER_SESSION_S + 4, LEADER_SESSION_S + 9],
  // SIGSTOP for the lease and a few seconds more, then SIGCONT: it must act on nothing it decided before.
  'leader-pause': [LEADER_SESSION_S + 3, LEADER_SESSION_S + 6],
  // The primary killed, failover, a daemon restarted, the old primary started again (diverged): how long it stays
  // up before it is re-seeded. Every daemon must keep it out of routing meanwhile.
  'daemon-restart-primary-down': [15, 25],
};

export function faultSchedule(opts: { seed: number; seconds: number; clusters: number; redis: number; daemons?: number; warmupS?: number; settleS?: number; clusterOutageS?: number }): ScheduledFault[] {
  const r = rng(opts.seed);
  const warm = opts.warmupS ?? 20;
  const settle = opts.settleS ?? 30;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  // Every kind once, in a seeded order, then random kinds while time remains.
  const seeded = [...FAULT_KINDS].sort(() => r() - 0.5);
  const daemons = opts.daemons ?? 1;
  const order = daemons > 1 ? [...seeded.filter((k) => FLEET_KINDS.includes(k)), ...seeded.filter((k) => !FLEET_KINDS.includes(k))] : seeded;
  const out: ScheduledFault[] = [];
  let t = warm;
  let i = 0;
  for (;;) {
    const kind = i < order.length ? order[i]! : pick(FAULT_KINDS);
    const [lo, hi] = DURATION[kind];
    const drawn = Math.round(lo + r() * (hi - lo));
    const durationS = kind === 'pg-cluster-stop' && opts.clusterOutageS ? opts.clusterOutageS : drawn;
    if (t + durationS + settle > opts.seconds) break;
    const target = kind.startsWith('redis') ? Math.floor(r() * opts.redis) : kind === 'daemon-kill' ? Math.floor(r() * daemons) : Math.floor(r() * opts.clusters);
    out.push({ kind, at: t, durationS, target });
    // Recovery time after each fault before the next one.
    t += durationS + 10 + Math.round(r() * 15);
    i++;
  }
  return out;
}
