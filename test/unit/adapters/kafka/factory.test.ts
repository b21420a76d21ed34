// createCommandLog and createSearchIndex pick the adapter by profile; constructing connects nothing.
import { describe, expect, it } from 'vitest';
import { createCommandLog, KafkaCommandLog, MemoryCommandLog } from '../../../../adapters/kafka/index.ts';
import { createSearchIndex, ElasticSearchIndex, MemorySearchIndex } from '../../../../adapters/search/index.ts';
import { loadConfig } from '../../../../config/index.ts';
import { SimulatedClock } from '../../../../lib/clock.ts';
import { silentLogger } from '../../../../lib/logger.ts';

describe('createCommandLog', () => {
  it('embedded: a MemoryCommandLog on the given clock', async () => {
    const clock = new SimulatedClock(5_000);
    const log = createCommandLog(loadConfig({ env: {}, overrides: { profile: 'embedded' } }), silentLogger(), clock);
    expect(log).toBeInstanceOf(MemoryCommandLog);
    await log.ensureTopic('t', 2);
    await log.produce('t', [{ key: null, value: 'v', partition: 0 }]);
    expect((await log.read('t', 0, '0', 1))[0]!.timestamp).toBe(5_000);
    await log.close();
  });

  it('local and production: a KafkaCommandLog that has not connected yet', async () => {
    const local = createCommandLog(loadConfig({ env: {}, overrides: { profile: 'local' } }), silentLogger());
    expect(local).toBeInstanceOf(KafkaCommandLog);
    await local.close();
    const prod = loadConfig({
      env: {},
      overrides: {
        profile: 'production',
        http: { adminToken: 'x'.repeat(16), tokenSecret: 'y'.repeat(16) },
        postgres: { clusters: [{ name: 'pg0', nodes: [{ name: 'n0', host: 'db', port: 5432 }], database: 'd', user: 'u' }] },
        redis: { instances: [{ name: 'r0', host: 'cache', port: 6379 }] },
        kafka: { brokers: ['kafka:9093'], ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } },
        elasticsearch: { node: 'https://search:9200', username: 'u', password: 'p' },
      },
    });
    const log = createCommandLog(prod, silentLogger());
    expect(log).toBeInstanceOf(KafkaCommandLog);
    await log.close();
    const index = createSearchIndex(prod, silentLogger(), new SimulatedClock(0));
    expect(index).toBeInstanceOf(ElasticSearchIndex);
    await index.close();
  });
});

describe('createSearchIndex', () => {
  it('embedded: a MemorySearchIndex refreshing on the given clock; local: an ElasticSearchIndex', async () => {
    const clock = new SimulatedClock(0);
    const cfg = loadConfig({ env: {}, overrides: { profile: 'embedded' } });
    const index = createSearchIndex(cfg, silentLogger(), clock);
    expect(index).toBeInstanceOf(MemorySearchIndex);
    await index.ensureIndex();
    await index.bulk([{ id: 'a', version: '1', doc: { entity: 'a', tag: 't', attached: true, shard: 0, at: 0 } }]);
    clock.increment(cfg.elasticsearch.refreshIntervalMs);
    expect((await index.search('t', { limit: 1 })).total).toBe(1);
    const local = createSearchIndex(loadConfig({ env: {}, overrides: { profile: 'local' } }), silentLogger(), clock);
    expect(local).toBeInstanceOf(ElasticSearchIndex);
    await local.close();
  });
});
