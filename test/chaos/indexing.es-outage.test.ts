// Contract 6 and 8 on real services: Elasticsearch is SIGKILLed for 60 s while commands keep flowing. The
// indexer's breaker opens and pauses its partitions (no retries burnt, nothing dead-lettered); the writers and
// the analytics roll-up carry on. After Elasticsearch is back, a half-open probe resumes the partitions from
// the committed offsets, the index catches up, and `tagstream reconcile` reports zero drift: nothing lost.
// Elasticsearch is started again whatever happens.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { H } from '../../actors/dlq/dead-letter.ts';
import { runReconcile } from '../../cli/reconcile.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { createIndexingFeature, type IndexingApi } from '../../features/indexing/index.ts';
import { sleep, systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { caughtUp, expectedUsage, readTopic } from '../support/indexing.ts';
import { localConfig, uniqueName } from '../support/local.ts';
import { commandStream } from '../support/reference-model.ts';
import { indexingKey } from '../../features/keys.ts';

const OUTAGE_MS = 60_000;
const topic = uniqueName('eo-cmds');
const prefix = `${uniqueName('eo')}-`;
const config = localConfig({
  http: { port: 0 },
  shards: { count: 8 },
  kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-writers`, partitions: 4 },
  indexer: { poolSize: 2, groupId: `${topic}-indexer`, analyticsGroupId: `${topic}-analytics` },
  elasticsearch: { index: uniqueName('eo').toLowerCase(), refreshIntervalMs: 500 },
  breaker: { openMs: 2_000, openMaxMs: 10_000 },
  failover: { mode: 'off' },
  dlq: { replayIntervalMs: 3_600_000 },
});
let d: Daemon;
let api: IndexingApi;

beforeAll(async () => {
  d = await startDaemon(config, { logger: silentLogger(), features: [createIndexingFeature({ commitIntervalMs: 200 })] });
  api = d.context.features.api(indexingKey)!;
}, 120_000);
afterAll(async () => {
  // Leave Elasticsearch running and healthy for the next suite, whatever happened here.
  await services.startElasticsearch(config);
  await d?.context.adapters.search.drop().catch(() => undefined);
  await d?.stop();
}, 300_000);

const retriesOfSearch = async () => (await d.metrics.retries.get()).values.filter((v) => v.labels.component === 'search').reduce((n, v) => n + v.value, 0);
const bulkCalls = async () => (await d.metrics.registry.getSingleMetric('tagstream_sink_write_seconds')!.get()).values.find((v) => v.labels.sink === 'search' && (v as { metricName?: string }).metricName?.endsWith('_count'))?.value ?? 0;

describe('Elasticsearch killed for 60 s during ingest', () => {
  it('loses nothing: the breaker pauses the indexer, it resumes after recovery, and reconcile reports zero drift', async () => {
    const stream = commandStream(40_000, 91, { entities: 2_000, prefix });
    let next = 0;
    let producing = true;
    // A steady ~200 commands/s for the whole test.
    const producer = (async () => {
      while (producing && next < stream.length) {
        await d.log.produce(topic, stream.slice(next, next + 20));
        next += 20;
        await sleep(systemClock, 100);
      }
    })();
    try {
      await vi.waitFor(async () => expect((await d.log.committed(config.indexer.groupId, topic)).size).toBeGreaterThan(0), { timeout: 60_000, interval: 200 });

      await services.killElasticsearch(config);
      const killedAt = systemClock.now();
      await vi.waitFor(() => expect(api.search.status()).toMatchObject({ paused: true, pauseReasons: ['breaker'], breaker: { state: expect.stringMatching(/open|half-open/) } }), { timeout: 30_000, interval: 100 });
      const pausedAt = { retries: await retriesOfSearch(), writes: await bulkCalls(), at: systemClock.now() };
      // The writers and the roll-up keep going while the index is down.
      const writersBefore = (await d.log.committed(config.kafka.groupId, topic)).get(0);
      await sleep(systemClock, Math.max(0, killedAt + OUTAGE_MS - systemClock.now()));
      expect((await d.log.committed(config.kafka.groupId, topic)).get(0)).not.toBe(writersBefore);
      // Paused, not burning retries: at most the half-open probes' calls happened meanwhile.
      expect((await retriesOfSearch()) - pausedAt.retries).toBeLessThan(10);
      expect((await bulkCalls()) - pausedAt.writes).toBeLessThan(10);
      expect(api.search.breaker.stats().trips).toBeGreaterThanOrEqual(1);

      await services.startElasticsearch(config);
      // Keep producing a little after the recovery, then stop.
      await sleep(systemClock, 5_000);
    } finally {
      producing = false;
      await producer;
    }
    await vi.waitFor(async () => {
      for (const g of [config.kafka.groupId, config.indexer.groupId, config.indexer.analyticsGroupId]) expect(await caughtUp(d.log, g, topic, g === config.kafka.groupId ? d.stores.keys() : undefined)).toBe(true);
    }, { timeout: 180_000, interval: 500 });
    expect(api.search.status()).toMatchObject({ paused: false, breaker: { state: 'closed' } });

    const dead = (await readTopic(d.log, config.kafka.dlqTopic)).filter((r) => r.headers[H.consumer] !== config.kafka.groupId);
    expect(dead).toEqual([]);
    const lines: string[] = [];
    const code = await runReconcile(['--url', d.url, '--prefix', prefix, '--confirm-ms', '1000', '--json'], (l) => lines.push(l), (l) => lines.push(l), config);
    const report = JSON.parse(lines.join('\n')) as { drift: { total: number }; dbRows: number; indexDocs: number };
    expect(report.drift.total).toBe(0);
    expect(code).toBe(0);
    expect(report.indexDocs).toBe(report.dbRows);
    expect(report.dbRows).toBeGreaterThan(1_000);
    // The roll-up counted every command exactly once.
    const usage = await api.usage.usage({ limit: 100_000 });
    const got = new Map(usage.filter((u) => u.tag.startsWith(prefix)).map((u) => [`${u.tag}|${u.hour}`, { attaches: u.attaches, detaches: u.detaches }]));
    expect(got).toEqual(expectedUsage(stream.slice(0, next), prefix));
  }, 600_000);
});
