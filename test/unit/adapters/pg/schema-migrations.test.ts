// Schema migrations on an embedded PostgreSQL (PGlite): a cluster that ran an older version keeps its rows when
// it is migrated to the current one, and the current schema is what the queries are written for.
import { PGlite } from '@electric-sql/pglite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Queryable } from '../../../../adapters/pg/queryable.ts';
import { migrate, migrations } from '../../../../adapters/pg/schema.ts';

let db: PGlite;
let q: Queryable;

beforeEach(async () => {
  db = new PGlite();
  q = { query: async (text, params) => (await db.query(text, params)).rows as never };
});
afterEach(async () => {
  await db.close();
});

const indexes = async () => (await q.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE tablename = 'tag_assoc' ORDER BY indexname`)).map((r) => r.indexdef.replace(/^.* USING btree /, ''));

describe('schema migrations', () => {
  it('a new cluster gets every version, and tag_assoc has one index: its key (shard, entity, tag)', async () => {
    expect(await migrate(q)).toEqual(migrations.map((m) => m.version));
    expect(await indexes()).toEqual(['(shard, entity, tag)']);
    expect(await migrate(q)).toEqual([]);
  });

  it('a cluster at version 1 keeps its rows when it moves to (shard, entity, tag)', async () => {
    await migrate(q, migrations.filter((m) => m.version === 1));
    expect(await indexes()).toEqual(['(entity, tag)', '(shard, entity, tag)']);
    await q.query(`INSERT INTO tag_assoc VALUES ('e1', 'a', 3, true, 0, 10, now()), ('e1', 'b', 3, false, 0, 11, now()), ('e2', 'a', 5, true, 1, 4, now())`);

    expect(await migrate(q)).toEqual(migrations.filter((m) => m.version > 1).map((m) => m.version));
    expect(await indexes()).toEqual(['(shard, entity, tag)']);
    expect(await q.query(`SELECT shard, entity, tag, attached FROM tag_assoc ORDER BY shard, entity, tag`)).toEqual([
      { shard: 3, entity: 'e1', tag: 'a', attached: true },
      { shard: 3, entity: 'e1', tag: 'b', attached: false },
      { shard: 5, entity: 'e2', tag: 'a', attached: true },
    ]);
    await expect(q.query(`INSERT INTO tag_assoc VALUES ('e1', 'a', 3, false, 0, 12, now())`)).rejects.toThrow(/duplicate key/);
  });
});
