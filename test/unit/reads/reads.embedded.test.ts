// The read side end to end on the embedded profile (PGlite clusters with emulated replicas, in-memory Redis):
// read-your-writes by token while replicas lag, token validation, the cache, a Redis outage degrading popular
// tags but not entity reads, the epoch after it, the operator's breaker control and the OpenAPI document.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PgliteShardStore } from '../../../adapters/pg/pglite-shard-store.ts';
import { clusterOfShard } from '../../../actors/tree.ts';
import { loadConfig } from '../../../config/index.ts';
import { startDaemon, type Daemon } from '../../../daemon.ts';
import { readsFeature } from '../../../features/reads/index.ts';
import { shardOf } from '../../../lib/command.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { signToken } from '../../../lib/token.ts';
import { readsKey } from '../../../features/keys.ts';

const config = loadConfig({
  env: {},
  overrides: {
    http: { port: 0 },
    shards: { count: 8 },
    kafka: { partitions: 4 },
    writer: { batchSize: 100, batchWindowMs: 2, counterFoldMs: 100 },
    breaker: { windowSize: 10, minimumCalls: 4, openMs: 200, openMaxMs: 400 },
    reads: { replayPollMs: 20, cacheProbeMs: 20, lastKnownGood: { capacity: 16, refreshMs: 100 } },
  },
});
let d: Daemon;

beforeAll(async () => {
  d = await startDaemon(config, { listen: false, logger: silentLogger(), features: [readsFeature] });
  await vi.waitFor(() => expect(caches().every((c) => c.usable)).toBe(true), { timeout: 10_000, interval: 10 });
}, 60_000);
afterAll(async () => d?.stop());

const caches = () => d.context.features.api(readsKey)!.caches();
const storeOf = (entity: string) => d.stores.get(clusterOfShard(config, shardOf(entity, config.shards.count))) as PgliteShardStore;

async function write(entity: string, tag: string, op: 'POST' | 'DELETE' = 'POST'): Promise<string> {
  const r = await d.app.inject({ method: op, url: `/v1/entities/${entity}/tags/${tag}?wait=applied` });
  expect(r.statusCode).toBe(200);
  return r.json<{ token: string }>().token;
}

async function read(entity: string, token?: string) {
  const r = await d.app.inject({ method: 'GET', url: `/v1/entities/${entity}/tags${token ? `?token=${encodeURIComponent(token)}` : ''}` });
  return { status: r.statusCode, body: r.json<{ tags: string[]; source: string; servedBy: string; consistency: string }>(), headers: r.headers };
}

async function popular(limit = 5) {
  const r = await d.app.inject({ method: 'GET', url: `/v1/tags/popular?limit=${limit}` });
  return { status: r.statusCode, body: r.json<{ tags: Array<{ tag: string; count: number }>; source: string; featuresLimited: boolean; reason?: string }>(), headers: r.headers };
}

