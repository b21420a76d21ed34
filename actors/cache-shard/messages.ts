// Messages of a cache shard actor. Lookups do not go through the mailbox (see cache-shard.ts); the write path's
// invalidations and the periodic health/epoch tick do, so they are handled one at a time and in order.

/** An entity written by a batch committed at `lsn` (its floor moves up to it). */
export interface Invalidation {
  entity: string;
  lsn: string;
}

export type CacheShardMsg = { type: 'cache.tick' } | { type: 'cache.invalidate'; entries: Invalidation[] };
