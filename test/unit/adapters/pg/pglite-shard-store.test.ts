// PgliteShardStore beyond the contract: the emulated cluster's faults (dead nodes, held replication,
// promotion), and that applyBatch is set-based (a fixed number of statements whatever the batch size).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedPgCluster } from '../../../../adapters/pg/embedded-pg-cluster.ts';
import { toPgError } from '../../../../adapters/pg/errors.ts';
import { compareLsn } from '../../../../adapters/pg/lsn.ts';
import { PgliteShardStore } from '../../../../adapters/pg/pglite-shard-store.ts';
import type { AssocWrite } from '../../../../adapters/pg/port.ts';
import type { Queryable } from '../../../../adapters/pg/queryable.ts';
import { TABLES, WRITE_TABLES } from '../../../../adapters/pg/schema.ts';
import { applyBatchSql } from '../../../../adapters/pg/shard-sql.ts';
import { classify } from '../../../../lib/classify.ts';
import { silentLogger } from '../../../../lib/logger.ts';

const nodes = ['c-n0', 'c-n1', 'c-n2'] as const;
const [n0, n1, n2] = nodes;
let embedded: EmbeddedPgCluster;
let store: PgliteShardStore;

const w = (entity: string, off: number, attached = true): AssocWrite => ({ shard: 7, entity, tag: 'T', attached, partition: 0, offset: String(off), at: 0 });

beforeAll(async () => {
  embedded = await EmbeddedPgCluster.create('c', [...nodes]);
}, 60_000);
afterAll(async () => {
  await embedded.close();
});
beforeEach(async () => {
  for (const n of nodes) {
    embedded.reviveNode(n);
    embedded.releaseReplication(n);
    embedded.demote(n);
  }
  embedded.promote(n0);
  store = new PgliteShardStore({ embedded, logger: silentLogger() });
  await store.migrate();
  await embedded.truncate([...WRITE_TABLES]);
  return () => store.close();
});

describe('PgliteShardStore faults', () => {
  it('a killed primary refuses writes with a retry-class connection error; probe says down; revive heals', async () => {
    embedded.killNode(n0);
    const err = await store.applyBatch([w('a', 1)]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ECONNREFUSED' });
    expect(classify(err).class).toBe('retry');
    const probes = await store.probe();
    expect(probes[0]).toMatchObject({ name: n0, up: false, error: expect.stringMatching(/ECONNREFUSED/) });
    expect(probes[1]).toMatchObject({ up: true, role: 'replica' });
    embedded.reviveNode(n0);
    expect((await store.applyBatch([w('a', 1)])).changed).toBe(1);
  });

  it('a killed replica is bypassed by reads', async () => {
    await store.applyBatch([w('a', 1)]);
    embedded.killNode(n1);
    const served = new Set<string>();
    for (let i = 0; i < 4; i++) served.add((await store.entityTags(7, 'a')).servedBy);
    expect(served.has(n1)).toBe(false);
    expect((await store.entityTags(7, 'a')).tags).toEqual(['T']);
  });

  it('a node killed in the middle of a transaction loses it', async () => {
    const conn = embedded.connect(n0);
    const err = await conn
      .session(async (q) => {
        await q.query('BEGIN');
        await q.query(`INSERT INTO tag_assoc VALUES ('mid', 'T', 7, true, 0, 1, now())`);
        embedded.killNode(n0);
        await q.query('COMMIT');
      })
      .catch((e: unknown) => e);
    // A raw connection of the emulated cluster is below the store's boundary: its error is the driver's own.
    expect(classify(toPgError(err)).class).toBe('retry');
    await conn.close();
    embedded.reviveNode(n0);
    expect(await store.shardRows(7)).toEqual([]);
  });

  it('held replication: the replica replay LSN stays behind until released', async () => {
    await embedded.holdReplication(n1);
    await embedded.holdReplication(n2);
    const { commitLsn } = await store.applyBatch([w('a', 1)]);
    const [p0, p1] = await store.probe();
    expect(compareLsn(p1!.replayLsn!, commitLsn)).toBeLessThan(0);
    expect(compareLsn(p0!.currentLsn!, commitLsn)).toBeGreaterThanOrEqual(0);
    expect(await store.replicatedTo(commitLsn)).toBe(false);
    embedded.releaseReplication(n2);
    expect(await store.replicatedTo(commitLsn)).toBe(true);
    expect(await store.entityTags(7, 'a', { minLsn: commitLsn })).toMatchObject({ servedBy: n2, role: 'replica', tags: ['T'] });
  });

  it('failover: promote n1, reroute, and the old primary (still up: split brain) gets nothing of ours', async () => {
    await store.applyBatch([w('a', 1)]);
    embedded.promote(n1);
    await store.setTopology({ primary: n1, replicas: [n2], fenced: [n0] });
    const callsBefore = embedded.callCount(n0);
    expect(embedded.connections(n0)).toBe(0);
    expect((await store.applyBatch([w('a', 2, false)])).changed).toBe(1);
    expect((await store.entityTags(7, 'a', { primary: true })).servedBy).toBe(n1);
    await store.probe();
    expect(embedded.callCount(n0)).toBe(callsBefore);
    expect(embedded.connections(n0)).toBe(0);
    expect(embedded.roleOf(n0)).toBe('primary');
  });

  it('a write routed to a standby fails with SQLSTATE 25006 (reroute)', async () => {
    await store.setTopology({ primary: n2, replicas: [n1], fenced: [] });
    const err = await store.applyBatch([w('a', 1)]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '25006' });
    expect(classify(err).class).toBe('reroute');
    // The failed read-only session left nothing behind for the next one.
    await store.setTopology({ primary: n0, replicas: [n1, n2], fenced: [] });
    expect((await store.applyBatch([w('a', 1)])).changed).toBe(1);
  });
});

