// Poison documents on a real Elasticsearch: an operator's mapping (a numeric multi-field on `entity`) rejects
// some documents with a 400. Those go to the DLQ with their reason and source position while the rest keeps
// flowing; once the mapping is fixed, `tagstream dlq replay` re-drives them and they become searchable.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { indexMappings } from '../../adapters/search/mapping.ts';
import { H } from '../../actors/dlq/dead-letter.ts';
import { runDlq } from '../../cli/dlq.ts';
import { runReconcile } from '../../cli/reconcile.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { createIndexingFeature } from '../../features/indexing/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import { caughtUp, readTopic } from '../support/indexing.ts';
import { localConfig, uniqueName } from '../support/local.ts';

const topic = uniqueName('px-cmds');
const index = uniqueName('px').toLowerCase();
const config = localConfig({
  http: { port: 0 },
  shards: { count: 8 },
  kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-writers`, partitions: 4 },
  indexer: { poolSize: 2, groupId: `${topic}-indexer`, analyticsGroupId: `${topic}-analytics` },
  elasticsearch: { index, refreshIntervalMs: 200 },
  failover: { mode: 'off' },
  dlq: { replayIntervalMs: 3_600_000 },
});
const es = config.elasticsearch.node;
// Numeric ids of this run: 12 digits of the run, 4 of the entity (a valid long).
const run = String(Date.now()).slice(-9) + String(process.pid % 1_000).padStart(3, '0');
const numeric = (n: number) => `${run}${String(n).padStart(4, '0')}`;
const legacy = (n: number) => `${run}-legacy-${n}`;
const tagOk = `${run}-ok`;
const tagOld = `${run}-old`;
let d: Daemon;

async function esCall(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${es}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  // The operator's index: our mapping plus entity.num (long) for numeric ticket ids, without ignore_malformed.
  const mappings = indexMappings();
  await esCall('PUT', `/${index}`, {
    settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '200ms' },
    mappings: { ...mappings, properties: { ...mappings.properties, entity: { type: 'keyword', fields: { num: { type: 'long' } } } } },
  });
  d = await startDaemon(config, { logger: silentLogger(), features: [createIndexingFeature({ commitIntervalMs: 100 })] });
}, 120_000);
afterAll(async () => {
  await esCall('DELETE', `/${index}`).catch(() => undefined);
  await d?.stop();
}, 60_000);

const cmd = (entity: string, tag: string, i: number) => ({ key: entity, value: JSON.stringify({ id: `p${i}`, op: 'attach', entity, tag, actor: 'test', at: 1_700_000_000_000 + i }) });
const hits = async (tag: string) => {
  await d.context.adapters.search.refresh();
  return (await d.context.adapters.search.search(tag, { limit: 1_000 })).hits.map((h) => h.entity).sort();
};
const cli = async (run: typeof runDlq | typeof runReconcile, args: string[]) => {
  const lines: string[] = [];
  const code = await run(['--url', d.url, ...args], (l) => lines.push(l), (l) => lines.push(l), config);
  return { code, lines };
};

describe('poison documents on a real Elasticsearch', () => {
  it('are dead-lettered with their reason while the stream keeps flowing, and become searchable after the fix and a replay', async () => {
    const msgs = [];
    for (let i = 0; i < 300; i++) {
      msgs.push(cmd(numeric(i), tagOk, i));
      if (i % 60 === 30) msgs.push(cmd(legacy(i), tagOld, 10_000 + i));
    }
    const poisoned = msgs.filter((m) => m.key.includes('-legacy-')).map((m) => m.key);
    expect(poisoned).toHaveLength(5);
    await d.log.produce(topic, msgs);
    // The stream flows: every group commits past the poison (it is dead-lettered, not retried forever).
    await vi.waitFor(async () => {
      for (const g of [config.kafka.groupId, config.indexer.groupId, config.indexer.analyticsGroupId]) expect(await caughtUp(d.log, g, topic, g === config.kafka.groupId ? d.stores.keys() : undefined)).toBe(true);
    }, { timeout: 120_000, interval: 250 });
    expect(await hits(tagOk)).toEqual(Array.from({ length: 300 }, (_, i) => numeric(i)).sort());
    expect(await hits(tagOld)).toEqual([]);

    const dead = (await readTopic(d.log, config.kafka.dlqTopic)).filter((r) => r.headers[H.consumer] === config.indexer.groupId);
    expect(dead.map((r) => r.key).sort()).toEqual([...poisoned].sort());
    const source = new Map((await readTopic(d.log, topic)).map((r) => [r.key, r]));
    for (const r of dead) {
      const src = source.get(r.key!)!;
      expect(r.headers).toMatchObject({ [H.sourceTopic]: topic, [H.sourcePartition]: String(src.partition), [H.sourceOffset]: src.offset, [H.errorClass]: 'poison', [H.errorCode]: 'document_parsing_exception', [H.attempts]: '1', [H.replays]: '0' });
      expect(r.headers[H.errorMessage]).toContain('entity.num');
      expect(r.value).toBe(src.value);
    }
    const listed = await cli(runDlq, ['list']);
    expect(listed.lines[0]).toBe('5 dead letter(s)');
    const before = await cli(runReconcile, ['--prefix', run, '--confirm-ms', '300', '--json']);
    expect(before.code).toBe(1);
    expect(JSON.parse(before.lines.join('\n')).drift).toMatchObject({ missing: 5, total: 5 });

    // The fix: the operator makes the numeric field tolerant (an updatable mapping parameter).
    await esCall('PUT', `/${index}/_mapping`, { properties: { entity: { type: 'keyword', fields: { num: { type: 'long', ignore_malformed: true } } } } });
    const replay = await cli(runDlq, ['replay']);
    expect(replay).toEqual({ code: 0, lines: ['replay: replayed 5, failed again 0, parked 0, held 0, skipped 0, remaining 0'] });
    expect(await hits(tagOld)).toEqual([...poisoned].sort());
    const after = await cli(runReconcile, ['--prefix', run, '--confirm-ms', '300']);
    expect(after.lines.at(-1)).toBe('clean: the index holds exactly the database state');
    expect(after.code).toBe(0);
  }, 240_000);
});
