// The search index as a sink target: one document per entity+tag (docId), the command's log position as its
// external version (a DLQ re-drive passes the original position), detach as a soft delete (attached=false).
// So duplicates, replays and reordering cannot resurrect or lose an association: an older command is stale.
import type { BulkItem, SearchIndex } from '../../adapters/search/port.ts';
import { commandTime, docId, shardOf, validateCommand, type CommandLimits } from '../../lib/command.ts';
import { ItemError, type ItemResult, type SinkTarget, type SourceRecord, type Transformed } from '../sink/target.ts';

export interface SearchTargetOptions {
  index: SearchIndex;
  limits: CommandLimits;
  shardCount: number;
}

export function createSearchTarget(opts: SearchTargetOptions): SinkTarget<BulkItem> {
  const { index } = opts;
  return {
    name: 'search',
    coalesce: true,
    prepare: () => index.ensureIndex(),
    probe: () => index.ping(),
    transform(rec: SourceRecord): Transformed<BulkItem> {
      const v = validateCommand(rec.value, opts.limits, rec.key);
      if (!v.ok) return { kind: 'skip', code: v.code, reason: v.message };
      const c = v.command;
      const id = docId(c.entity, c.tag);
      return {
        kind: 'item',
        key: id,
        version: BigInt(rec.offset),
        payload: { id, version: rec.offset, doc: { entity: c.entity, tag: c.tag, attached: c.op === 'attach', shard: shardOf(c.entity, opts.shardCount), at: commandTime(c) } },
      };
    },
    async write(payloads: BulkItem[]): Promise<ItemResult[]> {
      const res = await index.bulk(payloads);
      return res.map((r) => (r.status === 'error' ? { status: 'error', error: new ItemError(r.httpStatus, r.type, r.reason) } : { status: r.status }));
    },
  };
}
