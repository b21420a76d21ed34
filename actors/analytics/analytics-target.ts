// The analytics roll-up as a sink target: tag usage per tag per hour of the command's time. Idempotent under
// replay because the store counts each (topic, partition, offset) once — a DLQ re-drive passes the original
// position, a second consumer group or a rewind re-delivers the same ones: nothing is counted twice. A write
// is done (its offsets may commit) only once a replica holds it at its (timeline, LSN): see replication-proof.
import { hourOf, type UsageEvent, type UsageStore } from '../../adapters/analytics/index.ts';
import { commandTime, validateCommand, type CommandLimits } from '../../lib/command.ts';
import type { ItemResult, SinkTarget, SourceRecord, Transformed } from '../sink/target.ts';
import type { ReplicationProof } from './replication-proof.ts';

export function createAnalyticsTarget(opts: { store: UsageStore; limits: CommandLimits; replicated?: ReplicationProof }): SinkTarget<UsageEvent> {
  const { store } = opts;
  return {
    name: 'analytics',
    coalesce: false,
    prepare: () => store.migrate(),
    probe: () => store.ping(),
    transform(rec: SourceRecord): Transformed<UsageEvent> {
      const v = validateCommand(rec.value, opts.limits, rec.key);
      if (!v.ok) return { kind: 'skip', code: v.code, reason: v.message };
      const c = v.command;
      return { kind: 'item', payload: { tag: c.tag, hour: hourOf(commandTime(c)), op: c.op, topic: rec.topic, partition: rec.partition, offset: rec.offset } };
    },
    // All or nothing: a statement that fails fails the whole write (a poison one is bisected by the sink).
    async write(payloads: UsageEvent[], signal: AbortSignal): Promise<ItemResult[]> {
      const r = await store.record(payloads);
      // The primary's acknowledgement alone is not kept: a primary that dies now would take these counts along.
      if (opts.replicated && r.commits && r.commits.length > 0) await opts.replicated(r.commits, signal);
      return payloads.map(() => ({ status: 'ok' }));
    },
  };
}
