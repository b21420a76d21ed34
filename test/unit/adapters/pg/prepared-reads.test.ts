// The read path's hot statements go to the server as prepared statements (a name per statement text), so a
// node parses and plans each once per connection; the write path and the rest are sent as before.
import { describe, expect, it } from 'vitest';
import type { QueryOptions, Queryable, Row } from '../../../../adapters/pg/queryable.ts';
import { ENTITIES_TAGS, ENTITY_TAGS, POPULAR_TAGS, STATEMENT_NAMES, entitiesTagsSql, entityTagsSql, popularTagsSql } from '../../../../adapters/pg/shard-sql.ts';

function recorder(rows: Row[] = []) {
  const calls: Array<{ text: string; name: string | undefined }> = [];
  const q: Queryable = {
    query: async <R extends Row>(text: string, _params?: unknown[], opts?: QueryOptions) => {
      calls.push({ text, name: opts?.name });
      return rows as R[];
    },
  };
  return { q, calls };
}

describe('prepared read statements', () => {
  it('entity tags, a batch of entities and popular tags are each sent under their own statement name', async () => {
    const r = recorder();
    await entityTagsSql(r.q, 3, 'e1');
    await entitiesTagsSql(r.q, [{ shard: 3, entity: 'e1' }, { shard: 4, entity: 'e2' }]);
    await popularTagsSql(r.q, 10);
    expect(r.calls).toEqual([
      { text: ENTITY_TAGS, name: STATEMENT_NAMES.entityTags },
      { text: ENTITIES_TAGS, name: STATEMENT_NAMES.entitiesTags },
      { text: POPULAR_TAGS, name: STATEMENT_NAMES.popularTags },
    ]);
  });

  it('the names are distinct (a server refuses one name for two texts)', () => {
    const names = Object.values(STATEMENT_NAMES);
    expect(new Set(names).size).toBe(names.length);
  });
});
