// Re-drive targets of the DLQ replayer, by the consumer group that dead-lettered a record (x-consumer): the
// sinks (search, analytics) write it again through their own breaker and retries; the writers apply it to its
// shard directly. Every re-drive keeps the record's ORIGINAL position as its version, so a replay can never
// overwrite newer state. A command the edge rejected (TS_ERR_COMMAND_*) was skipped by every consumer: once
// it validates (limits raised, say) it is re-driven to all of them.
import type { ShardStore } from '../../adapters/pg/port.ts';
import { classify } from '../../lib/classify.ts';
import { sleep, type Clock } from '../../lib/clock.ts';
import { commandTime, shardOf, validateCommand, type CommandLimits } from '../../lib/command.ts';
import { errorMessage } from '../../lib/errors.ts';
import { runWithRetry, type InspectionBus, type RetryPolicy } from '../../machines/index.ts';
import type { SourceRecord } from '../sink/target.ts';
import { errorCode, type WriteOutcome } from '../sink/write-with-retry.ts';

export interface RedriveTarget {
  name: string;
  redrive(records: SourceRecord[], signal?: AbortSignal): Promise<WriteOutcome[]>;
}

export interface RedriveRoutes {
  /** The writers' consumer group: edge-rejected commands are re-driven to every target. */
  writersGroup: string;
  targets: Map<string, RedriveTarget>;
}

export function isEdgeRejection(code: string): boolean {
  return code.startsWith('TS_ERR_COMMAND_');
}

/** Targets for a dead letter of `consumer` with `code`; empty when no target is known (it will be parked). */
export function routeFor(routes: RedriveRoutes, consumer: string, code: string): RedriveTarget[] {
  if (consumer === routes.writersGroup && isEdgeRejection(code)) {
    const writers = routes.targets.get(routes.writersGroup);
    return [...(writers ? [writers] : []), ...[...routes.targets].filter(([g]) => g !== routes.writersGroup).map(([, t]) => t)];
  }
  const t = routes.targets.get(consumer);
  return t ? [t] : [];
}

export interface WritersRedriveDeps {
  stores: Map<string, ShardStore>;
  clusterOfShard: (shard: number) => string;
  shardCount: number;
  limits: CommandLimits;
  clock: Clock;
  retry: RetryPolicy;
  /** The retry telemetry (the dashboard's retry card). */
  inspect?: Pick<InspectionBus, 'publish'>;
  /** How long to wait for a replica to confirm the write (contract 3) before calling it held. */
  replicationWaitMs?: number;
}

/** The writers as a re-drive target: one set-based apply per record on its shard's primary, confirmed on a replica. */
export function createWritersRedrive(deps: WritersRedriveDeps): RedriveTarget {
  return {
    name: 'writers',
    async redrive(records, signal) {
      const out: WriteOutcome[] = [];
      for (const rec of records) out.push(await applyOne(rec, deps, signal));
      return out;
    },
  };
}

async function applyOne(rec: SourceRecord, deps: WritersRedriveDeps, signal?: AbortSignal): Promise<WriteOutcome> {
  const now = deps.clock.now();
  const v = validateCommand(rec.value, deps.limits, rec.key);
  if (!v.ok) return { kind: 'failed', errorClass: 'poison', code: v.code, message: v.message, attempts: 0, firstFailureAt: now, lastFailureAt: now };
  const c = v.command;
  const shard = shardOf(c.entity, deps.shardCount);
  const store = deps.stores.get(deps.clusterOfShard(shard));
  if (!store) return { kind: 'held', reason: `no store for shard ${shard}` };
  const res = await runWithRetry(() => store.applyBatch([{ shard, entity: c.entity, tag: c.tag, attached: c.op === 'attach', partition: rec.partition, offset: rec.offset, at: commandTime(c) }]), {
    clock: deps.clock,
    policy: deps.retry,
    kind: 'dlq-redrive',
    detail: 'writers',
    ...(deps.inspect ? { inspect: deps.inspect } : {}),
    ...(signal ? { signal } : {}),
  });
  if (!res.ok) {
    const cls = classify(res.error).class;
    if (res.outcome === 'poison') return { kind: 'failed', errorClass: cls, code: errorCode(res.error), message: errorMessage(res.error), attempts: res.attempts, firstFailureAt: now, lastFailureAt: deps.clock.now() };
    return { kind: 'held', reason: `${store.cluster}: ${res.outcome}: ${errorMessage(res.error)}` };
  }
  const until = deps.clock.now() + (deps.replicationWaitMs ?? 5_000);
  for (;;) {
    if (await store.replicatedTo(res.value.commitLsn).catch(() => false)) return res.value.versioned > 0 ? { kind: 'written' } : { kind: 'stale' };
    if (deps.clock.now() >= until) return { kind: 'held', reason: `${store.cluster}: not confirmed on a replica within ${deps.replicationWaitMs ?? 5_000} ms` };
    await sleep(deps.clock, 20, signal);
  }
}
