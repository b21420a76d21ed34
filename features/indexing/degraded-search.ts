// Search is non-critical (contract 7): while Elasticsearch fails, /v1/search answers with the last known good
// hits for that query (or none) and an explicit "features limited" marker — never a 5xx storm. A breaker over
// index reads stops hammering a dead or frozen cluster; a missing index only means nothing is indexed yet.
import type { SearchHit, SearchIndex } from '../../adapters/search/port.ts';
import type { Config } from '../../config/index.ts';
import { classify } from '../../lib/classify.ts';
import type { Clock } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import { createBreaker, isBreakerOpenError, type Breaker, type InspectionBus } from '../../machines/index.ts';

export interface SearchAnswer {
  hits: SearchHit[];
  total: number;
  featuresLimited: boolean;
  reason?: string;
  /** When the hits were read from the index (stale answers are older than now). */
  asOf?: number;
}

export class DegradedSearch {
  readonly breaker: Breaker;
  private readonly lastGood = new Map<string, { hits: SearchHit[]; total: number; at: number }>();

  constructor(
    private readonly index: SearchIndex,
    private readonly deps: { config: Readonly<Config>; clock: Clock; inspection: InspectionBus; capacity?: number; onDegraded?: (reason: string) => void },
  ) {
    this.breaker = createBreaker(deps.config.breaker, { clock: deps.clock, name: 'search-reads', inspect: deps.inspection });
  }

  async search(tag: string, limit: number): Promise<SearchAnswer> {
    const key = `${tag}\u0000${limit}`;
    try {
      const res = await this.breaker.call(() => this.index.search(tag, { limit }));
      const at = this.deps.clock.now();
      this.remember(key, { ...res, at });
      return { ...res, featuresLimited: false, asOf: at };
    } catch (err) {
      if (isIndexMissing(err)) return { hits: [], total: 0, featuresLimited: false };
      const reason = isBreakerOpenError(err) ? 'search index unavailable (breaker open)' : `search index unavailable (${classify(err).source}: ${errorMessage(err).slice(0, 120)})`;
      this.deps.onDegraded?.(reason);
      const stale = this.lastGood.get(key);
      return stale ? { hits: stale.hits, total: stale.total, featuresLimited: true, reason, asOf: stale.at } : { hits: [], total: 0, featuresLimited: true, reason };
    }
  }

  private remember(key: string, v: { hits: SearchHit[]; total: number; at: number }): void {
    this.lastGood.delete(key);
    this.lastGood.set(key, v);
    if (this.lastGood.size > (this.deps.capacity ?? 1_000)) this.lastGood.delete(this.lastGood.keys().next().value!);
  }

  stop(): void {
    this.breaker.stop();
  }
}

function isIndexMissing(err: unknown): boolean {
  const e = err as { meta?: { statusCode?: number; body?: { error?: { type?: string } } }; message?: string };
  return e?.meta?.statusCode === 404 && (e.meta.body?.error?.type === 'index_not_found_exception' || /index_not_found/.test(e.message ?? ''));
}
