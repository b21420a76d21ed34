// Reconcile (contract 6): compares the database — the truth — with the search index, for one shard or all,
// reports drift and repairs it on request. Drift is rechecked after a short pause before it is reported, so
// commands still in flight between the two (the indexer and the writers consume independently) do not count.
// Repairs go through external versions: the database row's position, never anything lower than the index has.
import type { AssocRow, ShardStore } from '../../adapters/pg/port.ts';
import type { BulkItem, SearchIndex, TagDoc } from '../../adapters/search/port.ts';
import { sleep, type Clock } from '../../lib/clock.ts';
import { docId } from '../../lib/command.ts';

export type DriftKind =
  /** Attached in the database, absent or detached in the index: a search misses it. */
  | 'missing'
  /** Attached in the index, no row in the database: a search shows what never was. */
  | 'extra'
  /** Attached in the index, detached in the database: a search shows a removed tag. */
  | 'resurrected'
  /** Same state, different version (or a tombstone the index lacks): not visible now, unsafe for late replays. */
  | 'version'
  /** The index holds a newer command than the database: the writers are behind; nothing to repair here. */
  | 'index-ahead';

export interface DriftItem {
  id: string;
  kind: DriftKind;
  shard: number;
  db?: { attached: boolean; offset: string };
  index?: { attached: boolean; version: string };
}

export interface ReconcileOptions {
  /** Logical shards to check; all when absent. */
  shards?: number[];
  repair?: boolean;
  /** Only entities starting with this (an operator's namespace; tests sharing databases). */
  prefix?: string;
  /** Pause before rechecking drift found on the first pass (0: report the first pass as is). */
  confirmMs?: number;
  /** Drift items listed in the report (all are counted). */
  sampleLimit?: number;
}

export interface ReconcileReport {
  shards: number[];
  dbRows: number;
  indexDocs: number;
  drift: Record<DriftKind, number> & { total: number };
  samples: DriftItem[];
  repaired: number;
  /** Drift a repair could not fix (e.g. index-ahead, or a write the index refused). */
  unrepaired: number;
  clean: boolean;
}

export interface ReconcileDeps {
  stores: Map<string, ShardStore>;
  clusterOfShard: (shard: number) => string;
  shardCount: number;
  index: SearchIndex;
  clock: Clock;
}

type IndexEntry = { version: string; doc: TagDoc };

function compare(id: string, shard: number, row: AssocRow | undefined, idx: IndexEntry | undefined): DriftItem | null {
  const db = row ? { attached: row.attached, offset: row.offset } : undefined;
  const index = idx ? { attached: idx.doc.attached === true, version: idx.version } : undefined;
  const item = (kind: DriftKind): DriftItem => ({ id, kind, shard, ...(db ? { db } : {}), ...(index ? { index } : {}) });
  // A soft-deleted document without a row hides nothing and shows nothing (e.g. a repaired 'extra').
  if (!db) return index?.attached ? item('extra') : null;
  if (index && BigInt(index.version) > BigInt(db.offset)) return item('index-ahead');
  if (!index) return item(db.attached ? 'missing' : 'version');
  if (db.attached && !index.attached) return item('missing');
  if (!db.attached && index.attached) return item('resurrected');
  return index.version === db.offset ? null : item('version');
}

async function dbRows(deps: ReconcileDeps, shards: number[], prefix: string): Promise<Map<string, AssocRow>> {
  const rows = new Map<string, AssocRow>();
  for (const shard of shards) {
    const store = deps.stores.get(deps.clusterOfShard(shard));
    if (!store) throw new Error(`reconcile: no store for shard ${shard}`);
    for (const r of await store.shardRows(shard)) if (r.entity.startsWith(prefix)) rows.set(docId(r.entity, r.tag), r);
  }
  return rows;
}

export async function reconcile(deps: ReconcileDeps, opts: ReconcileOptions = {}): Promise<ReconcileReport> {
  const shards = opts.shards ?? Array.from({ length: deps.shardCount }, (_, s) => s);
  const wanted = new Set(shards);
  const prefix = opts.prefix ?? '';
  let rows = await dbRows(deps, shards, prefix);
  const docs = new Map<string, IndexEntry>();
  for await (const d of deps.index.scan()) {
    if (!wanted.has(Number(d.doc.shard)) || !String(d.doc.entity).startsWith(prefix)) continue;
    docs.set(d.id, { version: d.version, doc: d.doc });
  }
  const indexDocs = docs.size;
  let drift: DriftItem[] = [];
  for (const id of new Set([...rows.keys(), ...docs.keys()])) {
    const row = rows.get(id);
    const d = compare(id, row?.shard ?? Number(docs.get(id)?.doc.shard ?? -1), row, docs.get(id));
    if (d) drift.push(d);
  }
  const dbCount = rows.size;

  // Second look at what drifted, after a pause: the database rows again, the documents by id (real time).
  if (drift.length > 0 && (opts.confirmMs ?? 2_000) > 0) {
    await sleep(deps.clock, opts.confirmMs ?? 2_000);
    rows = await dbRows(deps, [...new Set(drift.map((d) => d.shard))].filter((s) => wanted.has(s)), prefix);
    const again: DriftItem[] = [];
    for (const d of drift) {
      const got = await deps.index.get(d.id);
      if (got) docs.set(d.id, got);
      else docs.delete(d.id);
      const row = rows.get(d.id);
      const still = compare(d.id, d.shard, row, got ?? undefined);
      if (still) again.push(still);
    }
    drift = again;
  }

  let repaired = 0;
  let unrepaired = 0;
  if (opts.repair && drift.length > 0) {
    const items: BulkItem[] = [];
    for (const d of drift) {
      if (d.kind === 'index-ahead') {
        unrepaired++;
        continue;
      }
      const row = rows.get(d.id);
      const idx = docs.get(d.id);
      if (row) {
        items.push({ id: d.id, version: row.offset, doc: { entity: row.entity, tag: row.tag, attached: row.attached, shard: row.shard, at: Number(idx?.doc.at ?? deps.clock.now()) } });
      } else if (idx) {
        // No row at all: a soft delete just above the index's version (a later real command is higher still).
        items.push({ id: d.id, version: (BigInt(idx.version) + 1n).toString(), doc: { ...idx.doc, attached: false } });
      }
    }
    for (let i = 0; i < items.length; i += 500) {
      const res = await deps.index.bulk(items.slice(i, i + 500));
      for (const r of res) {
        if (r.status === 'ok') repaired++;
        else unrepaired++;
      }
    }
    await deps.index.refresh();
  }

  const counts = { missing: 0, extra: 0, resurrected: 0, version: 0, 'index-ahead': 0, total: drift.length };
  for (const d of drift) counts[d.kind]++;
  return {
    shards,
    dbRows: dbCount,
    indexDocs,
    drift: counts,
    samples: drift.slice(0, opts.sampleLimit ?? 20),
    repaired,
    unrepaired,
    clean: drift.length === 0,
  };
}
