// Search indexing, analytics and the DLQ end to end on the embedded profile (in-process log, PGlite clusters,
// in-memory index with injected faults): convergence to the database, a dependency outage that pauses instead
// of burning retries, poison documents dead-lettered and re-driven after the fix, 429s retried, duplicates and
// out-of-order replays that never resurrect a detached tag, replays that keep failing parked with an alert.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryCommandLog } from '../../adapters/kafka/memory-command-log.ts';
import { MemorySearchIndex } from '../../adapters/search/memory-search-index.ts';
import type { BulkItem, BulkItemResult } from '../../adapters/search/port.ts';
import { H } from '../../actors/dlq/dead-letter.ts';
import { createSearchTarget } from '../../actors/indexer/search-target.ts';
import { Sink } from '../../actors/sink/sink.ts';
import { loadConfig } from '../../config/index.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { runDlq } from '../../cli/dlq.ts';
import { runReconcile } from '../../cli/reconcile.ts';
import { createIndexingFeature, type IndexingApi } from '../../features/indexing/index.ts';
import { systemClock } from '../../lib/clock.ts';
import { docId } from '../../lib/command.ts';
import { silentLogger } from '../../lib/logger.ts';
import { FaultySearchIndex } from '../support/faulty-search-index.ts';
import { caughtUp, expectedUsage, readTopic } from '../support/indexing.ts';
import { commandStream, expectedState } from '../support/reference-model.ts';
import { indexingKey } from '../../features/keys.ts';

const config = loadConfig({
  env: {},
  overrides: {
    http: { port: 0 },
    shards: { count: 8 },
    kafka: { partitions: 4 },
    writer: { batchSize: 200, batchWindowMs: 2 },
    retry: { retries: 3, initialMs: 5, multiplier: 2, maxMs: 50, jitter: 0.2 },
    breaker: { windowSize: 10, minimumCalls: 4, openMs: 200, openMaxMs: 400, halfOpenProbes: 2 },
    dlq: { replayIntervalMs: 3_600_000, replayRatePerSec: 1_000, maxReplays: 2 },
    elasticsearch: { refreshIntervalMs: 50 },
  },
});
const { topic, dlqTopic, parkingTopic, groupId: writers } = config.kafka;
const { groupId: indexer, analyticsGroupId: analytics } = config.indexer;
const log = new MemoryCommandLog({ clock: systemClock, maxBatchRecords: 200 });
const memory = new MemorySearchIndex({ refreshIntervalMs: 50 });
const index = new FaultySearchIndex(memory);
let d: Daemon;
let api: IndexingApi;

beforeAll(async () => {
  d = await startDaemon(config, { logger: silentLogger(), adapters: { log, search: index }, features: [createIndexingFeature({ batchWindowMs: 5, commitIntervalMs: 20, freshnessPollMs: 50 })] });
  api = d.context.features.api(indexingKey)!;
}, 60_000);
afterAll(async () => d?.stop());

const allCaughtUp = async () => (await caughtUp(log, writers, topic, d.stores.keys())) && (await caughtUp(log, indexer, topic)) && (await caughtUp(log, analytics, topic));
const converge = () => vi.waitFor(async () => expect(await allCaughtUp()).toBe(true), { timeout: 30_000, interval: 20 });
const reconcileClean = async (prefix: string) => {
  const r = await api.reconcile({ prefix, confirmMs: 0 });
  expect(r.drift).toEqual({ missing: 0, extra: 0, resurrected: 0, version: 0, 'index-ahead': 0, total: 0 });
  return r;
};
const dlqOf = async (consumer: string) => (await readTopic(log, dlqTopic)).filter((r) => r.headers[H.consumer] === consumer);
const search = async (tag: string) => {
  await memory.refresh();
  const r = await d.app.inject({ method: 'GET', url: `/v1/search?tag=${encodeURIComponent(tag)}&limit=1000` });
  expect(r.statusCode).toBe(200);
  return r.json<{ total: number; hits: Array<{ entity: string }>; freshness: { lag: number; breaker: string; lastCommandAgeMs: number | null; writeToIndexedMs: { p50: number | null } } }>();
};
const admin = { authorization: `Bearer ${config.http.adminToken}` };

