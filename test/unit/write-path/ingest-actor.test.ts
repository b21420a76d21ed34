// The ingest is a supervised actor (issue 15 item 1): a defect while routing a batch crashes it mid-stream; its
// supervisor restarts it with backoff (readiness names it meanwhile), the restarted ingest re-reads every partition
// from its committed offset, and nothing is lost. A defect on every batch is a restart storm: it escalates.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryCommandLog } from '../../../adapters/kafka/memory-command-log.ts';
import type { LogBatch } from '../../../adapters/kafka/port.ts';
import type { ShardStore } from '../../../adapters/pg/port.ts';
import { actorsNotReady } from '../../../actors/runtime/readiness.ts';
import { clusterOfShard, createTree, type Tree } from '../../../actors/tree.ts';
import { loadConfig } from '../../../config/index.ts';
import { systemClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { compareWithModel } from '../../support/db-state.ts';
import { closeStores, migratedStores, readLog } from '../../support/embedded-stores.ts';
import { commandStream, expectedState } from '../../support/reference-model.ts';
import { allSettled } from '../../support/settled.ts';

const config = loadConfig({ env: {}, overrides: { shards: { count: 8 }, writer: { batchSize: 50, batchWindowMs: 5, mailboxCapacity: 64 }, kafka: { partitions: 4 } } });
const logger = silentLogger();
let stores: Map<string, ShardStore>;

beforeAll(async () => void (stores = await migratedStores(config, logger)), 60_000);
afterAll(() => closeStores(stores));


function tree(log: MemoryCommandLog, group: string, supervision: Partial<typeof config.supervision>, onFatal: (path: string) => void = () => undefined): Tree {
  const cfg = { ...config, kafka: { ...config.kafka, groupId: group }, supervision: { ...config.supervision, ...supervision } };
  return createTree({ config: cfg, clock: systemClock, logger, log, stores, onFatal });
}

/** The ingest's batch routing throws a defect when `when` says so. */
function injectDefect(t: Tree, when: (b: LogBatch) => boolean): { crashes: () => number } {
  let crashes = 0;
  const handleBatch = t.ingest.handleBatch.bind(t.ingest);
  Object.assign(t.ingest, {
    handleBatch: async (b: LogBatch, gen: number) => {
      if (when(b)) {
        crashes++;
        throw new TypeError('a defect in the ingest');
      }
      return handleBatch(b, gen);
    },
  });
  return { crashes: () => crashes };
}

describe('the ingest actor', () => {
  it('a defect mid-stream crashes it: restarted with backoff (not ready meanwhile), it re-reads from the committed offsets and nothing is lost', async () => {
    const log = new MemoryCommandLog({ clock: systemClock, logger });
    await log.ensureTopic(config.kafka.topic, 4);
    await log.produce(config.kafka.topic, commandStream(1_200, 21, { entities: 120, prefix: 'ia1-' }));
    const t = tree(log, 'ia1', { restartInitialMs: 400, restartMaxMs: 1_000 });
    // Once, on a batch of partition 0 past offset 150: some of its records were routed before, some after.
    let armed = true;
    const defect = injectDefect(t, (b) => {
      if (!armed || b.partition !== 0 || Number(b.records.at(-1)!.offset) < 150) return false;
      armed = false;
      return true;
    });
    await t.start();
    const ingest = () => t.system.tree().find((a) => a.path === '/tagstream/ingest')!;
    await vi.waitFor(() => expect(ingest().status).toBe('restarting'), { timeout: 30_000, interval: 2 });
    expect(actorsNotReady(t.system.tree())).toEqual(['actor /tagstream/ingest is restarting (a defect in the ingest)']);
    await vi.waitFor(() => expect(ingest()).toMatchObject({ status: 'running', restarts: 1 }), { timeout: 10_000, interval: 5 });
    expect(actorsNotReady(t.system.tree())).toEqual([]);
    await vi.waitFor(async () => expect(await allSettled(log, { topic: config.kafka.topic, groupId: 'ia1', clusters: stores.keys() })).toBe(true), { timeout: 60_000, interval: 50 });
    await t.stop(5_000);
    expect(defect.crashes()).toBe(1);
    const expected = expectedState(await readLog(log, config.kafka.topic));
    expect(await compareWithModel(stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expected, 'ia1-')).toEqual({ missing: [], extra: [], wrong: [], wrongCounts: [] });
  }, 90_000);

  it('a defect on every batch is a restart storm: it escalates past the root, which the daemon treats as fatal', async () => {
    const log = new MemoryCommandLog({ clock: systemClock, logger });
    await log.ensureTopic(config.kafka.topic, 4);
    await log.produce(config.kafka.topic, commandStream(200, 22, { entities: 20, prefix: 'ia2-' }));
    const fatal: string[] = [];
    const t = tree(log, 'ia2', { restartInitialMs: 10, restartMaxMs: 40, maxRestarts: 2 }, (p) => fatal.push(p));
    injectDefect(t, () => true);
    await t.start();
    await vi.waitFor(() => expect(fatal).toEqual(['/tagstream']), { timeout: 30_000, interval: 10 });
    expect(t.system.tree().find((a) => a.path === '/tagstream/ingest')).toMatchObject({ status: 'stopped' });
    expect(actorsNotReady(t.system.tree())).toContain('actor /tagstream/ingest is stopped (a defect in the ingest)');
    await t.stop(1_000);
    // Nothing was committed past what was never applied: nothing was applied, nothing committed.
    expect([...(await log.committed('ia2', config.kafka.topic)).values()].filter((o) => o !== '0')).toEqual([]);
  }, 60_000);
});