describe('applyBatch is set-based', () => {
  it('runs the same statements for 1 row and for 3,000 rows', async () => {
    const count = async (writes: AssocWrite[]) => {
      const conn = embedded.connect(n0);
      const texts: string[] = [];
      await conn.session((q) => {
        const counting: Queryable = { query: (text, params) => (texts.push(text), q.query(text, params)) };
        return applyBatchSql(counting, writes);
      });
      await conn.close();
      return texts;
    };
    const one = await count([w('x', 1)]);
    const many = await count(Array.from({ length: 3_000 }, (_, i) => w(`e${i}`, 10 + i)));
    expect(many).toEqual(one);
    expect(one.length).toBe(5); // BEGIN, shard locks, the upsert, COMMIT, pg_current_wal_lsn()
  });

  it('rejects an offset that is not a non-negative integer before touching the database', async () => {
    await expect(store.applyBatch([{ ...w('a', 1), offset: '1e3' }])).rejects.toThrow(TypeError);
    await expect(store.applyBatch([{ ...w('a', 1), offset: '-1' }])).rejects.toThrow(TypeError);
  });
});

describe('counter deltas: appended by each batch, folded by foldCounters', () => {
  const deltaRows = async () => {
    const conn = embedded.connect(n0);
    try {
      return await conn.session((q) => q.query<{ shards: number[]; tags: string[]; deltas: number[] }>(`SELECT shards, tags, deltas FROM ${TABLES.countDeltas}`));
    } finally {
      await conn.close();
    }
  };

  it('a batch that changes counts appends one row of parallel arrays; one that changes none appends nothing', async () => {
    await store.applyBatch([w('a', 1), w('b', 1), { ...w('c', 1), shard: 8, tag: 'U' }]);
    expect(await deltaRows()).toEqual([{ shards: [7, 8], tags: ['T', 'U'], deltas: [2, 1] }]);
    await store.applyBatch([w('a', 1), w('b', 0)]);
    expect((await deltaRows()).length).toBe(1);
  });

  it('a fold empties the appended rows into tag_counts and says how many it folded; the next fold finds none', async () => {
    await store.applyBatch([w('a', 1)]);
    // Shard 7's attach and detach cancel out (not in the row); shard 8's attach is.
    await store.applyBatch([w('b', 2), w('a', 3, false), { ...w('c', 3), shard: 8 }]);
    expect(await store.foldCounters()).toBe(2);
    expect(await deltaRows()).toEqual([]);
    expect(await store.shardCounts(7)).toEqual([{ tag: 'T', count: 1 }]);
    expect(await store.shardCounts(8)).toEqual([{ tag: 'T', count: 1 }]);
    expect(await store.foldCounters()).toBe(0);
  });

  it('a fold on a dead primary fails retryably and loses nothing', async () => {
    await store.applyBatch([w('a', 1)]);
    embedded.killNode(n0);
    const err = await store.foldCounters().catch((e: unknown) => e);
    expect(classify(err).class).toBe('retry');
    embedded.reviveNode(n0);
    expect(await store.shardCounts(7)).toEqual([{ tag: 'T', count: 1 }]);
    expect(await store.foldCounters()).toBe(1);
  });
});
