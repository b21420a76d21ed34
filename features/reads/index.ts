// The read side (issue 6): replay tracking per cluster, cache shard actors over Redis behind breakers, the
// degradation guards, the read API and the OpenAPI description. Wired into the daemon by one line in
// features/index.ts.
import { createCacheActors } from './cache.ts';
import type { CacheShard } from '../../actors/cache-shard/cache-shard.ts';
import { higherLsn } from '../../actors/cache-shard/keys.ts';
import { clusterOfShard } from '../../actors/tree.ts';
import { registerOpenApiRoute, type OpenApiRegistry } from '../../web/http/openapi.ts';
import { registerReadRoutes } from '../../web/http/read-routes.ts';
import type { DaemonContext, Feature, FeatureFactory } from '../feature.ts';
import { readsKey } from '../keys.ts';
import { createBreakerControl, type ReadBreakerControl } from './breaker-control.ts';
import { registerRedisFaults } from './faults.ts';
import { EntityBatcher } from './entity-batcher.ts';
import { ClusterGuards } from './guards.ts';
import { LastKnownGood } from './last-known-good.ts';
import { ReadService } from './read-service.ts';
import { ReplayTracker } from './replay-tracker.ts';

/** What this feature offers the others: its read service, its breakers, and /openapi.json to describe routes in. */
export interface ReadsApi {
  reads: ReadService;
  breakers: ReadBreakerControl;
  openapi: OpenApiRegistry;
  /** Each cache shard's state (also under `status().caches`): tests and probes wait on `usable`. */
  caches(): Array<ReturnType<CacheShard['status']>>;
}

/** The reads section of /status: the cache shards, each cluster's read guards and replay positions. */
export interface ReadsStatus {
  caches: Array<ReturnType<CacheShard['status']>>;
  clusters: Array<{
    cluster: string;
    breaker: ReturnType<ClusterGuards['breaker']['state']>;
    bulkheads: Array<ReturnType<ClusterGuards['critical']['stats']>>;
    entityReads: { queries: number; reads: number };
    positions: ReturnType<ReplayTracker['status']>;
  }>;
  lastKnownGood: number;
}

export const readsFeature: FeatureFactory<ReadsStatus> = (ctx: DaemonContext): Feature<ReadsStatus> => {
  const { config, clock, logger, metrics } = ctx;
  const log = logger.child({ feature: 'reads' });
  const trackers = new Map([...ctx.adapters.stores].map(([name, store]) => [name, new ReplayTracker(store, { clock, logger: log, intervalMs: config.reads.replayPollMs })]));
  const guards = new Map([...ctx.adapters.stores.keys()].map((name) => [name, new ClusterGuards(name, { config, clock, inspection: ctx.inspection, metrics })]));
  const batchers = new Map([...ctx.adapters.stores].map(([name, store]) => [name, new EntityBatcher(store, (fn) => guards.get(name)!.criticalRead(fn))]));
  // Highest commit LSN this daemon applied per cluster: part of a new epoch's floors even when a probe fails.
  const committed = new Map<string, string>();

  const epochFloors = async (): Promise<Map<string, string>> => {
    await Promise.all([...trackers.values()].map((t) => t.refresh()));
    const floors = new Map<string, string>();
    for (const cluster of trackers.keys()) {
      const floor = currentFloor(cluster);
      if (floor) floors.set(cluster, floor);
    }
    return floors;
  };

  const currentFloor = (cluster: string) => higherLsn(trackers.get(cluster)?.highest(), committed.get(cluster));
  const caches = createCacheActors(ctx, { epochFloors, currentFloor, logger: log });
  const lkg = new LastKnownGood(config.reads.lastKnownGood.capacity);
  const reads = new ReadService({
    config,
    clock,
    logger: log,
    stores: ctx.adapters.stores,
    trackers,
    guards,
    batchers,
    caches: caches.actors,
    lkg,
    onDegraded: (reason) => metrics.featuresLimited.inc({ endpoint: 'popular-tags', reason }),
    onStale: () => metrics.featuresLimited.inc({ endpoint: 'entity-tags', reason: 'database-unavailable' }),
    heldCluster: (c) => ctx.tree.hold.behind(c),
  });

  const unsubscribe = ctx.tree.onApplied((items, commitLsn) => {
    if (items.length === 0) return;
    const cluster = clusterOfShard(config, items[0]!.shard);
    committed.set(cluster, higherLsn(committed.get(cluster), commitLsn)!);
    caches.actors.invalidate(items.map((it) => ({ entity: it.command.entity, lsn: commitLsn })));
  });

  registerReadRoutes(ctx.app, { reads, tokenSecret: config.http.tokenSecret, shardCount: config.shards.count, limits: config.commands, popularMaxLimit: config.reads.popularMaxLimit, maxInFlight: config.reads.maxInFlight, metrics, clock });
  const openapi = registerOpenApiRoute(ctx.app);
  registerRedisFaults(ctx);

  const breakers = createBreakerControl([
    ...caches.breakers.map((b) => ({ breaker: b, guards: `Redis ${b.name.replace(/^cache-/, '')}` })),
    ...[...guards.values()].map((g) => ({ breaker: g.breaker, guards: `${g.cluster} database reads` })),
  ]);

  ctx.features.provide(readsKey, { breakers, openapi, reads, caches: () => caches.actors.shards.map((s) => s.status()) });
  return {
    name: 'reads',
    controls: { breakers },
    async start() {
      for (const t of trackers.values()) t.start();
      caches.actors.start();
    },
    async stop() {
      unsubscribe();
      caches.actors.stop();
      for (const t of trackers.values()) t.stop();
      for (const g of guards.values()) g.stop();
      for (const b of caches.breakers) b.stop();
    },
    notReady: () => [],
    status: () => ({
      caches: caches.actors.shards.map((s) => s.status()),
      clusters: [...guards.values()].map((g) => ({
        cluster: g.cluster,
        breaker: g.breaker.state(),
        bulkheads: [g.critical.stats(), g.nonCritical.stats()],
        entityReads: { queries: batchers.get(g.cluster)!.batches, reads: batchers.get(g.cluster)!.reads },
        positions: trackers.get(g.cluster)!.status(),
      })),
      lastKnownGood: lkg.size,
    }),
  };
};
