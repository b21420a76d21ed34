// Re-seeding outside the local services (production): nothing is touched; the answer is the manual procedure
// for this cluster and node (pg_rewind, else pg_basebackup), ending with `tagstream adopt`.
import { describe, expect, it } from 'vitest';
import type { ShardStore } from '../../../adapters/pg/port.ts';
import type { ClusterMonitor } from '../../../actors/failover/cluster-monitor.ts';
import { loadConfig } from '../../../config/index.ts';
import { reseed } from '../../../features/failover/reseed.ts';

const config = loadConfig({
  env: {},
  overrides: {
    profile: 'production',
    http: { adminToken: 'a-production-admin-token', tokenSecret: 'a-production-token-secret' },
    postgres: { clusters: [{ name: 'shard-a', nodes: ['db1', 'db2', 'db3'].map((n) => ({ name: n, host: `${n}.internal`, port: 5432 })), database: 'tags', user: 'tagstream' }] },
    redis: { instances: [{ name: 'r0', host: 'redis.internal', port: 6379 }] },
    kafka: { brokers: ['kafka.internal:9092'] },
    elasticsearch: { node: 'http://es.internal:9200' },
  },
});

const monitor = (primary: string) =>
  ({ cluster: 'shard-a', ensureActing: async () => undefined, status: () => ({ mode: 'builtin', topology: { primary, replicas: ['db3'], fenced: ['db1'] } }) }) as unknown as ClusterMonitor;

describe('reseed in production', () => {
  it('answers with the manual procedure and does nothing', async () => {
    const r = await reseed(config, {} as ShardStore, monitor('db2'), 'db1');
    expect(r).toMatchObject({ cluster: 'shard-a', node: 'db1', primary: 'db2', done: false, method: 'manual' });
    const text = r.procedure!.join('\n');
    expect(text).toMatch(/CHECKPOINT/);
    expect(text).toMatch(/pg_rewind -D <data dir> --source-server='host=db2\.internal port=5432 user=tagstream dbname=postgres' -R/);
    expect(text).toMatch(/pg_basebackup/);
    expect(text).toMatch(/default_transaction_read_only/);
    expect(r.procedure!.at(-1)).toMatch(/tagstream adopt shard-a db1/);
  });

  it('refuses the primary and unknown nodes', async () => {
    await expect(reseed(config, {} as ShardStore, monitor('db2'), 'db2')).rejects.toMatchObject({ code: 'TS_ERR_BAD_REQUEST' });
    await expect(reseed(config, {} as ShardStore, monitor('db2'), 'db9')).rejects.toMatchObject({ code: 'TS_ERR_NOT_FOUND' });
  });
});
