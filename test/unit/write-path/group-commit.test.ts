// Group commit: the batches of one cluster's shard writers share transactions, without mixing up their
// results, their order per shard, or the blame for a bad command.
import { describe, expect, it } from 'vitest';
import { toPgError } from '../../../adapters/pg/errors.ts';
import type { ApplyResult, AssocWrite } from '../../../adapters/pg/port.ts';
import { GroupCommitter, share } from '../../../actors/shard-writer/group-commit.ts';

const w = (shard: number, offset: number, tag = 't'): AssocWrite => ({ shard, entity: `e${shard}-${offset}`, tag, attached: true, partition: 0, offset: String(offset), at: 0 });

/** A store whose transactions the test completes by hand; the result counts every write as a change. */
function manualStore(opts: { failWhen?: (writes: AssocWrite[]) => unknown } = {}) {
  const calls: Array<{ writes: AssocWrite[]; finish: () => void }> = [];
  let lsn = 0;
  const inner = {
    cluster: 'pg0',
    applyBatch(writes: AssocWrite[]): Promise<ApplyResult> {
      return new Promise<ApplyResult>((resolve, reject) => {
        calls.push({
          writes,
          finish: () => {
            const err = opts.failWhen?.(writes);
            if (err) return reject(err);
            const shards = [...new Set(writes.map((x) => x.shard))].sort((a, b) => a - b);
            resolve({
              changed: writes.length,
              versioned: writes.length,
              counterDeltas: shards.map((s) => ({ shard: s, tag: 't', delta: writes.filter((x) => x.shard === s).length })),
              perShard: shards.map((s) => ({ shard: s, changed: writes.filter((x) => x.shard === s).length, versioned: writes.filter((x) => x.shard === s).length })),
              commitLsn: `0/${(++lsn).toString(16)}`,
            });
          },
        });
      });
    },
  };
  return { inner, calls };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommitter', () => {
  it('sends a batch at once when the cluster is idle', async () => {
    const { inner, calls } = manualStore();
    const gc = new GroupCommitter(inner, { maxRows: 100, maxInFlight: 1 });
    const p = gc.applyBatch([w(1, 1)]);
    expect(calls).toHaveLength(1);
    calls[0]!.finish();
    expect(await p).toMatchObject({ changed: 1, commitLsn: '0/1' });
  });

  it('groups the batches that arrive while a transaction runs into the next one, and gives each its own share', async () => {
    const { inner, calls } = manualStore();
    const groups: number[] = [];
    const gc = new GroupCommitter(inner, { maxRows: 100, maxInFlight: 1, onGroup: (g) => groups.push(g.members) });
    const first = gc.applyBatch([w(1, 1)]);
    const a = gc.applyBatch([w(2, 1), w(2, 2)]);
    const b = gc.applyBatch([w(3, 1)]);
    expect(calls).toHaveLength(1);
    calls[0]!.finish();
    await first;
    await tick();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.writes.map((x) => x.shard)).toEqual([2, 2, 3]);
    calls[1]!.finish();
    expect(await a).toEqual({ changed: 2, versioned: 2, counterDeltas: [{ shard: 2, tag: 't', delta: 2 }], perShard: [{ shard: 2, changed: 2, versioned: 2 }], commitLsn: '0/2' });
    expect(await b).toEqual({ changed: 1, versioned: 1, counterDeltas: [{ shard: 3, tag: 't', delta: 1 }], perShard: [{ shard: 3, changed: 1, versioned: 1 }], commitLsn: '0/2' });
    expect(groups).toEqual([1, 2]);
  });

  it('never runs two batches of one shard together or side by side, and keeps their order', async () => {
    const { inner, calls } = manualStore();
    const gc = new GroupCommitter(inner, { maxRows: 100, maxInFlight: 2 });
    const p1 = gc.applyBatch([w(5, 1)]);
    const p2 = gc.applyBatch([w(5, 2)]); // same shard: must wait for p1's transaction
    const p3 = gc.applyBatch([w(6, 1)]); // another shard: may run beside p1
    await tick();
    expect(calls.map((c) => c.writes.map((x) => x.offset))).toEqual([['1'], ['1']]);
    expect(calls[1]!.writes[0]!.shard).toBe(6);
    calls[1]!.finish();
    await p3;
    await tick();
    expect(calls).toHaveLength(2); // shard 5 is still busy
    calls[0]!.finish();
    await p1;
    await tick();
    expect(calls).toHaveLength(3);
    expect(calls[2]!.writes).toEqual([w(5, 2)]);
    calls[2]!.finish();
    await p2;
  });

  it('stops filling a group at maxRows', async () => {
    const { inner, calls } = manualStore();
    const gc = new GroupCommitter(inner, { maxRows: 3, maxInFlight: 1 });
    const ps = [gc.applyBatch([w(0, 1)]), gc.applyBatch([w(1, 1), w(1, 2)]), gc.applyBatch([w(2, 1)]), gc.applyBatch([w(3, 1), w(3, 2)])];
    calls[0]!.finish();
    await tick();
    expect(calls[1]!.writes.map((x) => x.shard)).toEqual([1, 1, 2]);
    calls[1]!.finish();
    await tick();
    expect(calls[2]!.writes.map((x) => x.shard)).toEqual([3, 3]);
    calls[2]!.finish();
    await Promise.all(ps);
  });

  it('when a group fails as poison, applies each batch alone so only the bad one gets the error', async () => {
    const poison = toPgError(Object.assign(new Error('invalid input syntax'), { code: '22P02' }));
    const { inner, calls } = manualStore({ failWhen: (ws) => (ws.some((x) => x.tag === 'bad') ? poison : undefined) });
    const gc = new GroupCommitter(inner, { maxRows: 100, maxInFlight: 1 });
    const first = gc.applyBatch([w(0, 1)]);
    const good = gc.applyBatch([w(1, 1)]);
    const bad = gc.applyBatch([w(2, 1, 'bad')]);
    calls[0]!.finish();
    await first;
    await tick();
    calls[1]!.finish(); // the group of shards 1 and 2 fails
    await tick();
    expect(calls.slice(2).map((c) => c.writes[0]!.shard)).toEqual([1, 2]);
    calls[2]!.finish();
    calls[3]!.finish();
    expect(await good).toMatchObject({ changed: 1 });
    await expect(bad).rejects.toBe(poison);
  });

  it('when a group fails for any other reason (the primary is down), every member gets that error to retry', async () => {
    const down = toPgError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    let fail = false;
    const { inner, calls } = manualStore({ failWhen: () => (fail ? down : undefined) });
    const gc = new GroupCommitter(inner, { maxRows: 100, maxInFlight: 1 });
    const first = gc.applyBatch([w(0, 1)]);
    const a = gc.applyBatch([w(1, 1)]);
    const b = gc.applyBatch([w(2, 1)]);
    calls[0]!.finish();
    await first;
    await tick();
    fail = true;
    calls[1]!.finish();
    await expect(a).rejects.toBe(down);
    await expect(b).rejects.toBe(down);
    expect(calls).toHaveLength(2);
  });

  it('share() keeps a member’s shards only and the group’s commit LSN', () => {
    const r: ApplyResult = {
      changed: 3,
      versioned: 4,
      counterDeltas: [{ shard: 1, tag: 'a', delta: 1 }, { shard: 2, tag: 'a', delta: 2 }],
      perShard: [{ shard: 1, changed: 1, versioned: 2 }, { shard: 2, changed: 2, versioned: 2 }],
      commitLsn: '0/9',
    };
    expect(share(r, new Set([2]))).toEqual({ changed: 2, versioned: 2, counterDeltas: [{ shard: 2, tag: 'a', delta: 2 }], perShard: [{ shard: 2, changed: 2, versioned: 2 }], commitLsn: '0/9' });
    expect(share(r, new Set([7]))).toMatchObject({ changed: 0, versioned: 0, counterDeltas: [], commitLsn: '0/9' });
  });
});
