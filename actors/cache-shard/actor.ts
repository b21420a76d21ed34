// The cache shards as actors: a `cache` supervisor under the root, one child per Redis instance. Each child
// handles its shard's invalidations and health/epoch ticks in order; a crash restarts it with backoff, and a
// restart (or a message lost to a crash or a full mailbox) makes the shard move to a new key epoch, since an
// invalidation may have been lost with it.
import { shardOf } from '../../lib/command.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import { isolateChild, type Policy } from '../runtime/policy.ts';
import type { ActorHandle, ActorSpec, ActorSystem } from '../runtime/system.ts';
import type { CacheShard } from './cache-shard.ts';
import { higherLsn } from './keys.ts';
import type { CacheShardMsg, Invalidation } from './messages.ts';

export interface CacheActorsOptions {
  clock: Clock;
  tickMs: number;
  mailboxCapacity: number;
  policy: Policy;
  /** Cool-down of a child in a restart storm (the supervisor parks it, its siblings keep working). */
  coolDownMs: number;
}

export interface CacheActors {
  readonly shards: readonly CacheShard[];
  /** The shard of a key (an entity, a popular-tags key): FNV-1a over the R instances. */
  shardFor(key: string): CacheShard;
  /** After a commit: each entity's invalidation goes to its shard's actor. */
  invalidate(entries: Invalidation[]): void;
  start(): void;
  stop(): void;
}

export function cacheShardSpec(shard: CacheShard, opts: Pick<CacheActorsOptions, 'mailboxCapacity' | 'policy'>): ActorSpec<null, CacheShardMsg> {
  return {
    name: shard.name,
    kind: 'cache-shard',
    init: () => {
      shard.tickPending = false;
      shard.needAdvance('cache shard actor (re)started');
      return null;
    },
    receive: async (state, msg) => {
      await shard.receive(msg);
      return state;
    },
    policy: opts.policy,
    mailboxCapacity: opts.mailboxCapacity,
    onDropped: (msg) => {
      if (msg.type === 'cache.invalidate') shard.needAdvance('an invalidation was dropped');
      else shard.tickPending = false;
    },
  };
}

export function spawnCacheActors(system: ActorSystem, root: ActorHandle<unknown>, shards: CacheShard[], opts: CacheActorsOptions): CacheActors {
  if (shards.length === 0) throw new RangeError('at least one cache shard is needed');
  const supervisor = system.spawn(
    { name: 'cache', kind: 'supervisor', init: () => null, receive: (s: null) => s, childPolicy: isolateChild({ coolDownMs: opts.coolDownMs, maxEscalations: 3, withinMs: 10 * 60_000 }) },
    root,
  );
  const handles = shards.map((s) => system.spawn(cacheShardSpec(s, opts), supervisor));
  let timer: TimerHandle | null = null;
  let running = false;

  const tick = () => {
    timer = null;
    shards.forEach((s, i) => {
      if (s.tickPending) return;
      s.tickPending = handles[i]!.tell({ type: 'cache.tick' });
    });
    if (running) timer = opts.clock.setTimeout(tick, opts.tickMs);
  };

  return {
    shards,
    shardFor: (key) => shards[shardOf(key, shards.length)]!,
    invalidate(entries) {
      const byShard = new Map<number, Map<string, Invalidation>>();
      for (const e of entries) {
        const i = shardOf(e.entity, shards.length);
        let m = byShard.get(i);
        if (!m) byShard.set(i, (m = new Map()));
        const prev = m.get(e.entity);
        if (!prev || higherLsn(prev.lsn, e.lsn) === e.lsn) m.set(e.entity, e); // one floor per entity: the highest
      }
      for (const [i, m] of byShard) {
        const list = [...m.values()];
        // A full mailbox or a stopped actor loses the invalidation: the shard must not serve until a new epoch.
        if (!handles[i]!.tell({ type: 'cache.invalidate', entries: list })) shards[i]!.needAdvance('invalidation not delivered (mailbox full or actor stopped)');
      }
    },
    start() {
      if (running) return;
      running = true;
      tick();
    },
    stop() {
      running = false;
      if (timer !== null) opts.clock.clearTimeout(timer);
      timer = null;
    },
  };
}
