// Resolves waiters once at least one replica of a cluster has replayed their write (contract 3): its LSN on the
// timeline it was committed on — (timeline, LSN), never a bare LSN, so a write that exists only on a deposed
// primary proves nothing whatever a newer primary's replicas replay. One poll loop per cluster serves every
// waiter: it asks for the highest pending LSN and releases everything below it on the same timeline.
import type { ShardStore } from '../../adapters/pg/port.ts';
import { sleep, type Clock } from '../../lib/clock.ts';
import { TopologyChangedError } from '../../lib/errors.ts';
import { lsnToBigInt } from '../../lib/lsn.ts';
import type { Logger } from '../../lib/logger.ts';

interface Waiter {
  lsn: bigint;
  text: string;
  /** The timeline the write was committed on (undefined: the writer could not tell; a bare LSN is asked). */
  timeline: number | undefined;
  /** When the write began to wait (the injected clock). */
  since: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class ReplicationWatcher {
  private waiters: Waiter[] = [];
  private confirmed = -1n;
  /** The timeline `confirmed` was proven on. */
  private confirmedTimeline: number | undefined = undefined;
  private running = false;
  /** Bumped on every topology change: an LSN from an older primary proves nothing about the new one. */
  epoch = 0;
  private readonly stopped = new AbortController();
  private confirm: ((since: number) => Promise<boolean>) | null = null;
  private allReplicas = false;
  private changed = new AbortController();

  constructor(
    private readonly store: ShardStore,
    private readonly deps: { clock: Clock; logger: Logger; pollMs?: number; maxPollMs?: number },
  ) {}

  /** Aborted at the next topology change (writers backing off from the old primary retry at once). */
  get topologySignal(): AbortSignal {
    return this.changed.signal;
  }

  /** Highest LSN known replayed on a replica. */
  get confirmedLsn(): bigint {
    return this.confirmed;
  }

  get pending(): number {
    return this.waiters.length;
  }

  /**
   * How long the oldest write still waiting has waited for a replica to replay it (0: none waits). Waiters keep
   * their arrival order (releases filter in place), so the oldest is the first.
   */
  oldestUnprovenMs(): number {
    const first = this.waiters[0];
    return first ? Math.max(0, this.deps.clock.now() - first.since) : 0;
  }

  /**
   * Patroni mode: a replica can replay writes of a primary that has already lost its leadership (the other
   * replica was promoted; this one is repointed only a moment later). An LSN then counts as replicated only
   * once `confirm(since)` — a leader check started after the replica answered — says the primary still leads.
   */
  requireConfirmation(confirm: ((since: number) => Promise<boolean>) | null): void {
    this.confirm = confirm;
  }

  /**
   * Patroni mode: Patroni may promote a replica that received less than the other one (both still stream
   * from a primary that keeps writing during the election); a write counts only once every replica has it.
   */
  requireAllReplicas(on: boolean): void {
    this.allReplicas = on;
  }

  waitFor(lsn: string, epoch: number, timeline?: number): Promise<void> {
    if (epoch !== this.epoch) return Promise.reject(new TopologyChangedError(`LSN ${lsn} was written before a topology change`));
    const n = lsnToBigInt(lsn);
    if (n <= this.confirmed && timeline === this.confirmedTimeline) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ lsn: n, text: lsn, timeline, since: this.deps.clock.now(), resolve, reject });
      if (!this.running) void this.loop();
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    let delay = this.deps.pollMs ?? 2;
    try {
      while (this.waiters.length > 0 && !this.stopped.signal.aborted) {
        const target = this.waiters.reduce((m, w) => (w.lsn > m.lsn ? w : m));
        // An answer about the previous primary's replicas proves nothing for waiters of a newer epoch.
        const epoch = this.epoch;
        const ok = await this.proven(target.text, target.timeline);
        if (ok && epoch === this.epoch) {
          this.release(target.lsn, target.timeline);
          delay = this.deps.pollMs ?? 2;
          continue;
        }
        // The waiters may have been drained (topology change) while we awaited: nothing left to check.
        if (this.waiters.length === 0) break;
        // Partial progress: release waiters at or below the lowest pending LSN if it is replicated.
        const lowest = this.waiters.reduce((m, w) => (w.lsn < m.lsn ? w : m));
        if (lowest !== target && epoch === this.epoch && (await this.proven(lowest.text, lowest.timeline)) && epoch === this.epoch) this.release(lowest.lsn, lowest.timeline);
        await sleep(this.deps.clock, delay, this.stopped.signal).catch(() => undefined);
        delay = Math.min(delay * 2, this.deps.maxPollMs ?? 50);
      }
    } finally {
      this.running = false;
    }
  }

  /** Replayed on at least one replica (and, when required, the primary confirmed as leader afterwards). */
  private async proven(lsn: string, timeline: number | undefined): Promise<boolean> {
    try {
      const opts = { ...(this.allReplicas ? { all: true } : {}), ...(timeline !== undefined ? { timeline } : {}) };
      if (!(await this.store.replicatedTo(lsn, Object.keys(opts).length > 0 ? opts : undefined))) return false;
      return this.confirm ? await this.confirm(this.deps.clock.now()) : true;
    } catch (err) {
      this.deps.logger.debug({ err }, 'replication check failed');
      return false;
    }
  }

  /** Releases the waiters at or below `upTo` on `timeline` only: a proof on one timeline says nothing of another. */
  private release(upTo: bigint, timeline: number | undefined): void {
    if (timeline !== this.confirmedTimeline) {
      this.confirmed = upTo;
      this.confirmedTimeline = timeline;
    } else if (upTo > this.confirmed) this.confirmed = upTo;
    const still: Waiter[] = [];
    for (const w of this.waiters) (w.lsn <= upTo && w.timeline === timeline ? w.resolve() : still.push(w));
    this.waiters = still;
  }

  /**
   * The cluster was promoted. Writes whose replication was still unproven may have died with the old primary,
   * and the new primary's LSNs can pass theirs without containing them: fail them all so the ingest re-drives
   * them from the committed offsets.
   */
  topologyChanged(): void {
    this.epoch++;
    this.changed.abort();
    this.changed = new AbortController();
    this.confirmed = -1n;
    this.confirmedTimeline = undefined;
    const err = new TopologyChangedError('cluster topology changed before replication was confirmed');
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
  }

  stop(reason: unknown): void {
    this.stopped.abort();
    for (const w of this.waiters) w.reject(reason);
    this.waiters = [];
  }
}
