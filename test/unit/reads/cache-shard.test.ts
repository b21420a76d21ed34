// A cache shard over the in-memory Redis stand-in, on simulated time: floors, key epochs, the breaker, and the
// outage rule (nothing cached before an outage is served after it).
import { describe, expect, it } from 'vitest';
import { MemoryCacheStore } from '../../../adapters/redis/memory-cache-store.ts';
import { CacheShard, type EntityLookup } from '../../../actors/cache-shard/cache-shard.ts';
import { EPOCH_KEY, entityKey, floorKey } from '../../../actors/cache-shard/keys.ts';
import type { BreakerConfig } from '../../../config/schema.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { createBreaker } from '../../../machines/index.ts';

const breakerCfg: BreakerConfig = { windowType: 'count', windowSize: 10, minimumCalls: 4, failureRateThreshold: 0.5, slowCallRateThreshold: 1, slowCallMs: 50, openMs: 1_000, openMaxMs: 8_000, openMultiplier: 2, halfOpenProbes: 2 };
const settle = () => new Promise<void>((r) => setImmediate(r));

function setup(opts: { clock?: SimulatedClock; store?: MemoryCacheStore; floors?: Map<string, string>; now?: () => string | undefined } = {}) {
  const clock = opts.clock ?? new SimulatedClock(1_000_000);
  const store = opts.store ?? new MemoryCacheStore({ name: 'redis0', clock, commandTimeoutMs: 250 });
  const breaker = createBreaker(breakerCfg, { clock, name: 'cache-redis0' });
  let floors = opts.floors ?? new Map([['pg0', '0/10']]);
  const epochs: string[] = [];
  const shard = new CacheShard({
    store,
    breaker,
    clock,
    logger: silentLogger(),
    timeoutMs: 50,
    invalidateTimeoutMs: 250,
    ttlSeconds: 300,
    popularTtlSeconds: 5,
    halfOpenProbes: 2,
    epochFloors: async () => floors,
    currentFloor: () => opts.now?.(),
    onEpoch: (r) => epochs.push(r),
  });
  return { clock, store, breaker, shard, epochs, setFloors: (f: Map<string, string>) => (floors = f) };
}

async function cached(shard: CacheShard, entity: string, tags: string[], lsn: string): Promise<void> {
  const look = await shard.lookupEntity(entity, 'pg0');
  if (look.kind === 'bypass') throw new Error('shard not serving');
  shard.storeEntity(look, entity, 'pg0', tags, lsn);
  await settle();
}

const kind = (l: EntityLookup) => l.kind;

