// Indexing on the real services (Kafka, Elasticsearch, PostgreSQL): the index converges to the database
// (reconcile through the CLI: zero drift), the analytics roll-up equals the log's commands, and duplicates and
// out-of-order replays — a second consumer group re-reading everything, an old attach re-driven from the DLQ —
// never resurrect a detached tag nor count a command twice.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { UsageEvent } from '../../adapters/analytics/port.ts';
import type { BulkItem } from '../../adapters/search/port.ts';
import { createAnalyticsTarget } from '../../actors/analytics/analytics-target.ts';
import { createSearchTarget } from '../../actors/indexer/search-target.ts';
import { Sink } from '../../actors/sink/sink.ts';
import { runReconcile } from '../../cli/reconcile.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { createIndexingFeature, type IndexingApi } from '../../features/indexing/index.ts';
import { docId } from '../../lib/command.ts';
import { silentLogger } from '../../lib/logger.ts';
import { caughtUp, expectedUsage, readTopic } from '../support/indexing.ts';
import { localConfig, uniqueName } from '../support/local.ts';
import { commandStream, expectedState } from '../support/reference-model.ts';
import { indexingKey } from '../../features/keys.ts';

const topic = uniqueName('ix-cmds');
const prefix = `${uniqueName('ix')}-`;
const config = localConfig({
  http: { port: 0 },
  shards: { count: 8 },
  kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-writers`, partitions: 4 },
  indexer: { poolSize: 2, groupId: `${topic}-indexer`, analyticsGroupId: `${topic}-analytics` },
  elasticsearch: { index: uniqueName('ix').toLowerCase(), refreshIntervalMs: 200 },
  writer: { batchSize: 500, batchWindowMs: 10, mailboxCapacity: 2_000 },
  failover: { mode: 'off' },
  dlq: { replayIntervalMs: 3_600_000 },
});
const { groupId: writers } = config.kafka;
const { groupId: indexer, analyticsGroupId: analytics } = config.indexer;
let d: Daemon;
let api: IndexingApi;

beforeAll(async () => {
  d = await startDaemon(config, { logger: silentLogger(), features: [createIndexingFeature({ commitIntervalMs: 100, freshnessPollMs: 200 })] });
  api = d.context.features.api(indexingKey)!;
}, 120_000);
afterAll(async () => {
  await d?.context.adapters.search.drop().catch(() => undefined);
  await d?.stop();
}, 60_000);

const converged = async (groups = [writers, indexer, analytics]) => {
  for (const g of groups) if (!(await caughtUp(d.log, g, topic, g === writers ? d.stores.keys() : undefined))) return false;
  return true;
};
const search = async (tag: string) => {
  await d.context.adapters.search.refresh();
  const r = await d.app.inject({ method: 'GET', url: `/v1/search?tag=${encodeURIComponent(tag)}&limit=1000` });
  expect(r.statusCode).toBe(200);
  return r.json<{ total: number; hits: Array<{ entity: string }>; freshness: { lag: number | null; breaker: string; paused: boolean } }>();
};
const reconcileCli = async (extra: string[] = []) => {
  const lines: string[] = [];
  const code = await runReconcile(['--url', d.url, '--prefix', prefix, '--confirm-ms', '500', '--json', ...extra], (l) => lines.push(l), (l) => lines.push(l), config);
  return { code, report: JSON.parse(lines.join('\n')) as { clean: boolean; dbRows: number; indexDocs: number; drift: Record<string, number> } };
};

describe('indexing on real Kafka, Elasticsearch and PostgreSQL', () => {
  it('converges: the index holds exactly the database state, the roll-up exactly the commands', async () => {
    await d.log.produce(topic, commandStream(3_000, 71, { entities: 250, prefix }));
    await vi.waitFor(async () => expect(await converged()).toBe(true), { timeout: 120_000, interval: 250 });
    const { code, report } = await reconcileCli();
    expect(report.drift.total).toBe(0);
    expect(code).toBe(0);
    expect(report.dbRows).toBeGreaterThan(1_000);
    expect(report.indexDocs).toBe(report.dbRows);

    const all = await readTopic(d.log, topic);
    const expected = expectedState(all);
    const want = [...expected.assoc].filter(([k, a]) => a.attached && k.endsWith(`|${prefix}Critical`)).map(([k]) => k.split('|')[0]).sort();
    const res = await search(`${prefix}Critical`);
    expect(res.hits.map((h) => h.entity)).toEqual(want);
    expect(res.freshness).toMatchObject({ breaker: 'closed', paused: false });
    await vi.waitFor(async () => expect((await search(`${prefix}Critical`)).freshness.lag).toBe(0), { timeout: 10_000, interval: 100 });

    const usage = await api.usage.usage({ limit: 10_000 });
    const got = new Map(usage.filter((u) => u.tag.startsWith(prefix)).map((u) => [`${u.tag}|${u.hour}`, { attaches: u.attaches, detaches: u.detaches }]));
    expect(got).toEqual(expectedUsage(all, prefix));
  }, 180_000);

  it('duplicates and out-of-order replays never resurrect a detached tag nor count a command twice', async () => {
    const entity = `${prefix}bug-x`;
    const tag = `${prefix}hot`;
    const cmd = (op: string, i: number) => ({ key: entity, value: JSON.stringify({ id: `x${i}`, op, entity, tag, actor: 't', at: 1_700_000_000_000 + i }) });
    const [attach] = await d.log.produce(topic, [cmd('attach', 1)]);
    const [detach] = await d.log.produce(topic, [cmd('detach', 2)]);
    await vi.waitFor(async () => expect(await converged()).toBe(true), { timeout: 60_000, interval: 250 });
    expect((await search(tag)).total).toBe(0);

    // Out of order: the old attach re-driven from the DLQ with its original position.
    const old = (await d.log.read(topic, attach!.partition, attach!.offset, 1))[0]!;
    await d.context.tree.dlq.send({ source: old, consumer: indexer, errorClass: 'retry', code: 'TS_ERR_RETRIES_EXHAUSTED', message: 'injected', attempts: 4, firstFailureAt: 1, lastFailureAt: 2 });
    await d.context.tree.dlq.send({ source: old, consumer: analytics, errorClass: 'retry', code: 'TS_ERR_RETRIES_EXHAUSTED', message: 'injected', attempts: 4, firstFailureAt: 1, lastFailureAt: 2 });
    expect(await api.dlqPass({})).toMatchObject({ replayed: 2, failed: 0, parked: 0 });
    expect((await search(tag)).total).toBe(0);

    // Duplicates: second groups re-read the whole log into the same index and the same roll-up.
    const usageBefore = await api.usage.usage({ limit: 10_000 });
    const again = [
      new Sink<BulkItem>({ ...api.search.opts, groupId: `${topic}-reindex`, parent: d.context.tree.root, target: { ...createSearchTarget({ index: d.context.adapters.search, limits: config.commands, shardCount: config.shards.count }), name: 'reindex' } }),
      new Sink<UsageEvent>({ ...api.analytics!.opts, groupId: `${topic}-recount`, parent: d.context.tree.root, target: { ...createAnalyticsTarget({ store: api.usage, limits: config.commands }), name: 'recount' } }),
    ] as const;
    await Promise.all(again.map((s) => s.start()));
    await vi.waitFor(async () => expect(await converged([`${topic}-reindex`, `${topic}-recount`])).toBe(true), { timeout: 120_000, interval: 250 });
    await Promise.all(again.map((s) => s.stop(5_000)));

    expect((await search(tag)).total).toBe(0);
    expect(await d.context.adapters.search.get(docId(entity, tag))).toMatchObject({ version: detach!.offset, doc: { attached: false } });
    expect(await api.usage.usage({ limit: 10_000 })).toEqual(usageBefore);
    const { code, report } = await reconcileCli();
    expect(report.drift.total).toBe(0);
    expect(code).toBe(0);
  }, 240_000);
});
