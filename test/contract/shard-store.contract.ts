// One contract for every ShardStore: the embedded PgliteShardStore (project unit) and the real PgShardStore
// (project integration) must pass the same cases, so the stand-in cannot drift from the real thing.
// Tests isolate themselves with unique entities, tags and shard numbers (the real database is shared).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareLsn, lsnReached } from '../../adapters/pg/lsn.ts';
import type { AssocWrite, ShardStore } from '../../adapters/pg/port.ts';
import { classify } from '../../lib/classify.ts';

export interface ShardStoreHarness {
  /** A fresh store (never fenced anything) over a migrated 3-node cluster: nodes[0] primary, 1 and 2 replicas. */
  store: ShardStore;
  nodes: [string, string, string];
  /** Stop the replica replaying WAL (real: pg_wal_replay_pause()) until resumeReplay. */
  pauseReplay(node: string): Promise<void>;
  resumeReplay(node: string): Promise<void>;
  /** Connections of this harness' store currently open on `node`, as the server (or emulation) sees them. */
  connectionsTo(node: string): Promise<number>;
  /** Resolves when `check` returns true, polling (real servers) or at once (embedded). */
  eventually(check: () => Promise<boolean>, what: string): Promise<void>;
  dispose(): Promise<void>;
}

let seq = 0;
/** Unique per test and per run: entity, tag and shard names never collide with other tests or earlier runs. */
function ids() {
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const n = ++seq;
  return {
    entity: (i: number | string = 0) => `ent:${run}-${n}/${i}`,
    tag: (i: number | string = 0) => `Tag ${run}-${n}.${i}`,
    shard: 1000 + Math.floor(Math.random() * 30_000),
  };
}

