// Group commit: the shard writers of one cluster hand their batches to the cluster's GroupCommitter, which
// applies every batch waiting at that moment in one transaction. The writers stay separate actors (one crash
// never touches another shard); only the database round trips and the commit are shared. With 64 shards a
// writer's own batch is small, so one transaction per shard per window was the cost that bounded ingest.
//
//  - Natural batching: a batch that arrives while `maxInFlight` transactions run waits for the next one; when
//    the cluster is idle it goes at once. No timer, so no added latency.
//  - Order per shard: a writer has one batch in flight at a time, and a batch is never grouped with (or run
//    beside) another batch of a shard already in a running group. Concurrent groups hold disjoint shard sets,
//    so their advisory locks and rows never meet.
//  - Blame stays with its writer: when a group fails as poison, each member is applied alone, so only the
//    writer whose batch holds the bad command bisects and dead-letters it. Any other error is every member's.
import type { ApplyResult, AssocWrite } from '../../adapters/pg/port.ts';
import { classify } from '../../lib/classify.ts';

/** What a shard writer needs of a cluster: its name and a set-based batch apply (ShardStore has both). */
export interface BatchApplier {
  readonly cluster: string;
  applyBatch(writes: AssocWrite[]): Promise<ApplyResult>;
}

export interface GroupCommitOptions {
  /** A group stops taking batches once it holds this many writes (a single larger batch still goes alone). */
  maxRows: number;
  /** Transactions of this cluster running at once. */
  maxInFlight: number;
  /** Called once per transaction that committed (members: how many shard batches it held). */
  onGroup?: (info: { cluster: string; members: number; rows: number }) => void;
}

interface Member {
  writes: AssocWrite[];
  shards: Set<number>;
  resolve: (r: ApplyResult) => void;
  reject: (e: unknown) => void;
}

export class GroupCommitter implements BatchApplier {
  private readonly queue: Member[] = [];
  /** Shards of batches in running groups. */
  private readonly busy = new Set<number>();
  private running = 0;

  constructor(
    private readonly inner: BatchApplier,
    private readonly opts: GroupCommitOptions,
  ) {
    if (opts.maxRows < 1 || opts.maxInFlight < 1) throw new RangeError('group commit: maxRows and maxInFlight must be ≥ 1');
  }

  get cluster(): string {
    return this.inner.cluster;
  }

  applyBatch(writes: AssocWrite[]): Promise<ApplyResult> {
    return new Promise<ApplyResult>((resolve, reject) => {
      this.queue.push({ writes, shards: new Set(writes.map((w) => w.shard)), resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.opts.maxInFlight) {
      const group = this.take();
      if (group.length === 0) return;
      this.running++;
      for (const m of group) for (const s of m.shards) this.busy.add(s);
      void this.run(group).finally(() => {
        for (const m of group) for (const s of m.shards) this.busy.delete(s);
        this.running--;
        this.pump();
      });
    }
  }

  /** FIFO, skipping batches of busy shards; a skipped batch blocks later batches of its shards (order per shard). */
  private take(): Member[] {
    const group: Member[] = [];
    const blocked = new Set(this.busy);
    let rows = 0;
    for (let i = 0; i < this.queue.length; ) {
      const m = this.queue[i]!;
      const clash = [...m.shards].some((s) => blocked.has(s));
      const full = group.length > 0 && rows + m.writes.length > this.opts.maxRows;
      if (clash || full) {
        for (const s of m.shards) blocked.add(s);
        i++;
        if (full) break;
        continue;
      }
      this.queue.splice(i, 1);
      group.push(m);
      rows += m.writes.length;
      for (const s of m.shards) blocked.add(s);
    }
    return group;
  }

  private async run(group: Member[]): Promise<void> {
    if (group.length === 1) {
      const m = group[0]!;
      await this.inner.applyBatch(m.writes).then((r) => {
        this.opts.onGroup?.({ cluster: this.cluster, members: 1, rows: m.writes.length });
        m.resolve(r);
      }, m.reject);
      return;
    }
    let result: ApplyResult;
    try {
      result = await this.inner.applyBatch(group.flatMap((m) => m.writes));
    } catch (err) {
      if (classify(err).class !== 'poison') {
        for (const m of group) m.reject(err);
        return;
      }
      // One member's batch is bad: each alone, so each writer gets its own outcome.
      await Promise.all(group.map((m) => this.inner.applyBatch(m.writes).then(m.resolve, m.reject)));
      return;
    }
    this.opts.onGroup?.({ cluster: this.cluster, members: group.length, rows: group.reduce((n, m) => n + m.writes.length, 0) });
    for (const m of group) m.resolve(share(result, m.shards));
  }
}

/** A member's part of a group's result: its shards' counts and counter deltas, the group's commit LSN. */
export function share(result: ApplyResult, shards: Set<number>): ApplyResult {
  const perShard = result.perShard.filter((p) => shards.has(p.shard));
  return {
    changed: perShard.reduce((n, p) => n + p.changed, 0),
    versioned: perShard.reduce((n, p) => n + p.versioned, 0),
    counterDeltas: result.counterDeltas.filter((d) => shards.has(d.shard)),
    perShard,
    commitLsn: result.commitLsn,
    ...(result.commitTimeline !== undefined ? { commitTimeline: result.commitTimeline } : {}),
  };
}