describe('CacheShard', () => {
  it('serves nothing before its first epoch; then misses, writes back and hits', async () => {
    const { shard, store, epochs } = setup();
    expect(shard.usable()).toBe(false);
    expect(kind(await shard.lookupEntity('bug-1', 'pg0'))).toBe('bypass');
    await shard.tick();
    expect(shard.usable()).toBe(true);
    expect(epochs).toEqual(['start']);
    expect(await store.get(EPOCH_KEY)).toBe(shard.status().epoch);
    expect(kind(await shard.lookupEntity('bug-1', 'pg0'))).toBe('miss');
    await cached(shard, 'bug-1', ['Critical'], '0/20');
    expect(await shard.lookupEntity('bug-1', 'pg0')).toMatchObject({ kind: 'hit', tags: ['Critical'], lsn: '0/20' });
  });

  it('a floor (the commit LSN of the latest write) hides older entries and refuses older write-backs', async () => {
    const { shard, store } = setup();
    await shard.tick();
    await cached(shard, 'bug-2', ['a'], '0/20');
    await shard.invalidate([{ entity: 'bug-2', lsn: '0/30' }]);
    expect(await store.get(floorKey('bug-2'))).toBe('0/30');
    expect(await shard.lookupEntity('bug-2', 'pg0')).toMatchObject({ kind: 'miss', bar: '0/30' });
    // A lagging replica's answer (read at 0/25) must not be cached over the floor…
    await cached(shard, 'bug-2', ['a'], '0/25');
    expect(kind(await shard.lookupEntity('bug-2', 'pg0'))).toBe('miss');
    // …one read at or after it is.
    await cached(shard, 'bug-2', ['a', 'b'], '0/30');
    expect(await shard.lookupEntity('bug-2', 'pg0')).toMatchObject({ kind: 'hit', tags: ['a', 'b'] });
  });

  it("an entry below the epoch's floor for its cluster is neither written nor served", async () => {
    const { shard, store } = setup({ floors: new Map([['pg0', '0/100']]) });
    await shard.tick();
    await cached(shard, 'bug-3', ['old'], '0/99');
    expect(kind(await shard.lookupEntity('bug-3', 'pg0'))).toBe('miss');
    // Even if one got there (another daemon, an older epoch's floors), it is not served.
    await store.set(entityKey(shard.status().epoch!, 'bug-3'), JSON.stringify({ t: ['old'], l: '0/99' }), 60);
    expect(kind(await shard.lookupEntity('bug-3', 'pg0'))).toBe('miss');
    await cached(shard, 'bug-3', ['new'], '0/100');
    expect(await shard.lookupEntity('bug-3', 'pg0')).toMatchObject({ kind: 'hit', tags: ['new'] });
  });

  it('a cluster whose position was unknown when the epoch began is not cached until one is known, then only above it', async () => {
    let known: string | undefined;
    const { shard } = setup({ floors: new Map([['pg0', '0/10']]), now: () => known });
    await shard.tick();
    expect(kind(await shard.lookupEntity('bug-9', 'pg1'))).toBe('bypass');
    known = '0/50';
    const look = await shard.lookupEntity('bug-9', 'pg1');
    expect(look).toMatchObject({ kind: 'miss', bar: '0/50' });
    if (look.kind === 'bypass') throw new Error('unreachable');
    shard.storeEntity(look, 'bug-9', 'pg1', ['x'], '0/40');
    await settle();
    expect(kind(await shard.lookupEntity('bug-9', 'pg1'))).toBe('miss');
    known = '0/60'; // the floor was fixed when first needed; later positions do not move it
    shard.storeEntity(look, 'bug-9', 'pg1', ['x'], '0/55');
    await settle();
    expect(await shard.lookupEntity('bug-9', 'pg1')).toMatchObject({ kind: 'hit', tags: ['x'] });
  });

  it('Redis down: the breaker opens, reads bypass without calling it; back: probes close it, a new epoch hides everything from before', async () => {
    const { shard, store, breaker, clock, epochs, setFloors } = setup();
    await shard.tick();
    await cached(shard, 'bug-4', ['before'], '0/20');
    const epoch1 = shard.status().epoch;

    store.setAvailable(false);
    for (let i = 0; i < 4; i++) expect(kind(await shard.lookupEntity('bug-4', 'pg0'))).toBe('bypass');
    expect(breaker.state()).toBe('open');
    expect(shard.usable()).toBe(false);
    const rejected = breaker.stats().rejected;
    expect(kind(await shard.lookupEntity('bug-4', 'pg0'))).toBe('bypass');
    expect(breaker.stats().rejected).toBe(rejected); // not even tried: bypassed before the breaker

    // A write during the outage: its invalidation cannot land (skipped, the epoch change covers it).
    await shard.invalidate([{ entity: 'bug-4', lsn: '0/40' }]);
    setFloors(new Map([['pg0', '0/40']]));

    store.setAvailable(true); // came back *with* its data (a frozen server, a partition)
    await shard.tick(); // still open: nothing happens
    expect(shard.usable()).toBe(false);
    clock.increment(1_000);
    expect(breaker.state()).toBe('half-open');
    await shard.tick(); // probes
    expect(breaker.state()).toBe('closed');
    expect(shard.usable()).toBe(false); // not before the new epoch
    await shard.tick();
    expect(shard.usable()).toBe(true);
    expect(shard.status().epoch).not.toBe(epoch1);
    expect(epochs).toEqual(['start', 'breaker open']);
    // The pre-outage entry is still in Redis under the old epoch, and unreachable.
    expect(await store.get(entityKey(epoch1!, 'bug-4'))).not.toBeNull();
    expect(kind(await shard.lookupEntity('bug-4', 'pg0'))).toBe('miss');
  });

  it('a frozen Redis costs one deadline per call (not the store timeout), then the breaker', async () => {
    const { shard, store, breaker, clock } = setup();
    await shard.tick();
    store.freeze();
    const pending = shard.lookupEntity('bug-5', 'pg0');
    await settle();
    clock.increment(49);
    await settle();
    let done = false;
    void pending.then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    clock.increment(1);
    expect(kind(await pending)).toBe('bypass');
    expect(breaker.stats().window.failures).toBe(1);
    store.thaw();
  });

  it('a deadline that fired late because our own process stalled is re-armed, not blamed on Redis', async () => {
    // A clock whose timers we fire by hand, late: what an overloaded event loop does.
    let t = 1_000_000;
    const timers = new Map<number, { at: number; fn: () => void }>();
    let seq = 0;
    const clock = { now: () => t, setTimeout: (fn: () => void, ms: number) => (timers.set(++seq, { at: t + ms, fn }), seq), clearTimeout: (h: unknown) => void timers.delete(h as number) };
    const fireDue = () => {
      for (const [id, tm] of [...timers]) if (tm.at <= t) (timers.delete(id), tm.fn());
    };
    const store = new MemoryCacheStore({ name: 'redis0', clock, commandTimeoutMs: 10_000 });
    const breaker = createBreaker(breakerCfg, { clock, name: 'cache-redis0' });
    const shard = new CacheShard({ store, breaker, clock, logger: silentLogger(), timeoutMs: 50, invalidateTimeoutMs: 250, ttlSeconds: 300, popularTtlSeconds: 5, halfOpenProbes: 2, epochFloors: async () => new Map([['pg0', '0/1']]), currentFloor: () => undefined });
    await shard.tick();
    store.freeze();
    const look = shard.lookupEntity('bug-11', 'pg0');
    await settle();
    t += 120; // the loop was stalled: the 50 ms deadline fires 70 ms late
    fireDue();
    await settle();
    store.thaw(); // the reply was there all along
    expect(kind(await look)).toBe('miss');
    expect(breaker.stats().window.failures).toBe(0);
    // A deadline that fires on time is a real timeout.
    store.freeze();
    const late = shard.lookupEntity('bug-11', 'pg0');
    await settle();
    t += 50;
    fireDue();
    expect(kind(await late)).toBe('bypass');
    expect(breaker.stats().window.failures).toBe(1);
    store.thaw();
  });

  it('the epoch key vanishing (Redis restarted empty, or evicted it) moves the shard to a new epoch', async () => {
    const { shard, store, epochs } = setup();
    await shard.tick();
    await cached(shard, 'bug-6', ['x'], '0/20');
    store.flushAll();
    await store.set(entityKey(shard.status().epoch!, 'bug-6'), JSON.stringify({ t: ['stale'], l: '0/20' }), 60);
    expect(kind(await shard.lookupEntity('bug-6', 'pg0'))).toBe('bypass');
    expect(shard.usable()).toBe(false);
    await shard.tick();
    expect(shard.usable()).toBe(true);
    expect(epochs[1]).toMatch(/epoch key missing/);
    expect(kind(await shard.lookupEntity('bug-6', 'pg0'))).toBe('miss');
  });

  it('a failed invalidation stops serving until a new epoch', async () => {
    const { shard, store } = setup();
    await shard.tick();
    await cached(shard, 'bug-7', ['x'], '0/20');
    store.setAvailable(false);
    await shard.invalidate([{ entity: 'bug-7', lsn: '0/30' }]);
    store.setAvailable(true);
    expect(shard.usable()).toBe(false);
    await shard.tick();
    expect(shard.usable()).toBe(true);
    expect(shard.status().lastEpochChange?.reason).toMatch(/invalidation failed/);
    expect(kind(await shard.lookupEntity('bug-7', 'pg0'))).toBe('miss');
  });

  it('an invalidation slower than a read deadline, but within the command timeout, lands and costs no epoch', async () => {
    const { shard, store, clock, epochs } = setup();
    await shard.tick();
    await cached(shard, 'bug-8', ['x'], '0/20');
    store.freeze(); // a busy host: Redis answers late, not never
    const landing = shard.invalidate([{ entity: 'bug-8', lsn: '0/30' }]);
    clock.increment(120); // past the 50 ms read deadline, within the 250 ms command timeout
    await settle();
    store.thaw();
    await landing;
    expect(epochs).toEqual(['start']);
    expect(shard.usable()).toBe(true);
    expect(await store.get(floorKey('bug-8'))).toBe('0/30');
    expect(kind(await shard.lookupEntity('bug-8', 'pg0'))).toBe('miss'); // the floor hides the older entry
  });

  it('one invalidation of many entities is one call to the breaker, not one per entity', async () => {
    const { shard, store, breaker } = setup();
    await shard.tick();
    const before = breaker.stats().window.calls;
    store.setAvailable(false);
    await shard.invalidate(Array.from({ length: 20 }, (_, i) => ({ entity: `bug-${i}`, lsn: '0/30' })));
    store.setAvailable(true);
    expect(breaker.stats().window.calls - before).toBe(1);
    expect(breaker.state()).toBe('closed'); // 20 failed SETs would have tripped it (minimum 4 calls, 50%)
  });

  it('a daemon sharing the Redis adopts the epoch another one moved on to', async () => {
    const clock = new SimulatedClock(5_000);
    const store = new MemoryCacheStore({ name: 'redis0', clock, commandTimeoutMs: 250 });
    const a = setup({ clock, store }).shard;
    const b = setup({ clock, store }).shard;
    await a.tick();
    await b.tick(); // b starts too: a new epoch
    expect(kind(await a.lookupEntity('bug-8', 'pg0'))).toBe('bypass'); // a sees b's epoch
    await a.tick();
    expect(a.status().epoch).toBe(b.status().epoch);
    expect(a.status().adoptions).toBe(1);
    await cached(a, 'bug-8', ['shared'], '0/20');
    expect(await b.lookupEntity('bug-8', 'pg0')).toMatchObject({ kind: 'hit', tags: ['shared'] });
  });

  it("a lookup that was in flight when the shard moved on does not make it move on again", async () => {
    const { shard, store, epochs } = setup();
    await shard.tick();
    await cached(shard, 'bug-10', ['x'], '0/20');
    store.freeze(); // the lookup's MGET is held…
    const inFlight = shard.lookupEntity('bug-10', 'pg0');
    shard.needAdvance('test'); // …while something asks for a new epoch
    store.thaw(); // the MGET is answered first (old epoch): a hit is fine, it was true when read
    await inFlight;
    await shard.tick();
    expect(shard.usable()).toBe(true);
    // A reply carrying our own new epoch (sent after the switch was decided) is not a reason for another one.
    const current = await store.get(EPOCH_KEY);
    expect(current).toBe(shard.status().epoch);
    await shard.tick();
    expect(epochs).toEqual(['start', 'test']);
  });

  it('operator states: forced open bypasses and needs a new epoch afterwards; disabled keeps serving', async () => {
    const { shard, breaker } = setup();
    await shard.tick();
    breaker.force('disabled');
    expect(shard.usable()).toBe(true);
    breaker.force('open');
    expect(shard.usable()).toBe(false);
    breaker.force('closed');
    expect(shard.usable()).toBe(false);
    await shard.tick();
    expect(shard.usable()).toBe(true);
  });
});
