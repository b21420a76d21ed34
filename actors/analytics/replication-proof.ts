// The analytics sink's commit condition: the usage counts it wrote are on a replica, at their (timeline, LSN),
// before its Kafka offsets may move (contract 3, as for the shard writers). A primary that dies right after
// the statement then loses nothing: the offsets were not committed, the events are delivered again.
import type { UsageCommit } from '../../adapters/analytics/index.ts';
import type { ShardStore } from '../../adapters/pg/port.ts';
import { sleep, type Clock } from '../../lib/clock.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';

/** Resolves once every commit is on a replica; `signal` (the sink's) ends the wait early. */
export type ReplicationProof = (commits: readonly UsageCommit[], signal?: AbortSignal) => Promise<void>;

export interface ReplicationProofDeps {
  stores: Map<string, ShardStore>;
  clock: Clock;
  /** How long to wait for a replica before the write fails (retriable: the sink retries, re-counting nothing). */
  timeoutMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
}

export function createReplicationProof(deps: ReplicationProofDeps): ReplicationProof {
  const timeoutMs = deps.timeoutMs ?? 5_000;
  return async (commits, signal) => {
    const abort = signal && deps.signal ? AbortSignal.any([signal, deps.signal]) : (signal ?? deps.signal);
    const deadline = deps.clock.now() + timeoutMs;
    await Promise.all(
      commits.map(async (c) => {
        const store = deps.stores.get(c.cluster);
        if (!store) throw new TypeError(`analytics: no shard store for cluster ${c.cluster}`);
        const opts = c.timeline !== undefined ? { timeline: c.timeline } : {};
        let delay = deps.pollMs ?? 2;
        while (!(await store.replicatedTo(c.lsn, opts).catch(() => false))) {
          if (deps.clock.now() >= deadline) {
            throw new TagstreamError(ErrorCodes.TIMEOUT, `analytics: no replica of ${c.cluster} replayed ${c.lsn}${c.timeline !== undefined ? ` on timeline ${c.timeline}` : ''} within ${timeoutMs} ms`, { retriable: true, details: { ...c } });
          }
          await sleep(deps.clock, delay, abort);
          delay = Math.min(delay * 2, 50);
        }
      }),
    );
  };
}
