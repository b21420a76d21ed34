// The deployment's control log: one compacted, one-partition topic every daemon reads without a group. Keyed
// records: `leader` (who leads, its term and HTTP URL) and `cluster/<name>` (the latest topology decision of
// that cluster and its epoch). Written with acks=all through the CommandLog port; read by tailing the partition.
import type { CommandLog } from '../../adapters/kafka/port.ts';
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
  private reading: Promise<void> | null = null;

  constructor(
    private readonly log: CommandLog,
    readonly topic: string,
  ) {}

  /** The topic exists (created compacted by the election adapter; here only for stand-ins that need it). */
  async ensure(): Promise<void> {
    await this.log.ensureTopic(this.topic, 1);
  }

  /** Reads up to the log end: after it resolves, every record acknowledged before the call is applied. */
  refresh(): Promise<void> {
    // Calls that arrive while one reads wait for it and then read again (they must see what was acked before them).
    const run = async () => {
      const end = BigInt((await this.log.endOffsets(this.topic)).get(0) ?? '0');
      while (this.next < end) {
        const records = await this.log.read(this.topic, 0, this.next.toString(), Math.min(500, Number(end - this.next)));
        if (records.length === 0) break;
        for (const r of records) {
          this.next = BigInt(r.offset) + 1n;
          this.apply(r.key, r.value);
        }
      }
    };
    const p = (this.reading ?? Promise.resolve()).catch(() => undefined).then(run);
    this.reading = p;
    return p;
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

  async publishEpoch(rec: EpochRecord): Promise<void> {
    await this.log.produce(this.topic, [{ key: clusterKey(rec.cluster), value: JSON.stringify(rec), partition: 0 }]);
    await this.refresh();
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
        if (!cur || rec.epoch > cur.epoch) this.epochs.set(rec.cluster, rec);
      }
    } catch {
      /* not ours: ignored */
    }
  }
}
