// ElasticSearchIndex: SearchIndex over @elastic/elasticsearch 8. External versions decide which command
// wins (an older or equal one comes back `stale`); a detach is a document with attached=false, never a
// delete, so an older attach cannot resurrect it. The client never retries (maxRetries 0): the retry
// machine does. The client's ConnectionError/TimeoutError/ResponseError leave every method classified
// (toSearchError).
import { Client, type estypes } from '@elastic/elasticsearch';
import type { Logger } from '../../lib/logger.ts';
import { converting } from '../driver-errors.ts';
import { toSearchError } from './errors.ts';
import { indexMappings, toTagDoc, VERSION_FIELD, versionError } from './mapping.ts';
import type { BulkItem, BulkItemResult, SearchHit, SearchIndex, TagDoc } from './port.ts';

export interface ElasticSearchIndexOptions {
  node: string;
  index: string;
  refreshIntervalMs: number;
  username?: string;
  password?: string;
  logger: Logger;
  /** Per request, ms. */
  requestTimeoutMs?: number;
  /** Replicas of the index (Elasticsearch's default 1; a single local node wants 0). */
  replicas?: number;
  /** Page size of scan(). */
  scanPageSize?: number;
}

export class ElasticSearchIndex implements SearchIndex {
  private readonly client: Client;
  private readonly index: string;
  private readonly logger: Logger;

  constructor(private readonly opts: ElasticSearchIndexOptions) {
    this.index = opts.index;
    this.logger = opts.logger.child({ component: 'elastic-search-index', index: opts.index });
    this.client = new Client({
      node: opts.node,
      ...(opts.username !== undefined ? { auth: { username: opts.username, password: opts.password ?? '' } } : {}),
      maxRetries: 0,
      requestTimeout: opts.requestTimeoutMs ?? 5_000,
      pingTimeout: opts.requestTimeoutMs ?? 5_000,
      sniffOnStart: false,
      compression: false,
    });
  }

  async ensureIndex(): Promise<void> {
    const settings: estypes.IndicesIndexSettings = { number_of_shards: 1, refresh_interval: `${this.opts.refreshIntervalMs}ms` };
    if (this.opts.replicas !== undefined) settings.number_of_replicas = this.opts.replicas;
    try {
      await this.client.indices.create({ index: this.index, settings, mappings: indexMappings() });
      this.logger.info('index created');
    } catch (err) {
      if (errorType(err) !== 'resource_already_exists_exception') throw toSearchError(err);
    }
  }

  async bulk(items: BulkItem[]): Promise<BulkItemResult[]> {
    const results: Array<BulkItemResult | null> = items.map((it) => versionError(it.id, it.version));
    const lines: string[] = [];
    items.forEach((it, i) => {
      if (results[i]) return;
      // The version goes in verbatim: a JSON number may exceed 2^53, which JavaScript numbers cannot hold.
      lines.push(`{"index":{"_index":${JSON.stringify(this.index)},"_id":${JSON.stringify(it.id)},"version":${it.version},"version_type":"external"}}`);
      lines.push(JSON.stringify({ ...it.doc, [VERSION_FIELD]: it.version }));
    });
    if (lines.length === 0) return results as BulkItemResult[];
    // filter_path: the answer keeps per item only what itemResult reads (~7× less JSON to parse per bulk).
    const res = await converting(this.client.bulk({ operations: lines, filter_path: BULK_FILTER }), toSearchError);
    let next = 0;
    return items.map((it, i) => results[i] ?? itemResult(it.id, res.items[next++]));
  }

  async search(tag: string, opts: { limit: number }): Promise<{ hits: SearchHit[]; total: number }> {
    const res = await converting(
      this.client.search<TagDoc>({
        index: this.index,
        query: { bool: { filter: [{ term: { tag } }, { term: { attached: true } }] } },
        size: Math.max(0, opts.limit),
        sort: [{ entity: 'asc' }],
        track_total_hits: true,
        _source: ['entity', 'tag'],
      }),
      toSearchError,
    );
    const total = res.hits.total;
    return {
      hits: res.hits.hits.map((h) => ({ entity: h._source!.entity, tag: h._source!.tag })),
      total: typeof total === 'number' ? total : (total?.value ?? 0),
    };
  }

