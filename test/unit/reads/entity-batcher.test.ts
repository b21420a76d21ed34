import { describe, expect, it } from 'vitest';
import type { ReadOptions, ShardStore } from '../../../adapters/pg/port.ts';
import { EntityBatcher } from '../../../features/reads/entity-batcher.ts';

function fakeStore(fail = false) {
  const calls: Array<{ entities: string[]; opts: ReadOptions }> = [];
  const store = {
    async entitiesTags(entities: string[], opts: ReadOptions = {}) {
      calls.push({ entities, opts });
      if (fail) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      return { tags: new Map(entities.filter((e) => e !== 'none').map((e) => [e, [`${e}-tag`]])), servedBy: opts.minLsn ? 'n0' : 'n1', role: opts.minLsn ? 'primary' : 'replica' };
    },
  } as unknown as ShardStore;
  return { store, calls };
}
const direct = <T>(fn: () => Promise<T>) => fn();

describe('EntityBatcher', () => {
  it('reads of one event-loop turn share one query; token reads another, routed by the highest token', async () => {
    const { store, calls } = fakeStore();
    const b = new EntityBatcher(store, direct);
    const answers = await Promise.all([b.read('a'), b.read('b'), b.read('a'), b.read('c', '0/10'), b.read('none', '0/30'), b.read('d', '0/20')]);
    expect(calls).toEqual([
      { entities: ['a', 'b'], opts: {} },
      { entities: ['c', 'none', 'd'], opts: { minLsn: '0/30' } },
    ]);
    expect(answers.map((a) => a.tags)).toEqual([['a-tag'], ['b-tag'], ['a-tag'], ['c-tag'], [], ['d-tag']]);
    expect(answers[3]).toMatchObject({ servedBy: 'n0', role: 'primary' });
    expect(b.batches).toBe(2);
    expect(b.reads).toBe(6);
    await b.read('e');
    expect(calls).toHaveLength(3);
  });

  it('a full batch goes at once; a failed query fails every read of its batch', async () => {
    const { store, calls } = fakeStore(true);
    const b = new EntityBatcher(store, direct, 2);
    const r = await Promise.allSettled([b.read('a'), b.read('b'), b.read('c')]);
    expect(calls.map((c) => c.entities)).toEqual([['a', 'b'], ['c']]);
    expect(r.every((x) => x.status === 'rejected')).toBe(true);
  });
});
