import { describe, expect, it } from 'vitest';
import type { EntityKey, ReadOptions, ShardStore } from '../../../adapters/pg/port.ts';
import { EntityBatcher } from '../../../features/reads/entity-batcher.ts';

function fakeStore(fail = false) {
  const calls: Array<{ entities: string[]; opts: ReadOptions }> = [];
  const keys: EntityKey[][] = [];
  const store = {
    async entitiesTags(ks: EntityKey[], opts: ReadOptions = {}) {
      const entities = ks.map((k) => k.entity);
      keys.push(ks);
      calls.push({ entities, opts });
      if (fail) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      return { tags: new Map(entities.filter((e) => e !== 'none').map((e) => [e, [`${e}-tag`]])), servedBy: opts.minLsn ? 'n0' : 'n1', role: opts.minLsn ? 'primary' : 'replica' };
    },
  } as unknown as ShardStore;
  return { store, calls, keys };
}
const direct = <T>(fn: () => Promise<T>) => fn();

describe('EntityBatcher', () => {
  it('reads of one event-loop turn share one query; token reads another, routed by the highest token', async () => {
    const { store, calls } = fakeStore();
    const b = new EntityBatcher(store, direct);
    const answers = await Promise.all([b.read(1, 'a'), b.read(1, 'b'), b.read(1, 'a'), b.read(1, 'c', '0/10'), b.read(4, 'none', '0/30'), b.read(1, 'd', '0/20')]);
    expect(calls).toEqual([
      { entities: ['a', 'b'], opts: {} },
      { entities: ['c', 'none', 'd'], opts: { minLsn: '0/30' } },
    ]);
    expect(answers.map((a) => a.tags)).toEqual([['a-tag'], ['b-tag'], ['a-tag'], ['c-tag'], [], ['d-tag']]);
    expect(answers[3]).toMatchObject({ servedBy: 'n0', role: 'primary' });
    expect(b.batches).toBe(2);
    expect(b.reads).toBe(6);
    await b.read(1, 'e');
    expect(calls).toHaveLength(3);
  });

  it('each entity reaches the store with its shard (the table is keyed by shard first)', async () => {
    const { store, keys } = fakeStore();
    const b = new EntityBatcher(store, direct);
    await Promise.all([b.read(7, 'x'), b.read(3, 'y'), b.read(7, 'x')]);
    expect(keys).toEqual([[{ shard: 7, entity: 'x' }, { shard: 3, entity: 'y' }]]);
  });

  it('a full batch goes at once; a failed query fails every read of its batch', async () => {
    const { store, calls } = fakeStore(true);
    const b = new EntityBatcher(store, direct, 2);
    const r = await Promise.allSettled([b.read(1, 'a'), b.read(1, 'b'), b.read(1, 'c')]);
    expect(calls.map((c) => c.entities)).toEqual([['a', 'b'], ['c']]);
    expect(r.every((x) => x.status === 'rejected')).toBe(true);
  });
});
