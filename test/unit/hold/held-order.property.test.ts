// Why holding is safe (issue 17, contract 2): held commands are applied later than newer commands of the same
// entity, in any order, some twice; the store's last-writer-wins by original (partition, offset) makes the final
// state, counters included, exactly the reference model's over the command log.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShardStores } from '../../../adapters/pg/index.ts';
import { partitionForKey } from '../../../adapters/kafka/partitioner.ts';
import type { AssocWrite, ShardStore } from '../../../adapters/pg/port.ts';
import { clusterOfShard } from '../../../actors/tree.ts';
import { loadConfig } from '../../../config/index.ts';
import { shardOf } from '../../../lib/command.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { compareWithModel } from '../../support/db-state.ts';
import { expectedState, type ModelRecord } from '../../support/reference-model.ts';

const config = loadConfig({ env: {}, overrides: { shards: { count: 4 } } });
const PARTITIONS = 3;
let stores: Map<string, ShardStore>;

beforeAll(async () => {
  stores = await createShardStores(config, silentLogger());
  for (const s of stores.values()) await s.migrate();
}, 60_000);
afterAll(async () => {
  for (const s of stores.values()) await s.close();
});

const command = fc.record({ entity: fc.integer({ min: 0, max: 4 }), tag: fc.integer({ min: 0, max: 2 }), attach: fc.boolean(), held: fc.boolean(), twice: fc.boolean() });

/** A deterministic shuffle from a seed (fast-check shrinks the seed like any other input). */
function shuffle<T>(xs: T[], seed: number): T[] {
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

let run = 0;

describe('held commands applied late, in any order, give the reference model\'s state', () => {
  it('direct commands in log order, held ones shuffled among them (some twice): no missing, extra, wrong or miscounted', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), fc.integer(), fc.integer({ min: 1, max: 6 }), async (cmds, seed, batch) => {
        const prefix = `hp${run++}-`;
        const next = new Map<number, number>();
        const records: ModelRecord[] = [];
        const direct: AssocWrite[] = [];
        const held: AssocWrite[] = [];
        for (const [i, c] of cmds.entries()) {
          const entity = `${prefix}e${c.entity}`;
          const tag = `${prefix}t${c.tag}`;
          const partition = partitionForKey(entity, PARTITIONS);
          const offset = String(next.get(partition) ?? 0);
          next.set(partition, Number(offset) + 1);
          const op = c.attach ? 'attach' : 'detach';
          records.push({ partition, offset, key: entity, value: JSON.stringify({ id: `${prefix}${i}`, op, entity, tag, actor: 'p', at: i }) });
          const w: AssocWrite = { shard: shardOf(entity, config.shards.count), entity, tag, attached: c.attach, partition, offset, at: i };
          (c.held ? held : direct).push(w);
          if (c.held && c.twice) held.push(w); // a diverted command its writer applies anyway
        }
        // Held commands come back in any order, interleaved anywhere with the direct ones (kept in log order).
        const late = shuffle(held, seed);
        const schedule: AssocWrite[] = [];
        let d = 0;
        for (const [k, w] of late.entries()) {
          const upTo = Math.floor(((k + 1) * direct.length) / (late.length + 1)) + (seed & 1);
          while (d < Math.min(upTo, direct.length)) schedule.push(direct[d++]!);
          schedule.push(w);
        }
        while (d < direct.length) schedule.push(direct[d++]!);
        // Applied in batches per cluster, as the writers do.
        for (let i = 0; i < schedule.length; i += batch) {
          const part = schedule.slice(i, i + batch);
          for (const [cluster, store] of stores) {
            const mine = part.filter((w) => clusterOfShard(config, w.shard) === cluster);
            if (mine.length > 0) await store.applyBatch(mine);
          }
        }
        const drift = await compareWithModel(stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expectedState(records), prefix);
        expect(drift).toEqual({ missing: [], extra: [], wrong: [], wrongCounts: [] });
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
