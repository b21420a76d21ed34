// The profile decides which adapters the factories build; nothing connects until used (no sockets here).
import { describe, expect, it } from 'vitest';
import { createShardStores, migrateAll, PgliteShardStore, PgShardStore } from '../../../adapters/pg/index.ts';
import { createCacheStores, MemoryCacheStore } from '../../../adapters/redis/index.ts';
import { loadConfig } from '../../../config/index.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';

describe('createShardStores', () => {
  it('embedded: one migrated-on-demand PGlite store per cluster', async () => {
    const one = loadConfig({ env: {}, overrides: { profile: 'embedded', postgres: { clusters: [{ name: 'pgx', nodes: [0, 1, 2].map((n) => ({ name: `pgx-n${n}`, host: 'embedded', port: 5432 })), database: 'tagstream', user: 'tagstream' }] } } });
    const stores = await createShardStores(one, silentLogger());
    try {
      expect([...stores.keys()]).toEqual(['pgx']);
      const s = stores.get('pgx')!;
      expect(s).toBeInstanceOf(PgliteShardStore);
      expect(await migrateAll(stores, silentLogger())).toEqual([]);
      expect(s.topology()).toEqual({ primary: 'pgx-n0', replicas: ['pgx-n1', 'pgx-n2'], fenced: [] });
      expect((await s.applyBatch([{ shard: 0, entity: 'e', tag: 't', attached: true, partition: 0, offset: '0', at: 0 }])).changed).toBe(1);
    } finally {
      for (const s of stores.values()) await s.close();
    }
  }, 120_000); // three PGlite instances: 1–2 s each on a quiet machine, tens of seconds beside a loaded test run

  it('local: a PgShardStore per cluster, with the configured node names and nothing opened yet', async () => {
    const local = loadConfig({ env: {}, overrides: { profile: 'local' } });
    const stores = await createShardStores(local, silentLogger());
    expect([...stores.keys()]).toEqual(local.postgres.clusters.map((c) => c.name));
    for (const [name, s] of stores) {
      expect(s).toBeInstanceOf(PgShardStore);
      expect(s.cluster).toBe(name);
      expect(s.topology().primary).toBe(`${name}-n0`);
      await s.close();
    }
  });
});

describe('createCacheStores', () => {
  it('embedded: a MemoryCacheStore per instance on the given clock', async () => {
    const cfg = loadConfig({ env: {}, overrides: { profile: 'embedded' } });
    const clock = new SimulatedClock(0);
    const stores = createCacheStores(cfg, silentLogger(), clock);
    expect([...stores.keys()]).toEqual(cfg.redis.instances.map((i) => i.name));
    const s = stores.get('redis0')!;
    expect(s).toBeInstanceOf(MemoryCacheStore);
    await s.set('k', 'v', 1);
    clock.increment(1_000);
    expect(await s.get('k')).toBeNull();
  });
});
