// Reads the whole state of every shard store and compares it with a reference model.
import type { ShardStore } from '../../adapters/pg/port.ts';
import type { ExpectedState } from './reference-model.ts';

export interface Drift {
  missing: string[];
  extra: string[];
  wrong: string[];
  wrongCounts: string[];
}

/** `prefix`: only entities and tags starting with it are compared (tests share stores). */
export async function compareWithModel(stores: Iterable<ShardStore>, shardCount: number, clusterOf: (shard: number) => string, expected: ExpectedState, prefix = ''): Promise<Drift> {
  const byName = new Map([...stores].map((s) => [s.cluster, s]));
  const seen = new Map<string, { attached: boolean; offset: bigint }>();
  const counts = new Map<string, number>();
  for (let shard = 0; shard < shardCount; shard++) {
    const store = byName.get(clusterOf(shard))!;
    for (const r of await store.shardRows(shard)) if (r.entity.startsWith(prefix)) seen.set(`${r.entity}|${r.tag}`, { attached: r.attached, offset: BigInt(r.offset) });
    for (const c of await store.shardCounts(shard)) if (c.tag.startsWith(prefix)) counts.set(c.tag, (counts.get(c.tag) ?? 0) + c.count);
  }
  const drift: Drift = { missing: [], extra: [], wrong: [], wrongCounts: [] };
  for (const [k, want] of expected.assoc) {
    const got = seen.get(k);
    if (!got) drift.missing.push(k);
    else if (got.attached !== want.attached || got.offset !== want.offset) drift.wrong.push(`${k}: want ${want.attached}@${want.offset}, got ${got.attached}@${got.offset}`);
  }
  for (const k of seen.keys()) if (!expected.assoc.has(k)) drift.extra.push(k);
  const tags = new Set([...expected.counts.keys(), ...counts.keys()]);
  for (const t of tags) if ((expected.counts.get(t) ?? 0) !== (counts.get(t) ?? 0)) drift.wrongCounts.push(`${t}: want ${expected.counts.get(t) ?? 0}, got ${counts.get(t) ?? 0}`);
  return drift;
}
