// Issue 17 on the embedded stand-ins: one cluster stops answering (its applies hang, like a SIGSTOPped primary);
// the other cluster keeps applying everything, every source offset commits (the frozen cluster's commands are
// in its hold topic), and once it answers again the re-feeder drains the hold: the final state is exactly the
// reference model's.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryCommandLog } from '../../../adapters/kafka/memory-command-log.ts';
import type { ShardStore } from '../../../adapters/pg/port.ts';
import { holdGroupId, holdTopicName } from '../../../actors/hold/hold-topic.ts';
import { clusterOfShard, createTree, type Tree } from '../../../actors/tree.ts';
import { loadConfig } from '../../../config/index.ts';
import { shardOf } from '../../../lib/command.ts';
import { systemClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { compareWithModel } from '../../support/db-state.ts';
import { closeStores, migratedStores, readLog } from '../../support/embedded-stores.ts';
import { commandStream, expectedState } from '../../support/reference-model.ts';
import { behind } from '../../support/settled.ts';

const config = loadConfig({ env: {}, overrides: { shards: { count: 8 }, writer: { batchSize: 50, batchWindowMs: 5, mailboxCapacity: 40 }, kafka: { partitions: 4 }, hold: { maxSendWaitMs: 100, pollMs: 50, releaseBelow: 0, drainRatePerSec: 5_000 } } });
const logger = silentLogger();
let stores: Map<string, ShardStore>;

beforeAll(async () => void (stores = await migratedStores(config, logger)), 60_000);
afterAll(() => closeStores(stores));

/** pg1's applies hang while frozen (a stopped process answers nothing), then complete. */
function freezable(): { stores: Map<string, ShardStore>; freeze(): void; thaw(): void; applied: Map<string, number> } {
  let frozen: { promise: Promise<void>; release: () => void } | null = null;
  const applied = new Map<string, number>();
  const wrapped = new Map(
    [...stores].map(([name, s]) => [
      name,
      new Proxy(s, {
        get(target, prop, recv) {
          if (prop === 'applyBatch')
            return async (...args: Parameters<ShardStore['applyBatch']>) => {
              if (name === 'pg1' && frozen) await frozen.promise;
              const r = await target.applyBatch(...args);
              applied.set(name, (applied.get(name) ?? 0) + args[0].length);
              return r;
            };
          const v = Reflect.get(target, prop, recv) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }) as ShardStore,
    ]),
  );
  return {
    stores: wrapped,
    applied,
    freeze() {
      let release!: () => void;
      frozen = { promise: new Promise<void>((r) => (release = r)), release: () => release() };
    },
    thaw() {
      frozen?.release();
      frozen = null;
    },
  };
}

function tree(log: MemoryCommandLog, group: string, storeMap: Map<string, ShardStore>): Tree {
  return createTree({ config: { ...config, kafka: { ...config.kafka, groupId: group } }, clock: systemClock, logger, log, stores: storeMap, onFatal: () => undefined });
}

describe('a frozen cluster costs only its own shards (embedded)', () => {
  it('writer mailboxes full: the cluster is held, the other cluster applies everything, offsets commit; the hold drains afterwards', async () => {
    const log = new MemoryCommandLog({ clock: systemClock, logger });
    await log.ensureTopic(config.kafka.topic, 4);
    const f = freezable();
    const t = tree(log, 'iso1', f.stores);
    await t.start();
    f.freeze();
    const msgs = commandStream(3_000, 21, { entities: 400, prefix: 'iso1-' });
    const onPg0 = msgs.filter((m) => clusterOfShard(config, shardOf(m.key, config.shards.count)) === 'pg0').length;
    await log.produce(config.kafka.topic, msgs);

    // Every source offset commits while pg1 is frozen: pg0's commands applied, pg1's in its hold topic.
    await vi.waitFor(async () => expect(await behind(log, 'iso1', config.kafka.topic, false)).toEqual([]), { timeout: 30_000, interval: 50 });
    // A burst can hold pg0 for a moment too (its mailboxes are tiny here); it drains while pg1 stays frozen.
    await vi.waitFor(() => expect(t.hold.status().pg0).toMatchObject({ held: false, depth: 0 }), { timeout: 20_000, interval: 20 });
    // pg0 already holds the final state of every pg0 entity: only pg1's entities may differ from the model yet.
    const during = await compareWithModel(stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expectedState(await readLog(log, config.kafka.topic)), 'iso1-');
    const onPg1 = (k: string) => clusterOfShard(config, shardOf(k.slice(0, k.indexOf('|')), config.shards.count)) === 'pg1';
    expect([...during.missing, ...during.wrong.map((w) => w.slice(0, w.indexOf(':')))].filter((k) => !onPg1(k))).toEqual([]);
    expect(onPg0).toBeGreaterThan(0);
    expect(t.hold.status().pg1!.held).toBe(true);
    expect(t.hold.status().pg1!.reason).toMatch(/mailbox full/);
    expect(t.hold.status().pg0!.held).toBe(false);
    const held = await readLog(log, holdTopicName(config.kafka.topic, 'pg1'));
    expect(held.length).toBeGreaterThan(0);
    for (const r of held) {
      expect(clusterOfShard(config, shardOf(r.key!, config.shards.count))).toBe('pg1');
      expect(r.value).toBe(msgs.find((m) => r.value === m.value)?.value); // the original bytes
    }
    await vi.waitFor(() => expect(t.hold.status().pg1!.depth).toBeGreaterThan(0), { timeout: 5_000, interval: 20 });

    f.thaw();
    // The re-feeder drains the hold once pg1 answers; the hold is released.
    await vi.waitFor(async () => expect(await behind(log, holdGroupId('iso1', 'pg1'), holdTopicName(config.kafka.topic, 'pg1'), false)).toEqual([]), { timeout: 30_000, interval: 50 });
    await vi.waitFor(() => expect(t.hold.status().pg1).toMatchObject({ held: false, depth: 0 }), { timeout: 10_000, interval: 20 });
    await t.stop(5_000);

    const expected = expectedState(await readLog(log, config.kafka.topic));
    expect(await compareWithModel(stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expected, 'iso1-')).toEqual({ missing: [], extra: [], wrong: [], wrongCounts: [] });
  }, 90_000);

  it('a cluster its failover machine calls unwritable is held at once (no wait), and drained once it is writable', async () => {
    const log = new MemoryCommandLog({ clock: systemClock, logger });
    await log.ensureTopic(config.kafka.topic, 4);
    const t = tree(log, 'iso2', stores);
    let down = true;
    t.hold.setWritableProbe((c) => (c === 'pg1' && down ? { ok: false, reason: 'failover machine: degraded' } : { ok: true }));
    await t.start();
    const msgs = commandStream(1_000, 22, { entities: 200, prefix: 'iso2-' });
    await log.produce(config.kafka.topic, msgs);
    await vi.waitFor(async () => expect(await behind(log, 'iso2', config.kafka.topic, false)).toEqual([]), { timeout: 30_000, interval: 50 });
    const onPg1 = msgs.filter((m) => clusterOfShard(config, shardOf(m.key, config.shards.count)) === 'pg1').length;
    expect(await readLog(log, holdTopicName(config.kafka.topic, 'pg1'))).toHaveLength(onPg1);
    expect(t.hold.status().pg1).toMatchObject({ held: true, reason: 'failover machine: degraded' });
    expect(t.refeeders.get('pg1')!.running).toBe(false);

    down = false;
    await vi.waitFor(() => expect(t.hold.status().pg1).toMatchObject({ held: false, depth: 0 }), { timeout: 30_000, interval: 20 });
    await t.stop(5_000);
    const expected = expectedState(await readLog(log, config.kafka.topic));
    expect(await compareWithModel(stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expected, 'iso2-')).toEqual({ missing: [], extra: [], wrong: [], wrongCounts: [] });
  }, 90_000);
});