export function shardStoreContract(name: string, make: () => Promise<ShardStoreHarness>): void {
  describe(`ShardStore contract: ${name}`, () => {
    let h: ShardStoreHarness;
    let store: ShardStore;
    let id: ReturnType<typeof ids>;
    let offset = 100;
    const w = (entity: string, tag: string, attached: boolean, off: number | string, shard = id.shard): AssocWrite => ({ shard, entity, tag, attached, partition: 3, offset: String(off), at: 1_700_000_000_000 + (Number(off) % 1e6) });

    beforeEach(async () => {
      h = await make();
      store = h.store;
      id = ids();
    });
    afterEach(async () => {
      await h.dispose();
    });

    it('migrate is idempotent', async () => {
      await store.migrate();
      await store.migrate();
      expect((await store.applyBatch([w(id.entity(), id.tag(), true, 1)])).changed).toBe(1);
    });

    it('last writer wins by offset: newer wins, older and duplicates change nothing', async () => {
      const [e, t] = [id.entity(), id.tag()];
      const first = await store.applyBatch([w(e, t, true, 10)]);
      expect(first).toMatchObject({ changed: 1, versioned: 1, counterDeltas: [{ shard: id.shard, tag: t, delta: 1 }] });
      expect(await store.applyBatch([w(e, t, false, 5)])).toMatchObject({ changed: 0, versioned: 0, counterDeltas: [] });
      expect(await store.applyBatch([w(e, t, true, 10)])).toMatchObject({ changed: 0, versioned: 0, counterDeltas: [] });
      expect((await store.entityTags(id.shard, e, { primary: true })).tags).toEqual([t]);

      expect(await store.applyBatch([w(e, t, true, 11)])).toMatchObject({ changed: 0, versioned: 1, counterDeltas: [] });
      expect(await store.applyBatch([w(e, t, false, 12)])).toMatchObject({ changed: 1, versioned: 1, counterDeltas: [{ shard: id.shard, tag: t, delta: -1 }] });
      expect((await store.entityTags(id.shard, e, { primary: true })).tags).toEqual([]);
      expect(await store.shardRows(id.shard)).toEqual([{ shard: id.shard, entity: e, tag: t, attached: false, partition: 3, offset: '12' }]);
      expect(await store.shardCounts(id.shard)).toEqual([]);
    });

    it('offsets compare as 64-bit integers, not as strings or doubles', async () => {
      const [e, t] = [id.entity(), id.tag()];
      await store.applyBatch([w(e, t, true, '9007199254740993')]);
      expect((await store.applyBatch([w(e, t, false, '9007199254740992')])).versioned).toBe(0);
      expect((await store.applyBatch([w(e, t, false, '10000000000000000')])).changed).toBe(1);
      expect((await store.shardRows(id.shard))[0]?.offset).toBe('10000000000000000');
    });

    it('a batch with several commands for one association keeps the highest offset', async () => {
      const [a, b, t] = [id.entity('a'), id.entity('b'), id.tag()];
      const r = await store.applyBatch([w(a, t, true, 3), w(a, t, false, 7), w(a, t, true, 5), w(b, t, false, 3), w(b, t, true, 9), w(b, t, false, 4)]);
      expect(r).toMatchObject({ changed: 1, versioned: 2, counterDeltas: [{ shard: id.shard, tag: t, delta: 1 }] });
      const rows = await store.shardRows(id.shard);
      expect(rows.map((x) => [x.entity, x.attached, x.offset])).toEqual([
        [a, false, '7'],
        [b, true, '9'],
      ]);
      expect(await store.shardCounts(id.shard)).toEqual([{ tag: t, count: 1 }]);
    });

    it('a batch of several shards (a group commit) reports changed and versioned per shard', async () => {
      const [a, b, c, t] = [id.entity('a'), id.entity('b'), id.entity('c'), id.tag()];
      const other = (id.shard + 1) % 64;
      await store.applyBatch([w(c, t, true, 1, other)]);
      const r = await store.applyBatch([w(a, t, true, 3), w(b, t, false, 4), w(c, t, true, 2, other), w(c, t, false, 5, other)]);
      expect(r).toMatchObject({ changed: 2, versioned: 3 });
      expect(r.perShard.sort((x, y) => x.shard - y.shard)).toEqual(
        [
          { shard: id.shard, changed: 1, versioned: 2 },
          { shard: other, changed: 1, versioned: 1 },
        ].sort((x, y) => x.shard - y.shard),
      );
    });

    it('counters move only on a real state change; a detach of an unknown association leaves a tombstone', async () => {
      const [e, f, t] = [id.entity('e'), id.entity('f'), id.tag()];
      await store.applyBatch([w(e, t, true, 1)]);
      expect((await store.applyBatch([w(e, t, true, 2)])).counterDeltas).toEqual([]);
      expect(await store.shardCounts(id.shard)).toEqual([{ tag: t, count: 1 }]);

      const detachUnknown = await store.applyBatch([w(f, t, false, 20)]);
      expect(detachUnknown).toMatchObject({ changed: 0, versioned: 1, counterDeltas: [] });
      expect((await store.shardRows(id.shard)).find((r) => r.entity === f)).toMatchObject({ attached: false, offset: '20' });
      // The older attach arrives late: the tombstone wins.
      expect(await store.applyBatch([w(f, t, true, 15)])).toMatchObject({ changed: 0, versioned: 0 });
      expect((await store.entityTags(id.shard, f, { primary: true })).tags).toEqual([]);
      expect(await store.shardCounts(id.shard)).toEqual([{ tag: t, count: 1 }]);

      expect((await store.applyBatch([w(f, t, true, 21)])).counterDeltas).toEqual([{ shard: id.shard, tag: t, delta: 1 }]);
      expect(await store.shardCounts(id.shard)).toEqual([{ tag: t, count: 2 }]);
    });

    it('sums deltas per (shard, tag) within a batch and omits those that cancel out', async () => {
      const [t1, t2] = [id.tag(1), id.tag(2)];
      const other = id.shard + 1;
      await store.applyBatch([w(id.entity('old'), t2, true, 1)]);
      const r = await store.applyBatch([w(id.entity(1), t1, true, 5), w(id.entity(2), t1, true, 5), w(id.entity(3), t1, true, 5, other), w(id.entity('old'), t2, false, 6), w(id.entity('new'), t2, true, 6)]);
      expect(r.changed).toBe(5);
      expect(r.counterDeltas).toEqual([
        { shard: id.shard, tag: t1, delta: 2 },
        { shard: other, tag: t1, delta: 1 },
      ]);
      expect(await store.shardCounts(id.shard)).toEqual([
        { tag: t1, count: 2 },
        { tag: t2, count: 1 },
      ]);
    });

    it('applies 5,000 rows in one call, and the same batch again changes nothing', async () => {
      const t = id.tag('bulk');
      const batch = Array.from({ length: 5_000 }, (_, i) => w(id.entity(i), t, true, 1_000 + i));
      const r = await store.applyBatch(batch);
      expect(r).toMatchObject({ changed: 5_000, versioned: 5_000, counterDeltas: [{ shard: id.shard, tag: t, delta: 5_000 }] });
      expect((await store.shardRows(id.shard)).length).toBe(5_000);
      expect(await store.applyBatch(batch)).toMatchObject({ changed: 0, versioned: 0, counterDeltas: [] });
      expect(await store.shardCounts(id.shard)).toEqual([{ tag: t, count: 5_000 }]);
    });

    it('concurrent batches on one shard: last writer wins per association and counters equal the attached rows', async () => {
      const t = id.tag();
      let seed = 42;
      const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
      const all: AssocWrite[] = [];
      const batches = Array.from({ length: 24 }, (_, b) =>
        Array.from({ length: 12 }, (_, i) => {
          const write = w(id.entity(Math.floor(rand() * 8)), t, rand() < 0.6, 1 + b * 12 + i);
          all.push(write);
          return write;
        }),
      );
      await Promise.all(batches.map((b) => store.applyBatch(b)));
      const latest = new Map<string, AssocWrite>();
      for (const x of all) if (Number(x.offset) > Number(latest.get(x.entity)?.offset ?? -1)) latest.set(x.entity, x);
      const rows = await store.shardRows(id.shard);
      expect(rows.map((r) => [r.entity, r.attached, r.offset])).toEqual([...latest.values()].sort((a, b) => (a.entity < b.entity ? -1 : 1)).map((x) => [x.entity, x.attached, x.offset]));
      const attached = rows.filter((r) => r.attached).length;
      expect(await store.shardCounts(id.shard)).toEqual(attached > 0 ? [{ tag: t, count: attached }] : []);
    });

    it('keeps entity names and tags with punctuation and non-ASCII letters intact', async () => {
      const e = `${id.entity()}:a,b{c}"d"\\e`;
      const tags = [`${id.tag()} Ünïcødé`, `${id.tag()} needs review`, 'NULL', `${id.tag()} {x}, "y" \\z`].sort();
      await store.applyBatch(tags.map((t, i) => w(e, t, true, 50 + i)));
      expect((await store.entityTags(id.shard, e, { primary: true })).tags).toEqual(tags);
      expect((await store.entityTags(id.shard + 1, e, { primary: true })).tags).toEqual([]);
    });

    it('entitiesTags answers several entities in one query, routed like entityTags; unknown ones map to []', async () => {
      const [e1, e2, e3] = [id.entity(1), id.entity(2), id.entity(3)];
      const [t1, t2] = [id.tag(1), id.tag(2)];
      const { commitLsn } = await store.applyBatch([w(e1, t2, true, 1), w(e1, t1, true, 1), w(e2, t1, true, 1), w(e2, t1, false, 2)]);
      const r = await store.entitiesTags([e1, e2, e3].map((entity) => ({ shard: id.shard, entity })), { minLsn: commitLsn });
      expect(r.tags).toEqual(new Map([[e1, [t1, t2]], [e2, []], [e3, []]]));
      if (r.role === 'primary') expect(r.servedBy).toBe(h.nodes[0]);
      else expect(lsnReached((await store.probe()).find((p) => p.name === r.servedBy)?.replayLsn, commitLsn)).toBe(true);
      expect((await store.entitiesTags([{ shard: id.shard + 1, entity: e1 }], { primary: true })).tags).toEqual(new Map([[e1, []]]));
      expect(await store.entitiesTags([{ shard: id.shard, entity: e1 }], { primary: true })).toEqual({ tags: new Map([[e1, [t1, t2]]]), servedBy: h.nodes[0], role: 'primary' });
    });

    it('folding the appended counter deltas changes no count, before or after more writes', async () => {
      const [t1, t2] = [id.tag('f1'), id.tag('f2')];
      await store.applyBatch([w(id.entity(1), t1, true, 1), w(id.entity(2), t1, true, 1), w(id.entity(3), t2, true, 1, id.shard + 1)]);
      const before = await store.shardCounts(id.shard);
      expect(before).toEqual([{ tag: t1, count: 2 }]);
      expect(await store.foldCounters()).toBeGreaterThanOrEqual(0);
      expect(await store.shardCounts(id.shard)).toEqual(before);
      // Folded counters and deltas appended after the fold add up; a detach takes a folded count down.
      await store.applyBatch([w(id.entity(1), t1, false, 2), w(id.entity(4), t1, true, 2), w(id.entity(5), t2, true, 2)]);
      expect(await store.shardCounts(id.shard)).toEqual([{ tag: t1, count: 2 }, { tag: t2, count: 1 }]);
      const top = await store.popularTags(100_000);
      expect([top.find((x) => x.tag === t1)?.count, top.find((x) => x.tag === t2)?.count]).toEqual([2, 2]);
      await store.foldCounters();
      expect(await store.shardCounts(id.shard)).toEqual([{ tag: t1, count: 2 }, { tag: t2, count: 1 }]);
      expect(await store.shardCounts(id.shard + 1)).toEqual([{ tag: t2, count: 1 }]);
      // A count that falls to zero is not listed, folded or not.
      await store.applyBatch([w(id.entity(5), t2, false, 3)]);
      expect(await store.shardCounts(id.shard)).toEqual([{ tag: t1, count: 2 }]);
      await store.foldCounters();
      expect(await store.shardCounts(id.shard)).toEqual([{ tag: t1, count: 2 }]);
    });

    it('folds racing the writes and each other count every delta exactly once', async () => {
      const t = id.tag('race');
      let seed = 7;
      const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
      const batches = Array.from({ length: 24 }, (_, b) => Array.from({ length: 12 }, (_, i) => w(id.entity(Math.floor(rand() * 10)), t, rand() < 0.6, 1 + b * 12 + i)));
      await Promise.all([...batches.map((b) => store.applyBatch(b)), ...Array.from({ length: 8 }, () => store.foldCounters())]);
      const attached = (await store.shardRows(id.shard)).filter((r) => r.attached).length;
      expect(await store.shardCounts(id.shard)).toEqual(attached > 0 ? [{ tag: t, count: attached }] : []);
      await Promise.all([store.foldCounters(), store.foldCounters()]);
      expect(await store.shardCounts(id.shard)).toEqual(attached > 0 ? [{ tag: t, count: attached }] : []);
    });

    it('popularTags sums the counters of every shard of the cluster, highest first', async () => {
      const [t1, t2] = [id.tag('pop1'), id.tag('pop2')];
      await store.applyBatch([w(id.entity(1), t1, true, 1), w(id.entity(2), t1, true, 1, id.shard + 1), w(id.entity(3), t1, true, 1, id.shard + 2), w(id.entity(4), t2, true, 1)]);
      const top = await store.popularTags(100_000);
      const counts = top.map((x) => x.count);
      expect(counts).toEqual([...counts].sort((a, b) => b - a));
      expect(top.find((x) => x.tag === t1)?.count).toBe(3);
      expect(top.find((x) => x.tag === t2)?.count).toBe(1);
      expect((await store.popularTags(1)).length).toBe(1);
    });

    it('commitLsn is a WAL position that never goes backwards', async () => {
      const t = id.tag();
      let prev = (await store.applyBatch([])).commitLsn;
      for (let i = 0; i < 5; i++) {
        const { commitLsn } = await store.applyBatch([w(id.entity(i), t, true, ++offset)]);
        expect(commitLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
        expect(compareLsn(commitLsn, prev)).toBeGreaterThan(0);
        prev = commitLsn;
      }
      expect(compareLsn((await store.applyBatch([])).commitLsn, prev)).toBeGreaterThanOrEqual(0);
    });

    it('replicatedTo becomes true once a replica has replayed the commit', async () => {
      const { commitLsn } = await store.applyBatch([w(id.entity(), id.tag(), true, 1)]);
      await h.eventually(() => store.replicatedTo(commitLsn), 'a replica replays the commit');
    });

    it('read-your-writes: with replay paused, a minLsn read goes to the primary and sees the write', async () => {
      const [e, t] = [id.entity(), id.tag()];
      const [, r1, r2] = h.nodes;
      await h.pauseReplay(r1);
      await h.pauseReplay(r2);
      try {
        const { commitLsn } = await store.applyBatch([w(e, t, true, 1)]);
        expect(await store.replicatedTo(commitLsn)).toBe(false);
        const ryw = await store.entityTags(id.shard, e, { minLsn: commitLsn });
        expect(ryw).toEqual({ tags: [t], servedBy: h.nodes[0], role: 'primary' });
        const any = await store.entityTags(id.shard, e);
        expect(any.role).toBe('replica');
        expect([r1, r2]).toContain(any.servedBy);
      } finally {
        await h.resumeReplay(r1);
        await h.resumeReplay(r2);
      }
      const { commitLsn } = await store.applyBatch([w(e, t, true, 2)]);
      await h.eventually(() => store.replicatedTo(commitLsn), 'replay resumes');
      const ryw = await store.entityTags(id.shard, e, { minLsn: commitLsn });
      expect(ryw.tags).toEqual([t]);
      // One replica has provably replayed; the other may still be catching up, so either may have served.
      if (ryw.role === 'replica') expect(lsnReached((await store.probe()).find((p) => p.name === ryw.servedBy)?.replayLsn, commitLsn)).toBe(true);
    });

    it('reads without a token are spread over the replicas; primary:true forces the primary', async () => {
      const e = id.entity();
      await store.applyBatch([w(e, id.tag(), true, 1)]);
      const served = new Set<string>();
      for (let i = 0; i < 6; i++) served.add((await store.entityTags(id.shard, e)).servedBy);
      expect([...served].sort()).toEqual([h.nodes[1], h.nodes[2]].sort());
      expect(await store.entityTags(id.shard, e, { primary: true })).toMatchObject({ servedBy: h.nodes[0], role: 'primary' });
    });

    it('probe reports the role and WAL positions of every node', async () => {
      const probes = await store.probe();
      expect(probes.map((p) => p.name)).toEqual(h.nodes);
      const [p0, p1, p2] = probes;
      expect(p0).toMatchObject({ up: true, role: 'primary' });
      expect(p0?.currentLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      for (const p of [p1, p2]) {
        expect(p).toMatchObject({ up: true, role: 'replica' });
        expect(p?.replayLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
        expect(p?.receiveLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      }
      for (const p of probes) expect(p.latencyMs).toBeGreaterThanOrEqual(0);
    });

    it('a fenced replica gets no connection, no read and no probe, and stays fenced', async () => {
      const [n0, n1, n2] = h.nodes;
      const e = id.entity();
      await store.applyBatch([w(e, id.tag(), true, 1)]);
      for (let i = 0; i < 4; i++) await store.entityTags(id.shard, e); // opens pools on both replicas
      expect(await h.connectionsTo(n2)).toBeGreaterThan(0);
      await store.setTopology({ primary: n0, replicas: [n1], fenced: [n2] });
      await h.eventually(async () => (await h.connectionsTo(n2)) === 0, 'the fenced node has no connection of ours');
      for (let i = 0; i < 6; i++) expect((await store.entityTags(id.shard, e)).servedBy).toBe(n1);
      const probes = await store.probe();
      expect(probes.find((p) => p.name === n2)).toMatchObject({ up: false, error: expect.stringMatching(/fenced/) });
      // Listing it as a replica again does not unfence it.
      await store.setTopology({ primary: n0, replicas: [n1, n2], fenced: [] });
      expect(store.topology()).toEqual({ primary: n0, replicas: [n1], fenced: [n2] });
      await expect(store.setTopology({ primary: n2, replicas: [n0, n1], fenced: [] })).rejects.toMatchObject({ code: 'TS_ERR_FENCED' });
      expect(await h.connectionsTo(n2)).toBe(0);
    });

    it('a fenced primary gets no write: writes go to the new primary only (or fail with a reroute)', async () => {
      const [n0, n1, n2] = h.nodes;
      const [e, t] = [id.entity(), id.tag()];
      await store.applyBatch([w(e, t, true, 1)]);
      expect(await h.connectionsTo(n0)).toBeGreaterThan(0);
      await store.setTopology({ primary: n1, replicas: [n2], fenced: [n0] });
      expect(store.topology()).toEqual({ primary: n1, replicas: [n2], fenced: [n0] });
      await h.eventually(async () => (await h.connectionsTo(n0)) === 0, 'the old primary has no connection of ours');
      // n1 was not promoted in this test: it is still a standby, so the write must fail, as a reroute.
      const err = await store.applyBatch([w(e, t, false, 2)]).then(
        () => null,
        (x: unknown) => x,
      );
      expect(err).toMatchObject({ name: 'BackendError', code: '25006' }); // classified at the store's boundary
      expect(classify(err).class).toBe('reroute');
      expect(await h.connectionsTo(n0)).toBe(0);
    });

    it('rejects a topology that names an unknown node', async () => {
      await expect(store.setTopology({ primary: 'nope', replicas: [], fenced: [] })).rejects.toThrow(/unknown node/);
    });
  });
}
