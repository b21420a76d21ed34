// applyBatchSql on a pipelined session (PgShardStore's: node-postgres in pipeline mode) sends the whole write
// transaction in one flight. Run here on the embedded engine, whose session answers statements in the order
// they were sent: the same outcome as one statement at a time, and a failure anywhere writes nothing.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedPgCluster } from '../../../../adapters/pg/embedded-pg-cluster.ts';
import type { AssocWrite } from '../../../../adapters/pg/port.ts';
import type { Queryable } from '../../../../adapters/pg/queryable.ts';
import { TABLES, WRITE_TABLES } from '../../../../adapters/pg/schema.ts';
import { APPLY_BATCH, applyBatchSql, shardCountsSql, type PipelinedQueryable } from '../../../../adapters/pg/shard-sql.ts';
import { PgliteShardStore } from '../../../../adapters/pg/pglite-shard-store.ts';
import { silentLogger } from '../../../../lib/logger.ts';

const nodes = ['p-n0', 'p-n1'] as const;
let embedded: EmbeddedPgCluster;

const w = (shard: number, entity: string, off: number, attached = true): AssocWrite => ({ shard, entity, tag: 'T', attached, partition: 0, offset: String(off), at: 0 });

beforeAll(async () => {
  embedded = await EmbeddedPgCluster.create('p', [...nodes]);
  const store = new PgliteShardStore({ embedded, logger: silentLogger() });
  await store.migrate();
  await store.close();
}, 60_000);
afterAll(async () => {
  await embedded.close();
});
beforeEach(async () => {
  await embedded.truncate([...WRITE_TABLES]);
});

/** Runs `fn` on a session of the primary, its queries sent without waiting (recorded in `sent`, with how many
 *  had been answered when each was sent); `rewrite` may swap a statement's text. */
async function pipelined<T>(fn: (q: PipelinedQueryable) => Promise<T>, rewrite: (text: string) => string = (t) => t) {
  const conn = embedded.connect(nodes[0]);
  const sent: Array<{ text: string; answeredBefore: number }> = [];
  let answered = 0;
  try {
    const result = await conn.session((q: Queryable) =>
      fn({
        pipelined: true,
        query: (text, params) => {
          sent.push({ text, answeredBefore: answered });
          return q.query(rewrite(text), params).finally(() => answered++) as never;
        },
      }),
    );
    return { result, sent };
  } finally {
    await conn.close();
  }
}

async function rows(shard: number) {
  const conn = embedded.connect(nodes[0]);
  try {
    return await conn.session(async (q) => ({
      assoc: await q.query(`SELECT entity, attached, kafka_offset::text AS o FROM ${TABLES.assoc} WHERE shard = $1 ORDER BY entity`, [shard]),
      counts: (await shardCountsSql(q, shard)).map((c) => ({ tag: c.tag, n: c.count })),
    }));
  } finally {
    await conn.close();
  }
}

describe('applyBatchSql on a pipelined session', () => {
  it('sends BEGIN, the shard lock, the upsert, COMMIT and the WAL position before the first answer, and returns what a sequential session returns', async () => {
    const first = [w(1, 'a', 1), w(1, 'b', 2), w(1, 'c', 3, false)];
    const second = [w(1, 'a', 10, false), w(1, 'b', 1, false), w(1, 'd', 11)];
    const { result, sent } = await pipelined(async (q) => {
      await applyBatchSql(q, first);
      return applyBatchSql(q, second);
    });
    expect(sent.slice(5).map((s) => s.answeredBefore)).toEqual([5, 5, 5, 5, 5]); // the second batch's five, in one flight
    expect(sent.slice(5).map((s) => s.text.trim().split(/\s+/)[0])).toEqual(['BEGIN', 'SELECT', 'WITH', 'COMMIT', 'SELECT']);
    // Sequentially, on another shard, the same two batches.
    const conn = embedded.connect(nodes[0]);
    const sequential = await conn.session(async (q) => {
      await applyBatchSql(q, first.map((x) => ({ ...x, shard: 2 })));
      return applyBatchSql(q, second.map((x) => ({ ...x, shard: 2 })));
    });
    await conn.close();
    const { commitLsn: _a, ...p } = result;
    const { commitLsn: _b, ...s } = sequential;
    expect(p).toEqual({ ...s, perShard: s.perShard.map((x) => ({ ...x, shard: 1 })), counterDeltas: s.counterDeltas.map((x) => ({ ...x, shard: 1 })) });
    expect(result.commitLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(await rows(1)).toEqual({ ...(await rows(2)) });
    expect((await rows(1)).counts).toEqual([{ tag: 'T', n: 2 }]); // b (offset 1 < 2 loses) and d; a detached
  });

  it('a statement that fails aborts the transaction: the upsert sent after it writes nothing and the first error is thrown', async () => {
    await pipelined((q) => applyBatchSql(q, [w(3, 'kept', 1)]));
    const failLock = (text: string) => (text.includes('pg_advisory_xact_lock') ? 'SELECT 1 / 0 FROM (SELECT $1::text) s' : text);
    await expect(pipelined((q) => applyBatchSql(q, [w(3, 'kept', 5, false), w(3, 'new', 6)]), failLock)).rejects.toThrow(/division by zero/);
    expect((await rows(3)).assoc).toEqual([{ entity: 'kept', attached: true, o: '1' }]);
    expect((await rows(3)).counts).toEqual([{ tag: 'T', n: 1 }]);
    // The upsert itself failing (the COMMIT after it answers ROLLBACK, without an error) is thrown too.
    const failUpsert = (text: string) => (text === APPLY_BATCH ? 'SELECT 1 / 0 FROM (SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text) s' : text);
    await expect(pipelined((q) => applyBatchSql(q, [w(3, 'new', 7)]), failUpsert)).rejects.toThrow(/division by zero/);
    expect((await rows(3)).assoc).toHaveLength(1);
  });

  it('a malformed batch throws before anything is sent', async () => {
    const { sent } = await pipelined(async (q) => {
      await expect(applyBatchSql(q, [{ ...w(4, 'x', 1), offset: '-1' }])).rejects.toThrow(TypeError);
      return null;
    });
    expect(sent).toEqual([]);
  });
});
