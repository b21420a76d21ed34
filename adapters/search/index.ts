// Chooses the SearchIndex for the profile: embedded → MemorySearchIndex, local/production → ElasticSearchIndex.
import type { Config } from '../../config/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { ElasticSearchIndex } from './elastic-search-index.ts';
import { MemorySearchIndex } from './memory-search-index.ts';
import type { SearchIndex } from './port.ts';

export type { BulkItem, BulkItemResult, SearchHit, SearchIndex, TagDoc } from './port.ts';
export { ElasticSearchIndex, type ElasticSearchIndexOptions } from './elastic-search-index.ts';
export { MemorySearchIndex, type MemorySearchIndexOptions } from './memory-search-index.ts';

export function createSearchIndex(config: Pick<Config, 'profile' | 'elasticsearch'>, logger: Logger, clock: Clock): SearchIndex {
  const es = config.elasticsearch;
  if (config.profile === 'embedded') return new MemorySearchIndex({ clock, refreshIntervalMs: es.refreshIntervalMs });
  return new ElasticSearchIndex({
    node: es.node,
    index: es.index,
    refreshIntervalMs: es.refreshIntervalMs,
    ...(es.username !== undefined ? { username: es.username } : {}),
    ...(es.password !== undefined ? { password: es.password } : {}),
    // One local node cannot host replicas; production keeps Elasticsearch's default.
    ...(config.profile === 'local' ? { replicas: 0 } : {}),
    logger,
  });
}
