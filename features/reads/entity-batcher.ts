// Coalesces the database reads of entity tags that arrive in one event-loop turn into one query per cluster (two
// when token and tokenless reads are both waiting): with Redis down, thousands of reads a second cost the daemon
// and the databases a few hundred queries instead, which is what keeps the fallback path affordable. A token
// batch is routed by the highest token of the batch, which satisfies every lower one.
import type { EntitiesTags, EntityKey, ShardStore } from '../../adapters/pg/port.ts';
import { higherLsn } from '../../actors/cache-shard/keys.ts';

export interface EntityRead {
  tags: string[];
  servedBy: string;
  role: 'primary' | 'replica';
}

interface Waiter {
  shard: number;
  entity: string;
  minLsn: string | undefined;
  resolve: (r: EntityRead) => void;
  reject: (err: unknown) => void;
}

export class EntityBatcher {
  private queue: Waiter[] = [];
  private scheduled = false;
  /** Queries sent and reads answered by them, for /status. */
  batches = 0;
  reads = 0;

  constructor(
    private readonly store: ShardStore,
    /** Runs one query under the cluster's guards (critical bulkhead, breaker accounting). */
    private readonly guard: <T>(fn: () => Promise<T>) => Promise<T>,
    private readonly maxBatch = 128,
  ) {}

  read(shard: number, entity: string, minLsn?: string): Promise<EntityRead> {
    return new Promise<EntityRead>((resolve, reject) => {
      this.queue.push({ shard, entity, minLsn, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // After the poll phase: every read that arrived in this turn of the event loop joins the batch.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const waiting = this.queue;
    this.queue = [];
    if (waiting.length === 0) return;
    const tokenless = waiting.filter((w) => w.minLsn === undefined);
    const withToken = waiting.filter((w) => w.minLsn !== undefined);
    if (tokenless.length > 0) this.send(tokenless, undefined);
    if (withToken.length > 0) this.send(withToken, withToken.reduce<string | undefined>((m, w) => higherLsn(m, w.minLsn), undefined));
  }

  private send(group: Waiter[], minLsn: string | undefined): void {
    this.batches++;
    this.reads += group.length;
    const keys = new Map<string, EntityKey>();
    for (const w of group) keys.set(w.entity, { shard: w.shard, entity: w.entity });
    this.guard(() => this.store.entitiesTags([...keys.values()], minLsn ? { minLsn } : {})).then(
      (r: EntitiesTags) => {
        for (const w of group) w.resolve({ tags: r.tags.get(w.entity) ?? [], servedBy: r.servedBy, role: r.role });
      },
      (err: unknown) => {
        for (const w of group) w.reject(err);
      },
    );
  }
}