describe('reads (embedded)', () => {
  it('read-your-writes: with a token from the primary while replicas lag, from a replica once one replayed it; without a token from a replica', async () => {
    const entity = 'ryw-1';
    const store = storeOf(entity);
    const replicas = store.topology().replicas;
    for (const r of replicas) await store.embedded.holdReplication(r);
    try {
      const token = await write(entity, 'Critical');
      const withToken = await read(entity, token);
      expect(withToken.status).toBe(200);
      expect(withToken.body).toMatchObject({ tags: ['Critical'], source: 'primary', consistency: 'token' });
      // Later reads with the same token come from the cache once an entry provably at or after the token is
      // there (a primary answer is bounded by the primary's last probed position, not by the token itself).
      await vi.waitFor(async () => expect((await read(entity, token)).body).toMatchObject({ tags: ['Critical'], source: 'cache' }), { timeout: 2_000, interval: 10 });
      const other = await read('ryw-never-written');
      expect(other.body.source).toBe('replica');
    } finally {
      for (const r of replicas) store.embedded.releaseReplication(r);
    }
    const entity2 = 'ryw-2';
    const token2 = await write(entity2, 'p1');
    const r2 = await read(entity2, token2);
    expect(r2.body).toMatchObject({ tags: ['p1'], consistency: 'token' });
    expect(['replica', 'primary']).toContain(r2.body.source);
    await vi.waitFor(async () => expect((await read(`ryw-fresh-${Math.random()}`.replace('0.', ''), token2)).body.source).toBe('replica'), { timeout: 5_000, interval: 20 });
  });

  it('a token never lets the cache answer with data older than the write', async () => {
    const entity = 'ryw-3';
    await write(entity, 'a');
    expect((await read(entity)).body.tags).toEqual(['a']);
    // Cached once the replica's probed position proves the answer is at or after the write's floor.
    await vi.waitFor(async () => expect((await read(entity)).body.source).toBe('cache'), { timeout: 2_000, interval: 10 });
    const token = await write(entity, 'b');
    // Whether or not the invalidation has landed yet, the token forces an answer that includes 'b'.
    expect((await read(entity, token)).body.tags).toEqual(['a', 'b']);
    const token2 = await write(entity, 'a', 'DELETE');
    expect((await read(entity, token2)).body.tags).toEqual(['b']);
    await vi.waitFor(async () => expect((await read(entity)).body.tags).toEqual(['b']), { timeout: 2_000, interval: 10 });
  });

  it('rejects tampered, foreign and malformed tokens and bad input with 400 and a body that says why', async () => {
    const token = await write('tok-1', 'x');
    const [body, mac] = token.split('.');
    const tamperedBody = Buffer.from(Buffer.from(body!, 'base64url').toString().replace(/\.(\d+)\./, '.0.')).toString('base64url');
    const cases: Array<[string, RegExp]> = [
      [`/v1/entities/tok-1/tags?token=${tamperedBody}.${mac}`, /TS_ERR_TOKEN_INVALID/],
      [`/v1/entities/tok-1/tags?token=${token.slice(0, -2)}`, /TS_ERR_TOKEN_INVALID/],
      [`/v1/entities/tok-1/tags?token=${signToken({ shard: 1, lsn: '0/1' }, 'another-deployments-secret')}`, /TS_ERR_TOKEN_INVALID/],
      ['/v1/entities/tok-1/tags?token=garbage', /TS_ERR_TOKEN_INVALID/],
      ['/v1/entities/-bad/tags', /entity: letters/],
      [`/v1/entities/${'e'.repeat(200)}/tags`, /at most 128/],
      ['/v1/entities/tok-1/tags?fresh=1', /unknown query parameter/],
      ['/v1/tags/popular?limit=0', /limit: an integer from 1 to 100/],
      ['/v1/tags/popular?limit=abc', /limit/],
      ['/v1/tags/popular?limit=1&limit=2', /limit: give it once/],
    ];
    for (const [url, why] of cases) {
      const r = await d.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(400);
      expect(r.body, url).toMatch(why);
    }
    const both = await d.app.inject({ method: 'GET', url: `/v1/entities/tok-1/tags?token=${token}`, headers: { 'x-consistency-token': 'other' } });
    expect(both.statusCode).toBe(400);
    const header = await d.app.inject({ method: 'GET', url: '/v1/entities/tok-1/tags', headers: { 'x-consistency-token': token } });
    expect(header.json()).toMatchObject({ tags: ['x'], consistency: 'token' });
  });

  it('Redis down: popular tags answer 200 "features limited" from last-known-good, entity reads stay correct; back: a new epoch, nothing stale', async () => {
    for (let i = 0; i < 3; i++) await write(`pop-${i}`, 'Hot');
    await write('pop-0', 'Warm');
    const before = await popular(5);
    expect(before.status).toBe(200);
    expect(before.body.featuresLimited).toBe(false);
    expect(before.body.tags).toContainEqual({ tag: 'Hot', count: 3 });
    expect((await read('pop-1')).body.tags).toEqual(['Hot']);
    await vi.waitFor(async () => expect((await read('pop-1')).body.source).toBe('cache'), { timeout: 2_000, interval: 10 });
    const epochsBefore = caches().map((c) => c.epoch);

    for (const c of config.redis.instances) await d.context.faults.get(`stop-redis:${c.name}`)!.inject();
    try {
      // Reads keep coming: the breakers trip; popular answers degrade instead of failing.
      await vi.waitFor(async () => expect((await popular(5)).body.featuresLimited).toBe(true), { timeout: 5_000, interval: 5 });
      const degraded = await popular(5);
      expect(degraded.status).toBe(200);
      expect(degraded.headers['x-tagstream-features-limited']).toBe('cache-unavailable');
      expect(degraded.body).toMatchObject({ featuresLimited: true, reason: 'cache-unavailable' });
      expect(degraded.body.tags).toContainEqual({ tag: 'Hot', count: 3 });
      // A write during the outage, and critical reads that see it.
      const token = await write('pop-1', 'Cold');
      for (let i = 0; i < 20; i++) {
        const r = await read('pop-1', token);
        expect(r.status).toBe(200);
        expect(r.body.tags).toEqual(['Cold', 'Hot']);
        expect(r.body.source).not.toBe('cache');
      }
      // Even a shard nobody read from notices (its idle check), so the dashboard shows both down.
      await vi.waitFor(() => expect(caches().every((c) => !c.usable)).toBe(true), { timeout: 5_000, interval: 10 });
    } finally {
      for (const c of config.redis.instances) await d.context.faults.get(`stop-redis:${c.name}`)!.heal!();
    }
    await vi.waitFor(() => expect(caches().every((c) => c.usable)).toBe(true), { timeout: 10_000, interval: 10 });
    expect(caches().map((c) => c.epoch)).not.toEqual(epochsBefore);
    expect((await read('pop-1')).body.tags).toEqual(['Cold', 'Hot']);
    await vi.waitFor(async () => expect((await popular(5)).body.featuresLimited).toBe(false), { timeout: 5_000, interval: 20 });
    const metrics = await d.metrics.registry.getSingleMetricAsString('tagstream_features_limited_total');
    expect(metrics).toMatch(/reason="cache-unavailable"/);
  });

  it('a frozen Redis with its data: after the thaw the pre-outage entry is not served', async () => {
    const entity = 'frz-1';
    await write(entity, 'before');
    await vi.waitFor(async () => expect((await read(entity)).body.source).toBe('cache'), { timeout: 2_000, interval: 10 });
    const mine = shardOf(entity, config.redis.instances.length); // the cache shard holding the entry
    for (const c of config.redis.instances) await d.context.faults.get(`freeze-redis:${c.name}`)!.inject();
    let token = '';
    try {
      await vi.waitFor(async () => {
        const r = await read(entity);
        expect(r.status).toBe(200);
        expect(caches()[mine]!.usable).toBe(false);
      }, { timeout: 5_000, interval: 5 });
      token = await write(entity, 'before', 'DELETE');
    } finally {
      for (const c of config.redis.instances) await d.context.faults.get(`freeze-redis:${c.name}`)!.heal!();
    }
    await vi.waitFor(() => expect(caches().every((c) => c.usable)).toBe(true), { timeout: 10_000, interval: 10 });
    expect((await read(entity)).body.tags).toEqual([]);
    expect((await read(entity, token)).body.tags).toEqual([]);
  });

  it('offers its breakers to the operator: list, force open (reads bypass the cache), back to auto', async () => {
    const control = d.context.features.api(readsKey)!.breakers;
    const names = control.list().map((b) => b.name);
    expect(names).toEqual(['cache-redis0', 'cache-redis1', 'pg0-reads', 'pg1-reads']);
    await write('op-1', 'x');
    for (const n of ['cache-redis0', 'cache-redis1']) control.force(n, 'open');
    expect(control.list().find((b) => b.name === 'cache-redis0')!.state).toBe('forced-open');
    for (let i = 0; i < 3; i++) expect((await read('op-1')).body.source).not.toBe('cache');
    expect((await popular(3)).body.featuresLimited).toBe(true);
    for (const n of ['cache-redis0', 'cache-redis1']) control.force(n, 'auto');
    await vi.waitFor(() => expect(caches().every((c) => c.usable)).toBe(true), { timeout: 5_000, interval: 10 });
    expect(() => control.force('nope', 'open')).toThrow(/no read breaker named/);
  });

  it('a database breaker open sheds popular tags to last-known-good; entity reads on that cluster still answer', async () => {
    const control = d.context.features.api(readsKey)!.breakers;
    await write('db-1', 'Shed');
    expect((await popular(40)).body.featuresLimited).toBe(false); // a long list is known good now
    control.force('pg0-reads', 'open');
    try {
      const r = await popular(9); // not cached yet: the databases would be asked, and pg0 is shed
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ featuresLimited: true, reason: 'database-breaker-open', source: 'last-known-good' });
      expect(r.headers['x-tagstream-features-limited']).toBe('database-breaker-open');
      expect(r.body.tags.length).toBeLessThanOrEqual(9);
      const entity = ['db-1', 'db-2', 'db-3', 'db-4', 'db-5'].find((e) => clusterOfShard(config, shardOf(e, config.shards.count)) === 'pg0')!;
      const token = await write(entity, 'Critical');
      expect((await read(entity, token)).body.tags).toContain('Critical');
    } finally {
      control.force('pg0-reads', 'auto');
    }
  });

  it('the daemon folds each cluster\'s counter deltas into tag_counts: the counts read the same, the metrics count the folds', async () => {
    const [e1, e2] = ['fold-1', 'fold-2'];
    const folded = async () => (await d.context.metrics.counterFoldRows.get()).values.reduce((n, v) => n + v.value, 0);
    const before = await folded();
    await write(e1, 'FoldTag');
    await write(e2, 'FoldTag');
    const stores = [storeOf(e1), storeOf(e2)];
    const inCounters = async () => {
      let n = 0;
      for (const store of new Set(stores)) {
        const conn = store.embedded.connect(store.topology().primary);
        try {
          const [row] = await conn.session((q) => q.query<{ n: string | null }>(`SELECT sum(count)::text AS n FROM tag_counts WHERE tag = 'FoldTag'`));
          n += Number(row?.n ?? 0);
        } finally {
          await conn.close();
        }
      }
      return n;
    };
    await vi.waitFor(async () => expect(await inCounters()).toBe(2), { timeout: 10_000, interval: 50 });
    expect(await folded()).toBeGreaterThanOrEqual(before + 1);
    const ok = (await d.context.metrics.counterFolds.get()).values.filter((v) => v.labels.outcome === 'ok');
    expect(ok.map((v) => v.labels.cluster).sort()).toEqual(config.postgres.clusters.map((c) => c.name).sort());
    let total = 0;
    for (const store of new Set(stores)) total += (await store.popularTags(100)).find((t) => t.tag === 'FoldTag')?.count ?? 0;
    expect(total).toBe(2);
  });
});
