// SearchIndex: one document per entity+tag, external versions, soft deletes.
// Real: ElasticSearchIndex (@elastic/elasticsearch 8). Embedded: MemorySearchIndex.
import type { OutageHooks } from '../fault-hooks.ts';

export interface TagDoc {
  entity: string;
  tag: string;
  attached: boolean;
  shard: number;
  /** When the command was issued, ms since epoch; the indexer measures write→searchable lag with it. */
  at: number;
}

export interface BulkItem {
  id: string;
  /** External version: a higher version replaces, an equal or lower one is ignored as stale. */
  version: string;
  doc: TagDoc;
}

export type BulkItemResult =
  | { id: string; status: 'ok' }
  | { id: string; status: 'stale' }
  | { id: string; status: 'error'; httpStatus: number; type: string; reason: string };

export interface SearchHit {
  entity: string;
  tag: string;
}

export interface SearchIndex {
  ensureIndex(): Promise<void>;
  /** Per-item results in input order; a whole-request failure throws. */
  bulk(items: BulkItem[]): Promise<BulkItemResult[]>;
  /** Entities currently carrying `tag` (attached only). */
  search(tag: string, opts: { limit: number }): Promise<{ hits: SearchHit[]; total: number }>;
  /** Real time: sees every acknowledged write, refreshed or not. */
  get(id: string): Promise<{ doc: TagDoc; version: string } | null>;
  /** Every document (attached or soft-deleted), for reconcile and the checker. Refreshes first. */
  scan(): AsyncIterable<{ id: string; version: string; doc: TagDoc }>;
  /** Makes everything indexed so far searchable (tests, reconcile). */
  refresh(): Promise<void>;
  ping(): Promise<void>;
  drop(): Promise<void>;
  close(): Promise<void>;
  /** Present on the embedded stand-in only: fault injection (adapters/fault-hooks.ts). */
  readonly faults?: OutageHooks;
}