describe('indexing (embedded)', () => {
  it('indexes and rolls up every command; the index equals the database (reconcile: zero drift); search says how fresh it is', async () => {
    const prefix = 'e1-';
    const msgs = commandStream(1_500, 31, { entities: 120, prefix });
    msgs.splice(500, 0, { key: `${prefix}bug-1`, value: '{broken' });
    await log.produce(topic, msgs);
    await converge();
    const r = await reconcileClean(prefix);
    expect(r.dbRows).toBeGreaterThan(300);
    expect(r.indexDocs).toBe(r.dbRows);

    const all = await readTopic(log, topic);
    const expected = expectedState(all.filter((x) => x.key?.startsWith(prefix)));
    const critical = [...expected.assoc].filter(([k, a]) => a.attached && k.endsWith(`|${prefix}Critical`)).map(([k]) => k.split('|')[0]).sort();
    const res = await search(`${prefix}Critical`);
    expect(res.hits.map((h) => h.entity)).toEqual(critical);
    expect(res.total).toBe(critical.length);
    await vi.waitFor(async () => expect((await search(`${prefix}Critical`)).freshness.lag).toBe(0), { timeout: 5_000, interval: 20 });
    expect(res.freshness.breaker).toBe('closed');
    expect(res.freshness.lastCommandAgeMs).not.toBeNull();
    expect(res.freshness.writeToIndexedMs.p50).not.toBeNull();

    // Analytics: per tag per hour, exactly the commands of the log (the invalid one skipped).
    const usage = await api.usage.usage({});
    const got = new Map(usage.filter((u) => u.tag.startsWith(prefix)).map((u) => [`${u.tag}|${u.hour}`, { attaches: u.attaches, detaches: u.detaches }]));
    expect(got).toEqual(expectedUsage(all, prefix));
    // The edge dead-lettered the invalid command; the sinks skipped it (no dead letters of theirs).
    expect((await dlqOf(writers)).length).toBe(1);
    expect(await dlqOf(indexer)).toEqual([]);
    expect(await dlqOf(analytics)).toEqual([]);
  }, 60_000);

  it('Elasticsearch down: the breaker opens and pauses the partitions (no retries burnt, nothing dead-lettered); a half-open probe resumes them and it converges', async () => {
    const prefix = 'e2-';
    const retriesBefore = index.bulkCalls;
    memory.setAvailable(false);
    try {
      await log.produce(topic, commandStream(800, 32, { entities: 100, prefix }));
      await vi.waitFor(() => expect(api.search.status()).toMatchObject({ paused: true, pauseReasons: ['breaker'] }), { timeout: 10_000, interval: 10 });
      // While paused, no bulk call at all: the half-open probes ping the index (they do not write). Two probes
      // fail and re-open the breaker (its trips count them) while we watch, and the bulk calls stay where they were.
      const atPause = index.bulkCalls;
      const tripsAtPause = api.search.status().breaker.trips;
      await vi.waitFor(() => expect(api.search.status().breaker.trips).toBeGreaterThanOrEqual(tripsAtPause + 2), { timeout: 10_000, interval: 10 });
      expect(api.search.status().paused).toBe(true);
      expect(index.bulkCalls - atPause).toBe(0);
      // Before the pause: at most the breaker's window of calls, each with its bounded retries (4 attempts).
      expect(index.bulkCalls - retriesBefore).toBeLessThanOrEqual(config.breaker.windowSize * (config.retry.retries + 1));
      expect(await caughtUp(log, indexer, topic)).toBe(false);
    } finally {
      memory.setAvailable(true);
    }
    await converge();
    expect(api.search.status().paused).toBe(false);
    expect(await dlqOf(indexer)).toEqual([]);
    await reconcileClean(prefix);
  }, 60_000);

  it('poison documents go to the DLQ with their reason while the stream keeps flowing; after the fix a replay makes them searchable', async () => {
    const prefix = 'e3-';
    let broken = true;
    const rejected: BulkItemResult = { id: '', status: 'error', httpStatus: 400, type: 'document_parsing_exception', reason: "failed to parse field [entity.num] of type [long]. Preview of field's value: 'e3-legacy'" };
    index.itemFaults.push((it) => (broken && it.doc.entity.startsWith(`${prefix}legacy`) ? { ...rejected, id: it.id } : null));
    const msgs = [
      ...commandStream(300, 33, { entities: 50, prefix }),
      ...[1, 2, 3].map((i) => ({ key: `${prefix}legacy-${i}`, value: JSON.stringify({ id: `l${i}`, op: 'attach', entity: `${prefix}legacy-${i}`, tag: `${prefix}old`, actor: 't', at: 1_700_000_000_000 }) })),
      ...commandStream(300, 34, { entities: 50, prefix }),
    ];
    await log.produce(topic, msgs);
    await converge(); // flowing: everything committed, the poison ones because they are dead-lettered
    const dead = await dlqOf(indexer);
    expect(dead.map((r) => r.key).sort()).toEqual([1, 2, 3].map((i) => `${prefix}legacy-${i}`));
    for (const r of dead) {
      expect(r.headers).toMatchObject({ [H.sourceTopic]: topic, [H.errorClass]: 'poison', [H.errorCode]: 'document_parsing_exception', [H.attempts]: '1', [H.replays]: '0' });
      expect(r.headers[H.errorMessage]).toContain('entity.num');
      expect(Date.parse(r.headers[H.firstFailureAt]!)).toBeGreaterThan(0);
    }
    expect((await search(`${prefix}old`)).total).toBe(0);
    const r1 = await api.reconcile({ prefix, confirmMs: 0 });
    expect(r1.drift.missing).toBe(3);

    broken = false;
    const dry = await d.app.inject({ method: 'POST', url: '/v1/dlq/replay', headers: admin, payload: { dryRun: true } });
    expect(dry.json<{ plan: Array<{ targets: string[]; consumer: string }> }>().plan.filter((p) => p.consumer === indexer).every((p) => p.targets[0] === 'search')).toBe(true);
    const res = await d.app.inject({ method: 'POST', url: '/v1/dlq/replay', headers: admin, payload: {} });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ replayed: 3, remaining: 0 });
    expect((await search(`${prefix}old`)).hits.map((h) => h.entity)).toEqual([1, 2, 3].map((i) => `${prefix}legacy-${i}`));
    await reconcileClean(prefix);
  }, 60_000);

  it('a 429 from the index is retried, not dead-lettered', async () => {
    const prefix = 'e4-';
    const seen = new Map<string, number>();
    index.itemFaults.push((it) => {
      if (!it.doc.entity.startsWith(prefix)) return null;
      const n = (seen.get(it.id) ?? 0) + 1;
      seen.set(it.id, n);
      return n <= 2 ? { id: it.id, status: 'error', httpStatus: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution (queue capacity 200)' } : null;
    });
    const searchRetries = async () => (await d.metrics.retries.get()).values.filter((v) => v.labels.component === 'search').reduce((a, v) => a + v.value, 0);
    const before = await searchRetries();
    await log.produce(topic, commandStream(200, 35, { entities: 40, prefix }));
    await converge();
    expect(await dlqOf(indexer).then((x) => x.filter((r) => r.key?.startsWith(prefix)))).toEqual([]);
    expect([...seen.values()].every((n) => n === 3)).toBe(true);
    expect(await searchRetries()).toBeGreaterThan(before);
    await reconcileClean(prefix);
  }, 60_000);

  it('duplicates and out-of-order replays never resurrect a detached tag', async () => {
    const prefix = 'e5-';
    const entity = `${prefix}bug-x`;
    const cmd = (op: string, i: number) => ({ key: entity, value: JSON.stringify({ id: `x${i}`, op, entity, tag: `${prefix}hot`, actor: 't', at: 1_700_000_000_000 + i }) });
    const [attach] = await log.produce(topic, [cmd('attach', 1)]);
    const [detach] = await log.produce(topic, [cmd('detach', 2)]);
    await converge();
    expect((await search(`${prefix}hot`)).total).toBe(0);

    // An out-of-order replay: the old attach re-driven from the DLQ (its original position is its version).
    const record = (await log.read(topic, attach!.partition, attach!.offset, 1))[0]!;
    await d.context.tree.dlq.send({ source: record, consumer: indexer, errorClass: 'retry', code: 'TS_ERR_RETRIES_EXHAUSTED', message: 'injected', attempts: 4, firstFailureAt: 1, lastFailureAt: 2 });
    expect(await api.dlqPass({})).toMatchObject({ replayed: 1 });
    expect((await search(`${prefix}hot`)).total).toBe(0);
    // Duplicates: a second indexer group re-reads the whole log into the same index: every write is stale.
    const again = new Sink<BulkItem>({
      ...api.search.opts,
      groupId: 'e5-reindex',
      parent: d.context.tree.root,
      target: { ...createSearchTarget({ index, limits: config.commands, shardCount: config.shards.count }), name: 'reindex' },
    });
    await again.start();
    await vi.waitFor(async () => expect(await caughtUp(log, 'e5-reindex', topic)).toBe(true), { timeout: 30_000, interval: 20 });
    await again.stop(1_000);
    expect((await search(`${prefix}hot`)).total).toBe(0);
    expect(await memory.get(docId(entity, `${prefix}hot`))).toMatchObject({ version: detach!.offset, doc: { attached: false } });
    await reconcileClean(prefix);
  }, 60_000);

  it('replays that keep failing go back to the DLQ, then to the parking topic with an alert (through the CLI)', async () => {
    const prefix = 'e6-';
    index.itemFaults.push((it) => (it.doc.entity.startsWith(`${prefix}cursed`) ? { id: it.id, status: 'error', httpStatus: 400, type: 'mapper_parsing_exception', reason: 'cursed' } : null));
    await log.produce(topic, [{ key: `${prefix}cursed-1`, value: JSON.stringify({ id: 'c1', op: 'attach', entity: `${prefix}cursed-1`, tag: `${prefix}t`, actor: 't', at: 1_700_000_000_000 }) }]);
    await converge();
    const lines: string[] = [];
    const errs: string[] = [];
    const cli = (args: string[]) => runDlq(args, (l) => lines.push(l), (l) => errs.push(l), config);
    expect(await cli(['list', '--url', d.url])).toBe(0);
    expect(lines.join('\n')).toMatch(/1 dead letter\(s\)[\s\S]*e6-cursed-1.*mapper_parsing_exception/);
    lines.length = 0;
    expect(await cli(['replay', '--url', d.url])).toBe(0);
    expect(lines).toEqual(['replay: replayed 0, failed again 1, parked 0, held 0, skipped 0, remaining 0']);
    const again = (await dlqOf(indexer)).filter((r) => r.key === `${prefix}cursed-1`);
    expect(again.map((r) => r.headers[H.replays])).toEqual(['0', '1']);
    expect(again[1]!.headers[H.sourceOffset]).toBe(again[0]!.headers[H.sourceOffset]);
    lines.length = 0;
    const alerts = async () => (await d.metrics.registry.getSingleMetric('tagstream_dlq_alerts_total')!.get()).values[0]?.value ?? 0;
    const alertsBefore = await alerts();
    expect(await cli(['replay', '--url', d.url])).toBe(0);
    expect(lines).toEqual(['replay: replayed 0, failed again 0, parked 1, held 0, skipped 0, remaining 0']);
    expect(await alerts()).toBe(alertsBefore + 1);
    const parked = await readTopic(log, parkingTopic);
    expect(parked.at(-1)!.headers).toMatchObject({ [H.replays]: '1', 'x-parked-reason': expect.stringMatching(/failed 2 replay\(s\); last: search: mapper_parsing_exception/) });
    lines.length = 0;
    expect(await cli(['list', '--parked', '--url', d.url, '--json'])).toBe(0);
    expect(JSON.parse(lines.join('')).records.at(-1)).toMatchObject({ key: `${prefix}cursed-1`, source: { topic }, parkedReason: expect.any(String) });
    expect(await api.replayer.depth()).toBe(0);
    expect(errs).toEqual([]);
  }, 60_000);

  it('tagstream reconcile reports drift (exit 1) and repairs it (exit 0); a second run is clean', async () => {
    const prefix = 'e7-';
    let lost = true;
    index.itemFaults.push((it) => (lost && it.doc.entity.startsWith(prefix) && it.doc.tag === `${prefix}b` ? { id: it.id, status: 'error', httpStatus: 400, type: 'mapper_parsing_exception', reason: 'lost' } : null));
    await log.produce(topic, commandStream(200, 36, { entities: 30, prefix, tags: ['a', 'b'] }));
    await converge();
    lost = false;
    // An index document no database row explains, too.
    await memory.bulk([{ id: docId(`${prefix}ghost`, `${prefix}a`), version: '7', doc: { entity: `${prefix}ghost`, tag: `${prefix}a`, attached: true, shard: 0, at: 0 } }]);
    const lines: string[] = [];
    const cli = (args: string[]) => runReconcile(args, (l) => lines.push(l), (l) => lines.push(l), config);
    expect(await cli(['--url', d.url, '--prefix', prefix, '--confirm-ms', '0'])).toBe(1);
    expect(lines.at(-1)).toBe('DRIFT');
    expect(lines[1]).toMatch(/^drift: \d+ \(missing \d+, extra 1, resurrected 0, version \d+, index-ahead 0\)$/);
    lines.length = 0;
    expect(await cli(['--url', d.url, '--prefix', prefix, '--confirm-ms', '0', '--repair'])).toBe(0);
    lines.length = 0;
    expect(await cli(['--url', d.url, '--prefix', prefix, '--confirm-ms', '0'])).toBe(0);
    expect(lines.at(-1)).toBe('clean: the index holds exactly the database state');
    // One shard only.
    lines.length = 0;
    expect(await cli(['--url', d.url, '--shard', '3', '--confirm-ms', '0', '--json'])).toBe(0);
    expect(JSON.parse(lines.join(''))).toMatchObject({ shards: [3], clean: true });
  }, 60_000);

  it('an unknown error crashes the worker; its supervisor restarts it and the records are re-delivered (nothing lost, the daemon keeps running)', async () => {
    const prefix = 'e8-';
    let fatal = 2;
    index.requestFault = () => (fatal-- > 0 ? new TypeError("Cannot read properties of undefined (reading 'items')") : null);
    try {
      await log.produce(topic, commandStream(200, 37, { entities: 30, prefix }));
      await converge();
    } finally {
      index.requestFault = null;
    }
    const workers = d.context.tree.system.tree().filter((a) => a.kind === 'search-worker');
    expect(workers.reduce((n, w) => n + w.restarts, 0)).toBeGreaterThanOrEqual(1);
    expect(workers.every((w) => w.status === 'running')).toBe(true);
    expect((await dlqOf(indexer)).filter((r) => r.key?.startsWith(prefix))).toEqual([]);
    await reconcileClean(prefix);
  }, 60_000);
});
