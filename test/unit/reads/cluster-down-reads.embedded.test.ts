// Issue 17, reads of a cluster with no node answering (embedded: PGlite clusters, in-memory Redis): an entity the
// cache knows is served from its last-known entry with `consistency: "stale"` (200, never a 5xx); an entity
// nothing is known about answers 503 TS_ERR_UNAVAILABLE with Retry-After, naming the cluster. Back: fresh answers.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PgliteShardStore } from '../../../adapters/pg/pglite-shard-store.ts';
import { clusterOfShard } from '../../../actors/tree.ts';
import { loadConfig } from '../../../config/index.ts';
import { startDaemon, type Daemon } from '../../../daemon.ts';
import { readsFeature } from '../../../features/reads/index.ts';
import { shardOf } from '../../../lib/command.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { readsKey } from '../../../features/keys.ts';

const config = loadConfig({
  env: {},
  overrides: {
    http: { port: 0 },
    shards: { count: 8 },
    kafka: { partitions: 4 },
    writer: { batchSize: 100, batchWindowMs: 2 },
    reads: { replayPollMs: 20, cacheProbeMs: 20 },
  },
});
let d: Daemon;

beforeAll(async () => {
  d = await startDaemon(config, { listen: false, logger: silentLogger(), features: [readsFeature] });
  const caches = () => d.context.features.api(readsKey)!.caches();
  await vi.waitFor(() => expect(caches().every((c) => c.usable)).toBe(true), { timeout: 10_000, interval: 10 });
}, 60_000);
afterAll(async () => d?.stop());

const clusterOf = (entity: string) => clusterOfShard(config, shardOf(entity, config.shards.count));
const onCluster = (cluster: string, tag: string, skip = 0) => {
  for (let i = 0, found = 0; ; i++) if (clusterOf(`${tag}-${i}`) === cluster && found++ === skip) return `${tag}-${i}`;
};

async function write(entity: string, tag: string): Promise<string> {
  const r = await d.app.inject({ method: 'POST', url: `/v1/entities/${entity}/tags/${tag}?wait=applied` });
  expect(r.statusCode).toBe(200);
  return r.json<{ token: string }>().token;
}

async function read(entity: string, token?: string) {
  const r = await d.app.inject({ method: 'GET', url: `/v1/entities/${entity}/tags${token ? `?token=${encodeURIComponent(token)}` : ''}` });
  return { status: r.statusCode, body: r.json<Record<string, unknown>>(), headers: r.headers };
}

describe('reads when a whole cluster has no node answering (embedded)', () => {
  it('the cache\'s last-known entry with consistency "stale"; 503 + Retry-After when nothing is known; fresh again once back', async () => {
    const cluster = 'pg1';
    const known = onCluster(cluster, 'down-known');
    const changed = onCluster(cluster, 'down-changed');
    const unknown = onCluster(cluster, 'down-unknown');
    const elsewhere = onCluster('pg0', 'down-other');
    await write(known, 'a');
    await write(changed, 'a');
    await write(elsewhere, 'a');
    await vi.waitFor(async () => expect((await read(known)).body.source).toBe('cache'), { timeout: 2_000, interval: 10 });
    await vi.waitFor(async () => expect((await read(changed)).body.source).toBe('cache'), { timeout: 2_000, interval: 10 });
    // A later write makes `changed`'s entry older than the database (once its invalidation lands, the cache
    // does not serve it); its token asks for more than the entry has at once.
    const token = await write(changed, 'b');

    const store = d.stores.get(cluster) as PgliteShardStore;
    const nodes = [store.topology().primary, ...store.topology().replicas];
    for (const n of nodes) store.embedded.killNode(n);
    try {
      const k = await read(known);
      expect(k.status).toBe(200);
      expect(k.body).toMatchObject({ tags: ['a'], source: 'cache' });
      const c = await read(changed, token);
      expect(c.status).toBe(200);
      expect(c.body).toMatchObject({ tags: ['a'], source: 'cache', consistency: 'stale' });
      await vi.waitFor(
        async () => {
          const r = await read(changed);
          expect(r.status).toBe(200);
          expect(r.body).toMatchObject({ tags: ['a'], source: 'cache', consistency: 'stale' });
        },
        { timeout: 5_000, interval: 20 },
      );
      const u = await read(unknown);
      expect(u.status).toBe(503);
      expect(u.headers['retry-after']).toBeDefined();
      expect(u.body).toMatchObject({ error: { code: 'TS_ERR_UNAVAILABLE' } });
      expect((u.body as { error: { message: string } }).error.message).toContain(cluster);
      // The other cluster is not affected.
      expect(await read(elsewhere)).toMatchObject({ status: 200, body: { tags: ['a'] } });
    } finally {
      for (const n of nodes) store.embedded.reviveNode(n);
    }
    await vi.waitFor(async () => expect((await read(changed)).body).toMatchObject({ tags: ['a', 'b'], consistency: 'none' }), { timeout: 5_000, interval: 20 });
    expect(await read(unknown)).toMatchObject({ status: 200, body: { tags: [] } });
  });
});
