// Applies a batch to a cluster with the write path's error handling:
//  - transient (retry/reroute): back off (capped, jittered) and try again until it works or shutdown — the
//    commands are valid, the database is what failed; the failover monitor repairs the topology meanwhile;
//  - poison: bisect the batch to find the bad command(s); they go to the DLQ, the rest is applied;
//  - fatal (unknown): thrown — the actor crashes, its supervisor restarts it, the ingest re-drives.
import type { ApplyResult, AssocWrite } from '../../adapters/pg/port.ts';
import { backoffDelay, type BackoffPolicy } from '../../lib/backoff.ts';
import { classify } from '../../lib/classify.ts';
import { sleep, type Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { BatchApplier } from './group-commit.ts';

export interface ApplyDeps {
  store: BatchApplier;
  clock: Clock;
  logger: Logger;
  backoff: BackoffPolicy;
  signal: AbortSignal;
  /**
   * The current topology's signal, aborted when the cluster is rerouted: a back-off grown while the old primary
   * was down is cut short, and back-offs start over against the new primary.
   */
  wake?: () => AbortSignal;
  onRetry?: (err: unknown, attempt: number) => void;
}

export interface ApplyOutcome {
  result: ApplyResult | null;
  /** Indexes (into the input) of writes rejected as poison, with the error. */
  poisoned: Array<{ index: number; error: unknown }>;
}

export async function applyWithRetry(writes: AssocWrite[], deps: ApplyDeps): Promise<ApplyOutcome> {
  const poisoned: ApplyOutcome['poisoned'] = [];
  const results: ApplyResult[] = [];
  await applyRange(writes.map((w, i) => ({ w, i })), deps, poisoned, results);
  return { result: merge(results), poisoned };
}

async function applyRange(part: Array<{ w: AssocWrite; i: number }>, deps: ApplyDeps, poisoned: ApplyOutcome['poisoned'], results: ApplyResult[]): Promise<void> {
  if (part.length === 0) return;
  for (let attempt = 1; ; attempt++) {
    try {
      results.push(await deps.store.applyBatch(part.map((p) => p.w)));
      return;
    } catch (err) {
      const cls = classify(err).class;
      if (cls === 'poison') {
        if (part.length === 1) {
          poisoned.push({ index: part[0]!.i, error: err });
          return;
        }
        const mid = part.length >> 1;
        await applyRange(part.slice(0, mid), deps, poisoned, results);
        await applyRange(part.slice(mid), deps, poisoned, results);
        return;
      }
      if (cls === 'fatal') throw err;
      deps.onRetry?.(err, attempt);
      const delay = backoffDelay(Math.min(attempt, 16), deps.backoff);
      deps.logger.warn({ err, attempt, delayMs: delay, cluster: deps.store.cluster }, 'batch apply failed; retrying');
      const wake = deps.wake?.();
      try {
        await sleep(deps.clock, delay, wake ? AbortSignal.any([deps.signal, wake]) : deps.signal);
      } catch (e) {
        if (deps.signal.aborted || !wake?.aborted) throw e;
        attempt = 0; // rerouted: the next failure waits from the start again
      }
    }
  }
}

function merge(results: ApplyResult[]): ApplyResult | null {
  if (results.length === 0) return null;
  return {
    changed: results.reduce((n, r) => n + r.changed, 0),
    versioned: results.reduce((n, r) => n + r.versioned, 0),
    counterDeltas: results.flatMap((r) => r.counterDeltas),
    perShard: mergePerShard(results.flatMap((r) => r.perShard)),
    commitLsn: results[results.length - 1]!.commitLsn,
    ...timelineOf(results),
  };
}

/**
 * The timeline a replica must prove the batch on. Parts committed on different timelines (a reroute between two
 * retries) are proven on the oldest: the part on a possibly deposed primary is the one that may be lost.
 */
function timelineOf(results: ApplyResult[]): { commitTimeline?: number } {
  const known = results.map((r) => r.commitTimeline).filter((t): t is number => t !== undefined);
  return known.length > 0 ? { commitTimeline: Math.min(...known) } : {};
}

function mergePerShard(rows: ApplyResult['perShard']): ApplyResult['perShard'] {
  const by = new Map<number, { shard: number; changed: number; versioned: number }>();
  for (const r of rows) {
    const acc = by.get(r.shard) ?? { shard: r.shard, changed: 0, versioned: 0 };
    acc.changed += r.changed;
    acc.versioned += r.versioned;
    by.set(r.shard, acc);
  }
  return [...by.values()].sort((a, b) => a.shard - b.shard);
}
