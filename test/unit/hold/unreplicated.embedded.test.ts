// Contract 3 with a cluster whose writes no replica replays (its replicas gone, or a promoted primary left
// without one): a write's offset may commit only once a replica has it, so a lone primary applies everything and
// commits nothing — and every later offset of the same partitions (other clusters' commands too) waits behind
// it, in memory. Held instead: once a write has waited `hold.unreplicatedMs`, the cluster is held and what its
// writers still have goes to its hold topic (durable, so the source offsets commit; applied twice at most,
// idempotently). Once a replica replays again, the hold drains and the state is exactly the reference model's.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryCommandLog } from '../../../adapters/kafka/memory-command-log.ts';
import type { ShardStore } from '../../../adapters/pg/port.ts';
import { holdGroupId, holdTopicName } from '../../../actors/hold/hold-topic.ts';
import { clusterOfShard, createTree } from '../../../actors/tree.ts';
import { loadConfig } from '../../../config/index.ts';
import { shardOf } from '../../../lib/command.ts';
import { systemClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { compareWithModel } from '../../support/db-state.ts';
import { closeStores, migratedStores, readLog } from '../../support/embedded-stores.ts';
import { commandStream, expectedState } from '../../support/reference-model.ts';
import { behind } from '../../support/settled.ts';

const config = loadConfig({ env: {}, overrides: { shards: { count: 8 }, writer: { batchSize: 50, batchWindowMs: 5 }, kafka: { partitions: 4 }, hold: { pollMs: 50, releaseBelow: 0, drainRatePerSec: 5_000, unreplicatedMs: 300 } } });
const logger = silentLogger();
let stores: Map<string, ShardStore>;

beforeAll(async () => void (stores = await migratedStores(config, logger)), 60_000);
afterAll(() => closeStores(stores));

/** pg1's replicas replay nothing while `gone` (its writes apply on the primary alone). */
function replicaless(): { stores: Map<string, ShardStore>; gone: boolean } {
  const ctl = { stores: new Map<string, ShardStore>(), gone: true };
  for (const [name, s] of stores) {
    ctl.stores.set(
      name,
      new Proxy(s, {
        get(target, prop, recv) {
          if (prop === 'replicatedTo' && name === 'pg1') return async (...args: Parameters<ShardStore['replicatedTo']>) => !ctl.gone && target.replicatedTo(...args);
          const v = Reflect.get(target, prop, recv) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }) as ShardStore,
    );
  }
  return ctl;
}

describe('a cluster whose writes no replica replays is held (contract 3, embedded)', () => {
  it('its unproven commands go to its hold topic so every source offset commits; they drain once a replica replays', async () => {
    const log = new MemoryCommandLog({ clock: systemClock, logger });
    await log.ensureTopic(config.kafka.topic, 4);
    const r = replicaless();
    const t = createTree({ config: { ...config, kafka: { ...config.kafka, groupId: 'unrep' } }, clock: systemClock, logger, log, stores: r.stores, onFatal: () => undefined });
    await t.start();
    // One burst and then nothing: no later batch routes to pg1 after its hold begins.
    const msgs = commandStream(1_500, 31, { entities: 300, prefix: 'unrep-' });
    await log.produce(config.kafka.topic, msgs);

    await vi.waitFor(async () => expect(await behind(log, 'unrep', config.kafka.topic, false)).toEqual([]), { timeout: 30_000, interval: 50 });
    expect(t.hold.status().pg1).toMatchObject({ held: true });
    expect(t.hold.status().pg1!.reason).toMatch(/not replicated/);
    expect(t.hold.status().pg0!.held).toBe(false);
    const held = await readLog(log, holdTopicName(config.kafka.topic, 'pg1'));
    expect(held.length).toBeGreaterThan(0);
    for (const rec of held) expect(clusterOfShard(config, shardOf(rec.key!, config.shards.count))).toBe('pg1');
    expect(t.refeeders.get('pg1')!.running && !t.refeeders.get('pg1')!.isSuspended).toBe(false);

    r.gone = false;
    await vi.waitFor(async () => expect(await behind(log, holdGroupId('unrep', 'pg1'), holdTopicName(config.kafka.topic, 'pg1'), false)).toEqual([]), { timeout: 30_000, interval: 50 });
    await vi.waitFor(() => expect(t.hold.status().pg1).toMatchObject({ held: false, depth: 0 }), { timeout: 10_000, interval: 20 });
    await t.stop(5_000);
    const expected = expectedState(await readLog(log, config.kafka.topic));
    expect(await compareWithModel(stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expected, 'unrep-')).toEqual({ missing: [], extra: [], wrong: [], wrongCounts: [] });
  }, 90_000);
});
