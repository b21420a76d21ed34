// The deployment's control log: one compacted, one-partition topic every daemon reads without a group. Keyed
// records: `leader` (who leads, its term and HTTP URL) and `cluster/<name>` (the latest topology decision of
// that cluster and its epoch). Written with acks=all through the CommandLog port; read by a consumer of this
// daemon's own group that tails the partition from its start. refresh() is the fresh read: it asks the log end
// and waits until the tail has applied everything before it.
import type { CommandLog, Subscription } from '../../adapters/kafka/port.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Topology } from '../../adapters/pg/port.ts';

export type Decision = 'promote' | 'repoint' | 'fence' | 'unfence' | 'switchover' | 'adopt' | 'reseed';

export interface LeaderRecord {
  term: number;
  daemonId: string;
  url: string | null;
  at: number;
}

export interface EpochRecord {
  cluster: string;
  epoch: number;
  decision: Decision;
  topology: Topology;
  /** Leadership term and daemon that decided it. */
  term: number;
  daemonId: string;
  at: number;
  detail?: Record<string, unknown>;
}

const LEADER_KEY = 'leader';
const clusterKey = (cluster: string) => `cluster/${cluster}`;

export class ControlLog {
  private next = 0n;
  private leaderRec: LeaderRecord | null = null;
  private readonly epochs = new Map<string, EpochRecord>();
  private sub: Subscription | null = null;
  private waiters: Array<{ until: bigint; resolve: () => void }> = [];
  private readonly epochListeners = new Set<(rec: EpochRecord) => void>();

  constructor(
    private readonly log: CommandLog,
    readonly topic: string,
    private readonly deps: { clock: Clock; groupId: string; timeoutMs?: number },
  ) {}

  /** The topic exists (created compacted by the election adapter; here only for stand-ins that need it); tails it. */
  async start(): Promise<void> {
    await this.log.ensureTopic(this.topic, 1);
    this.sub = await this.log.subscribe({
      groupId: this.deps.groupId,
      topics: [this.topic],
      fromBeginning: true,
      eachBatch: async (batch) => {
        for (const r of batch.records) {
          const o = BigInt(r.offset);
          if (o < this.next) continue;
          this.next = o + 1n;
          this.apply(r.key, r.value);
        }
        this.waiters = this.waiters.filter((w) => (this.next >= w.until ? (w.resolve(), false) : true));
      },
    });
  }

  async stop(): Promise<void> {
    await this.sub?.stop();
    this.sub = null;
  }

  /** After it resolves, every record acknowledged before the call is applied (bounded: throws when it cannot tell). */
  async refresh(): Promise<void> {
    const end = BigInt((await this.log.endOffsets(this.topic)).get(0) ?? '0');
    if (this.next >= end) return;
    const ms = this.deps.timeoutMs ?? 5_000;
    await new Promise<void>((resolve, reject) => {
      const timer = this.deps.clock.setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new TagstreamError(ErrorCodes.TIMEOUT, `control log ${this.topic}: not read up to ${end} within ${ms} ms (at ${this.next})`, { retriable: true }));
      }, ms);
      const waiter = {
        until: end,
        resolve: () => {
          this.deps.clock.clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** A newer epoch of a cluster was read (followers apply it at once, not at their next probe round). */
  onEpoch(listener: (rec: EpochRecord) => void): () => void {
    this.epochListeners.add(listener);
    return () => void this.epochListeners.delete(listener);
  }

  leader(): LeaderRecord | null {
    return this.leaderRec;
  }

  latest(cluster: string): EpochRecord | null {
    return this.epochs.get(cluster) ?? null;
  }

  async publishLeader(rec: LeaderRecord): Promise<void> {
    await this.log.produce(this.topic, [{ key: LEADER_KEY, value: JSON.stringify(rec), partition: 0 }]);
    await this.refresh();
  }

  /** Acked by every in-sync replica: applied here at once (the tail reads it again; an older epoch is ignored). */
  async publishEpoch(rec: EpochRecord): Promise<void> {
    await this.log.produce(this.topic, [{ key: clusterKey(rec.cluster), value: JSON.stringify(rec), partition: 0 }]);
    this.apply(clusterKey(rec.cluster), JSON.stringify(rec));
  }

  private apply(key: string | null, value: string | null): void {
    if (key === null || value === null) return; // a tombstone: nothing we write
    try {
      if (key === LEADER_KEY) {
        const rec = JSON.parse(value) as LeaderRecord;
        if (!this.leaderRec || rec.term > this.leaderRec.term) this.leaderRec = rec; // first in log order wins a tie
      } else if (key.startsWith('cluster/')) {
        const rec = JSON.parse(value) as EpochRecord;
        const cur = this.epochs.get(rec.cluster);
        if (!cur || rec.epoch > cur.epoch) {
          this.epochs.set(rec.cluster, rec);
          for (const l of this.epochListeners) l(rec);
        }
      }
    } catch {
      /* not ours: ignored */
    }
  }
}