  async get(id: string): Promise<{ doc: TagDoc; version: string } | null> {
    const res = await converting(this.client.get<Record<string, unknown>>({ index: this.index, id }, { ignore: [404] }), toSearchError);
    if (!res.found || !res._source) return null;
    return { doc: toTagDoc(res._source), version: versionOf(res._source, res._version) };
  }

  /** Every document, through a point in time sorted by _shard_doc; refreshes first so it sees all writes. */
  async *scan(): AsyncIterable<{ id: string; version: string; doc: TagDoc }> {
    try {
      yield* this.scanPages();
    } catch (err) {
      throw toSearchError(err);
    }
  }

  private async *scanPages(): AsyncIterable<{ id: string; version: string; doc: TagDoc }> {
    await this.refresh();
    const pit = await this.client.openPointInTime({ index: this.index, keep_alive: '1m' });
    let pitId = pit.id;
    try {
      let after: estypes.SortResults | undefined;
      for (;;) {
        const res = await this.client.search<Record<string, unknown>>({
          pit: { id: pitId, keep_alive: '1m' },
          size: this.opts.scanPageSize ?? 1_000,
          sort: ['_shard_doc'],
          version: true,
          track_total_hits: false,
          ...(after ? { search_after: after } : {}),
        });
        if (res.pit_id) pitId = res.pit_id;
        const hits = res.hits.hits;
        for (const h of hits) yield { id: h._id!, version: versionOf(h._source ?? {}, h._version), doc: toTagDoc(h._source ?? {}) };
        if (hits.length === 0) return;
        after = hits[hits.length - 1]!.sort;
      }
    } finally {
      await this.client.closePointInTime({ id: pitId }).catch((err: unknown) => this.logger.debug({ err }, 'closing the point in time failed'));
    }
  }

  async refresh(): Promise<void> {
    await converting(this.client.indices.refresh({ index: this.index }), toSearchError);
  }

  /** Reachability. Not HEAD /: that is the rest-root module, which minimal distributions (integ-test-zip) lack. */
  async ping(): Promise<void> {
    await converting(this.client.cluster.health({ local: true }), toSearchError);
  }

  async drop(): Promise<void> {
    await converting(this.client.indices.delete({ index: this.index }, { ignore: [404] }), toSearchError);
  }

  async close(): Promise<void> {
    await converting(this.client.close(), toSearchError);
  }
}

const BULK_FILTER = ['errors', 'items.*.status', 'items.*.error.type', 'items.*.error.reason'];

function itemResult(id: string, item: Partial<Record<estypes.BulkOperationType, estypes.BulkResponseItem>> | undefined): BulkItemResult {
  const r = item?.index;
  if (!r) return { id, status: 'error', httpStatus: 500, type: 'missing_item', reason: 'the bulk response has no item for this document' };
  if (r.status >= 200 && r.status < 300) return { id, status: 'ok' };
  if (r.status === 409 && r.error?.type === 'version_conflict_engine_exception') return { id, status: 'stale' };
  return { id, status: 'error', httpStatus: r.status, type: r.error?.type ?? 'unknown', reason: r.error?.reason ?? '' };
}

function versionOf(source: Record<string, unknown>, version: number | undefined): string {
  const stored = source[VERSION_FIELD];
  return typeof stored === 'string' ? stored : String(version ?? 0);
}

function errorType(err: unknown): string | undefined {
  const body = (err as { meta?: { body?: { error?: { type?: unknown } } } })?.meta?.body;
  const type = body?.error?.type;
  return typeof type === 'string' ? type : undefined;
}
