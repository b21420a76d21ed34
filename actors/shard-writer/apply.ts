// Applies a batch to a cluster with the write path's error handling, through the retry machine (kind
// 'shard-apply'; no machine while the first attempt works):
//  - transient (retry/reroute): back off (capped, jittered) and try again until it works or shutdown — the
//    commands are valid, the database is what failed; the failover monitor repairs the topology meanwhile,
//    and its reroute wakes the machine (WAKE) so a back-off grown against the old primary is cut short;
//  - poison: bisect the batch to find the bad command(s); they go to the DLQ, the rest is applied;
//  - fatal (unknown): thrown — the actor crashes, its supervisor restarts it, the ingest re-drives.
import type { ApplyResult, AssocWrite } from '../../adapters/pg/port.ts';
import type { BackoffPolicy } from '../../lib/backoff.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { InspectionBus } from '../../machines/inspection.ts';
import { runWithRetry } from '../../machines/retry/run-with-retry.ts';
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
  /** The retry telemetry (the dashboard's retry card). */
  inspect?: Pick<InspectionBus, 'publish'>;
  /** Names this writer's retry machines (`retry:shard-apply:<detail>`); default: the cluster. */
  detail?: string;
  random?: () => number;
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
  const res = await runWithRetry(() => deps.store.applyBatch(part.map((p) => p.w)), {
    kind: 'shard-apply',
    detail: deps.detail ?? deps.store.cluster,
    clock: deps.clock,
    // Unbounded: only shutdown ends it (the commands are valid; the database is what failed).
    policy: { ...deps.backoff, retries: Number.POSITIVE_INFINITY },
    signal: deps.signal,
    // A reroute error backs off like any transient one; the topology change wakes the machine.
    rebuildOnReroute: false,
    ...(deps.wake ? { wake: deps.wake } : {}),
    ...(deps.inspect ? { inspect: deps.inspect } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    onRetry: ({ error, attempt, delayMs }) => {
      deps.onRetry?.(error, attempt);
      deps.logger.warn({ err: error, attempt, delayMs, cluster: deps.store.cluster }, 'batch apply failed; retrying');
    },
  });
  if (res.ok) {
    results.push(res.value);
    return;
  }
  if (res.outcome === 'poison') {
    if (part.length === 1) {
      poisoned.push({ index: part[0]!.i, error: res.error });
      return;
    }
    const mid = part.length >> 1;
    await applyRange(part.slice(0, mid), deps, poisoned, results);
    await applyRange(part.slice(mid), deps, poisoned, results);
    return;
  }
  if (res.outcome === 'aborted') throw abortError(deps.signal.reason);
  throw res.error; // fatal: the actor crashes, its supervisor restarts it
}

function abortError(reason: unknown): Error {
  const err = new Error('aborted', { cause: reason });
  err.name = 'AbortError';
  return err;
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
