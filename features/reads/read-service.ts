// The read paths. Entity tags (critical, read-your-writes): cache shard → database (reads of one event-loop turn
// coalesced into one query) under the cluster's critical bulkhead, routed by the token's LSN (a replica that
// replayed it, else the primary). Popular tags
// (non-critical): cache shard → databases under the non-critical bulkheads and breakers → last-known-good with
// a "features limited" marker; never an error.
import type { ShardStore } from '../../adapters/pg/port.ts';
import type { CacheActors } from '../../actors/cache-shard/actor.ts';
import { higherLsn, lsnAtLeast, type PopularEntry } from '../../actors/cache-shard/keys.ts';
import { clusterOfShard } from '../../actors/tree.ts';
import type { Config } from '../../config/index.ts';
import { isBulkheadFull } from '../../lib/bulkhead.ts';
import { classify } from '../../lib/classify.ts';
import type { Clock } from '../../lib/clock.ts';
import { shardOf } from '../../lib/command.ts';
import { ErrorCodes, TagstreamError, errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { ConsistencyToken } from '../../lib/token.ts';
import { isBreakerOpenError } from '../../machines/index.ts';
import type { EntityBatcher, EntityRead } from './entity-batcher.ts';
import type { ClusterGuards } from './guards.ts';
import type { LastKnownGood } from './last-known-good.ts';
import type { ReplayTracker } from './replay-tracker.ts';
import type { DegradeReason, EntityTagsAnswer, PopularAnswer } from '../../web/http/read-answers.ts';

// The answers' shapes are the read API's contract, so they live with the routes (web/http/read-answers.ts).
export type { DegradeReason, EntityTagsAnswer, PopularAnswer };

export interface ReadServiceDeps {
  config: Readonly<Config>;
  clock: Clock;
  logger: Logger;
  stores: Map<string, ShardStore>;
  trackers: Map<string, ReplayTracker>;
  guards: Map<string, ClusterGuards>;
  /** Database reads of entity tags, coalesced per cluster (one query per event-loop turn). */
  batchers: Map<string, EntityBatcher>;
  caches: CacheActors;
  lkg: LastKnownGood;
  onDegraded?: (reason: DegradeReason) => void;
  /** An entity read found no node of its cluster answering: served from the cache's last-known entry, or not at all. */
  onStale?: (cluster: string, outcome: 'last-known' | 'unknown') => void;
  /** The cluster's commands are (partly) waiting in its hold topic: its answers may be behind. */
  heldCluster?: (cluster: string) => boolean;
}

export class ReadService {
  private readonly refreshing = new Map<number, Promise<PopularEntry>>();
  private readonly lastRefresh = new Map<number, number>();

  constructor(private readonly deps: ReadServiceDeps) {}

  async entityTags(entity: string, token?: ConsistencyToken): Promise<EntityTagsAnswer> {
    const { config } = this.deps;
    const shard = shardOf(entity, config.shards.count);
    const cluster = clusterOfShard(config, shard);
    const minLsn = token && clusterOfShard(config, token.shard) === cluster ? token.lsn : undefined;
    const consistency = this.deps.heldCluster?.(cluster) ? 'held' : !token ? 'none' : minLsn ? 'token' : 'token-other-cluster';
    const cache = this.deps.caches.shardFor(entity);
    const look = await cache.lookupEntity(entity, cluster);
    if (look.kind === 'hit' && lsnAtLeast(look.lsn, minLsn)) {
      return { entity, shard, tags: look.tags, source: 'cache', servedBy: cache.name, consistency, lsn: look.lsn };
    }
    // Lower bounds taken before the read: whatever node answers, its data is at least this recent.
    const bounds = this.deps.trackers.get(cluster)!.snapshot();
    let r: EntityRead;
    try {
      r = await this.deps.batchers.get(cluster)!.read(shard, entity, minLsn);
    } catch (err) {
      // No node of the cluster answers: the cache's last-known entry, marked stale; a 503 if nothing is known.
      const cls = classify(err).class;
      if (isBulkheadFull(err) || (cls !== 'retry' && cls !== 'reroute')) throw err;
      const known = look.kind === 'hit' ? look : look.kind === 'miss' ? look.stale : undefined;
      this.deps.onStale?.(cluster, known ? 'last-known' : 'unknown');
      if (known) return { entity, shard, tags: known.tags, source: 'cache', servedBy: cache.name, consistency: 'stale', lsn: known.lsn };
      throw new TagstreamError(ErrorCodes.UNAVAILABLE, `cluster ${cluster}: no node answers (${errorMessage(err)}) and nothing is cached for this entity; retry later`, {
        retriable: true,
        cause: err,
        details: { cluster },
      });
    }
    // A replica was checked to have replayed minLsn; the primary was not checked against anything.
    const lsn = higherLsn(bounds.get(r.servedBy)?.lsn, r.role === 'replica' ? minLsn : undefined);
    if (look.kind !== 'bypass' && lsn) cache.storeEntity(look, entity, cluster, r.tags, lsn);
    return { entity, shard, tags: r.tags, source: r.role, servedBy: r.servedBy, consistency, ...(lsn ? { lsn } : {}) };
  }

  async popularTags(limit: number): Promise<PopularAnswer> {
    const cache = this.deps.caches.shardFor(`popular:${limit}`);
    const look = await cache.lookupPopular(limit);
    if (look.kind === 'hit') {
      this.deps.lkg.set(limit, look.entry);
      return { limit, tags: look.entry.tags, source: 'cache', featuresLimited: false, asOf: look.entry.at };
    }
    if (look.kind === 'bypass') return this.degraded(limit, 'cache-unavailable');
    try {
      const entry = await this.refresh(limit);
      cache.storePopular(look.epoch, limit, entry);
      return { limit, tags: entry.tags, source: 'database', featuresLimited: false, asOf: entry.at };
    } catch (err) {
      return this.degraded(limit, reasonOf(err));
    }
  }

  /** Overload: last-known-good (or nothing) with the marker, without touching Redis or the databases. */
  shedPopular(limit: number): PopularAnswer {
    this.deps.onDegraded?.('overloaded');
    const lkg = this.deps.lkg.get(limit);
    return lkg ? { limit, tags: lkg.tags, source: 'last-known-good', featuresLimited: true, reason: 'overloaded', asOf: lkg.at } : { limit, tags: [], source: 'none', featuresLimited: true, reason: 'overloaded' };
  }

  /** Last-known-good with the marker; refreshed in the background at most every lastKnownGood.refreshMs. */
  private async degraded(limit: number, reason: DegradeReason): Promise<PopularAnswer> {
    this.deps.onDegraded?.(reason);
    const lkg = this.deps.lkg.get(limit);
    const now = this.deps.clock.now();
    const due = now - (this.lastRefresh.get(limit) ?? -Infinity) >= this.deps.config.reads.lastKnownGood.refreshMs;
    if (lkg) {
      if (due && now - lkg.at >= this.deps.config.reads.lastKnownGood.refreshMs) this.refresh(limit).catch(() => undefined);
      return { limit, tags: lkg.tags, source: 'last-known-good', featuresLimited: true, reason, asOf: lkg.at };
    }
    // Nothing to fall back on yet: one refresh per limit at a time (shared by every waiting request), if due.
    if (due || this.refreshing.has(limit)) {
      try {
        const entry = await this.refresh(limit);
        return { limit, tags: entry.tags, source: 'database', featuresLimited: true, reason, asOf: entry.at };
      } catch (err) {
        reason = reason === 'cache-unavailable' ? reasonOf(err) : reason;
      }
    }
    return { limit, tags: [], source: 'none', featuresLimited: true, reason };
  }

  /** Top tags over every cluster (each asked for more than `limit`, so the merge rarely misses one). Single-flight. */
  private refresh(limit: number): Promise<PopularEntry> {
    let p = this.refreshing.get(limit);
    if (p) return p;
    this.lastRefresh.set(limit, this.deps.clock.now());
    const fetch = Math.min(limit * 2 + 10, 1_000);
    p = Promise.all(
      [...this.deps.stores].map(([cluster, store]) => this.deps.guards.get(cluster)!.nonCriticalRead(() => store.popularTags(fetch))),
    )
      .then((lists) => {
        const sums = new Map<string, number>();
        for (const list of lists) for (const t of list) sums.set(t.tag, (sums.get(t.tag) ?? 0) + t.count);
        const tags = [...sums].map(([tag, count]) => ({ tag, count })).filter((t) => t.count > 0);
        tags.sort((a, b) => b.count - a.count || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
        const entry = { tags: tags.slice(0, limit), at: this.deps.clock.now() };
        this.deps.lkg.set(limit, entry);
        return entry;
      })
      .catch((err: unknown) => {
        if (!isBreakerOpenError(err) && !isBulkheadFull(err)) this.deps.logger.warn({ limit, err: errorMessage(err) }, 'popular tags: database read failed');
        throw err;
      })
      .finally(() => this.refreshing.delete(limit));
    this.refreshing.set(limit, p);
    return p;
  }
}

function reasonOf(err: unknown): DegradeReason {
  if (isBreakerOpenError(err)) return 'database-breaker-open';
  if (isBulkheadFull(err)) return 'overloaded';
  return 'database-unavailable';
}
