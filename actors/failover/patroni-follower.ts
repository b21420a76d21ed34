// Patroni mode: polls Patroni's /cluster (a few times a second, separately from the node probes so a hung
// node never delays it), reports a new leader at once, keeps the replica list in step with the members
// Patroni runs (readmitting a former primary it has rewound onto the leader's timeline), and answers the
// replication watcher's question "is the primary still the leader, as seen after this moment?".
import type { Topology } from '../../adapters/pg/port.ts';
import { sleep, type Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { fetchPatroniView, type FetchPatroniView, type PatroniView } from './patroni.ts';

export interface PatroniFollowerDeps {
  cluster: string;
  nodes: readonly string[];
  urls: readonly string[];
  clock: Clock;
  logger: Logger;
  pollMs: number;
  timeoutMs: number;
  fetchView?: FetchPatroniView;
  /** The topology the failover machine holds, and whether it is at rest (healthy). */
  topology(): Topology;
  atRest(): boolean;
  /** Patroni names another leader than our primary. */
  onLeader(leader: string): void;
  /** The running replicas differ from ours; `readmit` are fenced nodes Patroni rejoined on the leader's timeline. */
  onReplicas(replicas: string[], readmit: string[]): Promise<void>;
}

interface Confirmation {
  since: number;
  primary: string;
  resolve(ok: boolean): void;
}

const RUNNING = new Set(['running', 'streaming']);
const REPLICA = new Set(['replica', 'sync_standby']);

/** What Patroni's members say our replica list should be (pure, for tests). */
export function replicasFromView(view: PatroniView, nodes: readonly string[], topo: Topology): { replicas: string[]; readmit: string[] } | null {
  if (view.leader !== topo.primary) return null;
  const leader = view.members.find((m) => m.name === view.leader);
  const replicas = view.members
    .filter((m) => m.name !== view.leader && nodes.includes(m.name) && REPLICA.has(m.role) && RUNNING.has(m.state ?? ''))
    // A member still on an older timeline has not been rewound yet: not a replica of this leader.
    .filter((m) => m.timeline === undefined || leader?.timeline === undefined || m.timeline === leader.timeline)
    .map((m) => m.name);
  const readmit = replicas.filter((r) => topo.fenced.includes(r));
  const same = replicas.length === topo.replicas.length && replicas.every((r) => topo.replicas.includes(r));
  return same && readmit.length === 0 ? null : { replicas, readmit };
}

export class PatroniFollower {
  private waiting: Confirmation[] = [];
  private last: { view: PatroniView; at: number } | null = null;

  constructor(private readonly deps: PatroniFollowerDeps) {}

  get lastView(): { view: PatroniView; at: number } | null {
    return this.last;
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.poll();
      } catch (err) {
        this.deps.logger.warn({ err }, 'following Patroni: a poll failed');
      }
      await sleep(this.deps.clock, this.deps.pollMs, signal).catch(() => undefined);
    }
    for (const w of this.waiting) w.resolve(false);
    this.waiting = [];
  }

  /**
   * Resolves true once a poll started at or after `since` names `primary` as the leader; false when it names
   * another member or nobody, or when no poll succeeds within two timeouts (unproven is not proven).
   */
  confirmLeader(primary: string, since: number): Promise<boolean> {
    return new Promise((resolve) => {
      let done = false;
      const timer = this.deps.clock.setTimeout(() => finish(false), 2 * this.deps.timeoutMs + this.deps.pollMs);
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        this.deps.clock.clearTimeout(timer);
        this.waiting = this.waiting.filter((w) => w !== entry);
        resolve(ok);
      };
      const entry: Confirmation = { since, primary, resolve: finish };
      this.waiting.push(entry);
    });
  }

  private async poll(): Promise<void> {
    const { deps } = this;
    const startedAt = deps.clock.now();
    const view = await (deps.fetchView ?? fetchPatroniView)(deps.urls, deps.timeoutMs);
    if (!view) return;
    this.last = { view, at: startedAt };
    for (const w of this.waiting.filter((x) => x.since <= startedAt)) w.resolve(view.leader !== null && view.leader === w.primary);
    const topo = deps.topology();
    if (view.leader && view.leader !== topo.primary && deps.nodes.includes(view.leader)) {
      deps.onLeader(view.leader);
      return;
    }
    if (view.leader && !deps.nodes.includes(view.leader)) deps.logger.error({ leader: view.leader, nodes: deps.nodes }, 'Patroni names a leader that is not one of our nodes: member names must equal node names');
    if (!deps.atRest()) return;
    const next = replicasFromView(view, deps.nodes, topo);
    if (next) await deps.onReplicas(next.replicas, next.readmit);
  }
}
