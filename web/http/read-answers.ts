// What the read routes answer: the contract between the HTTP layer and whatever serves the reads
// (features/reads/read-service.ts). Declared here so the web layer does not reach up into features.
import type { PopularTag } from '../../actors/cache-shard/keys.ts';

export interface EntityTagsAnswer {
  entity: string;
  shard: number;
  tags: string[];
  source: 'cache' | 'replica' | 'primary';
  /** The cache instance or the PostgreSQL node that answered. */
  servedBy: string;
  /**
   * none: no token; token: honoured; token-other-cluster: the token's shard lives on another cluster, so it says
   * nothing here; held: the entity's cluster is held (issue 17): commands for it wait in its hold topic, so the
   * answer may be behind writes already accepted; stale: no node of the entity's cluster answered, so this is
   * the cache's last-known entry — possibly older than writes already applied, and than the token (issue 17).
   */
  consistency: 'none' | 'token' | 'token-other-cluster' | 'held' | 'stale';
  /** The answer reflects at least this WAL position of the entity's cluster, when known. */
  lsn?: string;
}

export type DegradeReason = 'cache-unavailable' | 'database-breaker-open' | 'overloaded' | 'database-unavailable';

export interface PopularAnswer {
  limit: number;
  tags: PopularTag[];
  source: 'cache' | 'database' | 'last-known-good' | 'none';
  featuresLimited: boolean;
  reason?: DegradeReason;
  /** When the answer was computed from the databases (ms since epoch). */
  asOf?: number;
}
