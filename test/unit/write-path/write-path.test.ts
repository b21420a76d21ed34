// The write path end to end on the embedded stand-ins: Kafka-shaped log → ingest → shard writers → stores.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryCommandLog } from '../../../adapters/kafka/memory-command-log.ts';
import type { ShardStore } from '../../../adapters/pg/port.ts';
import { clusterOfShard, createTree, type Tree } from '../../../actors/tree.ts';
import { loadConfig } from '../../../config/index.ts';
import { systemClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { compareWithModel } from '../../support/db-state.ts';
import { closeStores, migratedStores, readLog } from '../../support/embedded-stores.ts';
import { allSettled } from '../../support/settled.ts';
import { commandStream, expectedState } from '../../support/reference-model.ts';

const config = loadConfig({ env: {}, overrides: { shards: { count: 8 }, writer: { batchSize: 50, batchWindowMs: 5, mailboxCapacity: 64 }, kafka: { partitions: 4 } } });
const logger = silentLogger();
let stores: Map<string, ShardStore>;

beforeAll(async () => void (stores = await migratedStores(config, logger)), 60_000);
afterAll(() => closeStores(stores));


/** Offsets committed and holds drained (a cluster slow for a moment on a loaded machine is held and re-fed). */
function allCommitted(log: MemoryCommandLog, group: string, topic: string): Promise<boolean> {
  return allSettled(log, { topic, groupId: group, clusters: stores.keys() });
}

function tree(log: MemoryCommandLog, group: string, storeMap = stores, onFatal = (_p: string) => undefined): Tree {
  const cfg = { ...config, kafka: { ...config.kafka, groupId: group } };
  return createTree({ config: cfg, clock: systemClock, logger, log, stores: storeMap, onFatal });
}

describe('write path (embedded)', () => {
  it('applies every valid command exactly as the reference model says, dead-letters the invalid ones, commits offsets', async () => {
    const log = new MemoryCommandLog({ clock: systemClock, logger });
    await log.ensureTopic(config.kafka.topic, 4);
    const msgs = commandStream(1_500, 7, { entities: 150, prefix: 't1-' });
    msgs.splice(100, 0, { key: 't1-bug-1', value: '{not json' });
    msgs.splice(200, 0, { key: 't1-bug-2', value: JSON.stringify({ id: 'x', op: 'explode', entity: 't1-bug-2', tag: 'a', actor: 'm', at: 1 }) });
    msgs.splice(300, 0, { key: 't1-bug-9', value: JSON.stringify({ id: 'y', op: 'attach', entity: 't1-bug-3', tag: 'a', actor: 'm', at: 1 }) });
    await log.produce(config.kafka.topic, msgs);
    const t = tree(log, 'g1');
    await t.start();
    await vi.waitFor(async () => expect(await allCommitted(log, 'g1', config.kafka.topic)).toBe(true), { timeout: 30_000, interval: 50 });
    await t.stop(5_000);

    const expected = expectedState(await readLog(log, config.kafka.topic));
    expect(expected.invalid).toHaveLength(3);
    const drift = await compareWithModel(stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expected, 't1-');
    expect(drift).toEqual({ missing: [], extra: [], wrong: [], wrongCounts: [] });

    const dlq = await log.read(config.kafka.dlqTopic, 0, '0', 100);
    expect(dlq).toHaveLength(3);
    expect(dlq.map((r) => r.headers['x-error-code']).sort()).toEqual(['TS_ERR_COMMAND_INVALID', 'TS_ERR_COMMAND_INVALID', 'TS_ERR_COMMAND_UNKNOWN_OP']);
    for (const r of dlq) {
      expect(r.headers['x-source-topic']).toBe(config.kafka.topic);
      expect(Number(r.headers['x-source-partition'])).toBeGreaterThanOrEqual(0);
      expect(r.headers['x-source-offset']).toMatch(/^\d+$/);
      expect(r.headers['x-error-message']!.length).toBeGreaterThan(0);
    }

    // Applying everything again (a new consumer group re-reads the whole log) changes nothing, counters included.
    const again = tree(log, 'g2');
    await again.start();
    await vi.waitFor(async () => expect(await allCommitted(log, 'g2', config.kafka.topic)).toBe(true), { timeout: 30_000, interval: 50 });
    await again.stop(5_000);
    expect(await compareWithModel(stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expected, 't1-')).toEqual({ missing: [], extra: [], wrong: [], wrongCounts: [] });
  }, 90_000);

  it('a shard writer that crashes mid-stream is restarted and the ingest re-delivers: nothing is lost', async () => {
    const log = new MemoryCommandLog({ clock: systemClock, logger });
    await log.ensureTopic(config.kafka.topic, 4);
    await log.produce(config.kafka.topic, commandStream(800, 11, { entities: 80, prefix: 't2-' }));
    // Three batches on cluster pg0 fail with an unknown (fatal) error: the writer crashes each time.
    let calls = 0;
    const flaky = new Map(
      [...stores].map(([name, s]) => [
        name,
        name !== 'pg0'
          ? s
          : (new Proxy(s, {
              get(target, prop, recv) {
                if (prop === 'applyBatch')
                  return async (...args: Parameters<ShardStore['applyBatch']>) => {
                    if ([3, 8, 14].includes(++calls)) throw new Error('simulated bug in the writer');
                    return target.applyBatch(...args);
                  };
                const v = Reflect.get(target, prop, recv) as unknown;
                return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
              },
            }) as ShardStore),
      ]),
    );
    const t = tree(log, 'g3', flaky);
    await t.start();
    await vi.waitFor(async () => expect(await allCommitted(log, 'g3', config.kafka.topic)).toBe(true), { timeout: 60_000, interval: 50 });
    const restarts = t.system.tree().filter((a) => a.kind === 'shard-writer').reduce((n, a) => n + a.restarts, 0);
    await t.stop(5_000);
    expect(calls).toBeGreaterThanOrEqual(14);
    expect(restarts).toBeGreaterThan(0);
    const expected = expectedState(await readLog(log, config.kafka.topic));
    expect(await compareWithModel(stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expected, 't2-')).toEqual({ missing: [], extra: [], wrong: [], wrongCounts: [] });
  }, 90_000);
});
