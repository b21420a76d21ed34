// MemorySearchIndex: the embedded profile's SearchIndex. External versions and stale detection as in
// Elasticsearch, the same strict-mapping validation, and near-real-time visibility: get() sees every write,
// search() only what a refresh() or the refresh interval (on the injected Clock) has published.
// Fault injection: setAvailable(false) makes every call fail like an unreachable node.
import { systemClock, type Clock, type TimerHandle } from '../../lib/clock.ts';
import type { OutageHooks } from '../fault-hooks.ts';
import { toSearchError } from './errors.ts';
import { mappingError, versionError } from './mapping.ts';
import type { BulkItem, BulkItemResult, SearchHit, SearchIndex, TagDoc } from './port.ts';

export interface MemorySearchIndexOptions {
  clock?: Clock;
  refreshIntervalMs: number;
}

interface Stored {
  doc: TagDoc;
  version: bigint;
}

/** Shaped like the client's errors and converted like them (toSearchError): both indexes classify alike. */
class SearchError extends Error {
  readonly meta: { statusCode?: number; body?: unknown };
  constructor(name: string, message: string, meta: { statusCode?: number; body?: unknown } = {}) {
    super(message);
    this.name = name;
    this.meta = meta;
  }
}

export class MemorySearchIndex implements SearchIndex {
  private readonly clock: Clock;
  private exists = false;
  private available = true;
  private live = new Map<string, Stored>();
  private visible = new Map<string, Stored>();
  private refreshTimer: TimerHandle | null = null;

  constructor(private readonly opts: MemorySearchIndexOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Fault injection: while unavailable every call rejects with a ConnectionError (classified `retry`). */
  readonly faults: OutageHooks = { setAvailable: (a) => this.setAvailable(a) };

  setAvailable(available: boolean): void {
    this.available = available;
  }

  async ensureIndex(): Promise<void> {
    this.check();
    this.exists = true;
  }

  async bulk(items: BulkItem[]): Promise<BulkItemResult[]> {
    this.check();
    this.exists = true; // like action.auto_create_index
    const results = items.map((it): BulkItemResult => {
      const badVersion = versionError(it.id, it.version);
      if (badVersion) return badVersion;
      const bad = mappingError(it.id, it.doc);
      if (bad) return { id: it.id, status: 'error', httpStatus: 400, ...bad };
      const version = BigInt(it.version);
      const current = this.live.get(it.id);
      if (current && current.version >= version) return { id: it.id, status: 'stale' };
      this.live.set(it.id, { doc: structuredClone(it.doc), version });
      return { id: it.id, status: 'ok' };
    });
    if (results.some((r) => r.status === 'ok')) this.scheduleRefresh();
    return results;
  }

  async search(tag: string, opts: { limit: number }): Promise<{ hits: SearchHit[]; total: number }> {
    this.checkIndex();
    const matching = [...this.visible.values()]
      .filter((s) => String(s.doc.tag) === tag && (s.doc.attached === true || (s.doc.attached as unknown) === 'true'))
      .map((s) => ({ entity: String(s.doc.entity), tag: String(s.doc.tag) }))
      .sort((a, b) => (a.entity < b.entity ? -1 : a.entity > b.entity ? 1 : 0));
    return { hits: matching.slice(0, Math.max(0, opts.limit)), total: matching.length };
  }

  async get(id: string): Promise<{ doc: TagDoc; version: string } | null> {
    this.check();
    const s = this.exists ? this.live.get(id) : undefined;
    return s ? { doc: structuredClone(s.doc), version: String(s.version) } : null;
  }

  /** Every document; refreshes first so it sees all writes, as ElasticSearchIndex.scan does. */
  async *scan(): AsyncIterable<{ id: string; version: string; doc: TagDoc }> {
    await this.refresh();
    for (const [id, s] of [...this.visible]) yield { id, version: String(s.version), doc: structuredClone(s.doc) };
  }

  async refresh(): Promise<void> {
    this.checkIndex();
    this.publish();
  }

  async ping(): Promise<void> {
    this.check();
  }

  async drop(): Promise<void> {
    this.check();
    this.exists = false;
    this.live.clear();
    this.visible.clear();
    this.cancelRefresh();
  }

  async close(): Promise<void> {
    this.cancelRefresh();
  }

  private publish(): void {
    this.cancelRefresh();
    this.visible = new Map(this.live);
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer !== null) return;
    this.refreshTimer = this.clock.setTimeout(() => {
      this.refreshTimer = null;
      this.visible = new Map(this.live);
    }, this.opts.refreshIntervalMs);
  }

  private cancelRefresh(): void {
    if (this.refreshTimer !== null) this.clock.clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  private check(): void {
    if (!this.available) throw toSearchError(new SearchError('ConnectionError', 'connect ECONNREFUSED: embedded search index unavailable (fault injected)'));
  }

  private checkIndex(): void {
    this.check();
    if (!this.exists) {
      const body = { error: { type: 'index_not_found_exception', reason: 'no such index' }, status: 404 };
      throw toSearchError(new SearchError('ResponseError', 'index_not_found_exception: no such index', { statusCode: 404, body }));
    }
  }
}
