// Builds the cache shards (one per Redis instance, each with its own breaker over tight timeouts) and spawns
// their actors under the supervision tree's root.
import { spawnCacheActors, type CacheActors } from '../../actors/cache-shard/actor.ts';
import { CacheShard } from '../../actors/cache-shard/cache-shard.ts';
import { restartWithBackoff } from '../../actors/runtime/policy.ts';
import type { Logger } from '../../lib/logger.ts';
import { createBreaker, type Breaker } from '../../machines/index.ts';
import type { BreakerConfig, Config } from '../../config/index.ts';
import type { DaemonContext } from '../feature.ts';

/**
 * The cache breakers: failures only — every call has a deadline (a slow Redis is a timeout, a failure); counting
 * slow calls too would trip on the daemon's own overload (calls look slow when our event loop is behind) and push
 * every read onto the databases, the dearer path. Over a time window, so that one late batch of pipelined replies
 * is a few failures among thousands of calls rather than a whole count window.
 */
export function cacheBreakerConfig(config: Readonly<Config>): BreakerConfig {
  const w = config.reads.cacheBreakerWindow;
  return { ...config.breaker, windowType: 'time', windowSize: w.seconds, minimumCalls: w.minimumCalls, slowCallMs: 60_000 };
}

export function createCacheActors(
  ctx: DaemonContext,
  opts: { epochFloors: () => Promise<Map<string, string>>; currentFloor: (cluster: string) => string | undefined; logger: Logger },
): { actors: CacheActors; breakers: Breaker[] } {
  const { config, clock, metrics } = ctx;
  const breakers: Breaker[] = [];
  const shards = [...ctx.adapters.caches.values()].map((store) => {
    const breaker = createBreaker(cacheBreakerConfig(config), { clock, name: `cache-${store.name}`, inspect: ctx.inspection });
    breakers.push(breaker);
    return new CacheShard({
      store,
      breaker,
      clock,
      logger: opts.logger.child({ cache: store.name }),
      timeoutMs: config.reads.cacheTimeoutMs,
      invalidateTimeoutMs: config.redis.commandTimeoutMs,
      ttlSeconds: config.redis.ttlSeconds,
      popularTtlSeconds: config.reads.popularTtlSeconds,
      halfOpenProbes: config.breaker.halfOpenProbes,
      epochFloors: opts.epochFloors,
      currentFloor: opts.currentFloor,
      onLookup: (result) => metrics.cacheLookups.inc({ cache: store.name, result }),
      onEpoch: (reason) => metrics.cacheEpochAdvances.inc({ cache: store.name, reason: reason.startsWith('adopted') ? 'adopted' : reason.split(':')[0]!.slice(0, 40) }),
    });
  });
  const sup = config.supervision;
  const actors = spawnCacheActors(ctx.tree.system, ctx.tree.root, shards, {
    clock,
    tickMs: config.reads.cacheProbeMs,
    mailboxCapacity: 10_000,
    policy: restartWithBackoff({ backoff: { initialMs: sup.restartInitialMs, multiplier: 2, maxMs: sup.restartMaxMs, jitter: 0.2 }, maxRestarts: sup.maxRestarts, withinMs: sup.withinMs, inspect: ctx.inspection }),
    coolDownMs: sup.restartMaxMs,
  });
  return { actors, breakers };
}
