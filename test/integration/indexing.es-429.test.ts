// A 429 from Elasticsearch (a saturated node: es_rejected_execution_exception, for a whole bulk request or for
// single items) is retried with backoff, never dead-lettered. A fault-injecting proxy sits in front of the real
// node and answers some requests and items with 429 before letting them through.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { H } from '../../actors/dlq/dead-letter.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { createIndexingFeature } from '../../features/indexing/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import { startEsFaultProxy, type EsFaultProxy } from '../support/es-fault-proxy.ts';
import { caughtUp, readTopic } from '../support/indexing.ts';
import { localConfig, uniqueName } from '../support/local.ts';
import { commandStream } from '../support/reference-model.ts';
import { indexingKey } from '../../features/keys.ts';

const topic = uniqueName('rx-cmds');
const prefix = `${uniqueName('rx')}-`;
const base = localConfig();
let proxy: EsFaultProxy;
let d: Daemon;

beforeAll(async () => {
  proxy = await startEsFaultProxy(base.elasticsearch.node);
  const config = localConfig({
    http: { port: 0 },
    shards: { count: 8 },
    kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-writers`, partitions: 4 },
    indexer: { poolSize: 2, groupId: `${topic}-indexer`, analyticsGroupId: `${topic}-analytics` },
    elasticsearch: { node: proxy.url, index: uniqueName('rx').toLowerCase(), refreshIntervalMs: 200 },
    retry: { retries: 3, initialMs: 100, multiplier: 2, maxMs: 2_000, jitter: 0.2 },
    failover: { mode: 'off' },
    dlq: { replayIntervalMs: 3_600_000 },
  });
  d = await startDaemon(config, { logger: silentLogger(), features: [createIndexingFeature({ commitIntervalMs: 100 })] });
}, 120_000);
afterAll(async () => {
  await d?.context.adapters.search.drop().catch(() => undefined);
  await d?.stop();
  await proxy?.close();
}, 60_000);

describe('429 from Elasticsearch', () => {
  it('is retried, not dead-lettered: whole requests and single items', async () => {
    const api = d.context.features.api(indexingKey)!;
    // The first two bulk requests are refused whole; then every `…busy` document is refused twice.
    const firstBulk = proxy.bulkCalls + 1;
    proxy.rejectRequest = (call) => call < firstBulk + 2;
    proxy.rejectItem = (id, seen) => id.endsWith(`|${prefix}busy`) && seen < 2;
    const msgs = commandStream(600, 81, { entities: 80, prefix, tags: ['busy', 'calm'] });
    await d.log.produce(d.config.kafka.topic, msgs);
    await vi.waitFor(async () => expect(await caughtUp(d.log, d.config.indexer.groupId, d.config.kafka.topic)).toBe(true), { timeout: 120_000, interval: 250 });
    await vi.waitFor(async () => expect(await caughtUp(d.log, d.config.kafka.groupId, d.config.kafka.topic, d.stores.keys())).toBe(true), { timeout: 60_000, interval: 250 });

    expect(proxy.rejectedRequests).toBe(2);
    expect(proxy.rejectedItems).toBeGreaterThan(20);
    const dead = (await readTopic(d.log, d.config.kafka.dlqTopic)).filter((r) => r.headers[H.consumer] === d.config.indexer.groupId);
    expect(dead).toEqual([]);
    const retries = (await d.metrics.retries.get()).values.filter((v) => v.labels.component === 'search' && v.labels.class === 'retry').reduce((n, v) => n + v.value, 0);
    expect(retries).toBeGreaterThanOrEqual(3);
    expect(api.search.breaker.state()).toBe('closed');
    const r = await api.reconcile({ prefix, confirmMs: 300 });
    expect(r.drift.total).toBe(0);
    expect(r.indexDocs).toBe(r.dbRows);
  }, 180_000);
});
