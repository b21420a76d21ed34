// The narrow SQL surface shared by both shard stores: a session that runs one statement and returns rows.
// pg (a pooled client) and PGlite (one embedded instance) are both adapted to it, so the SQL cannot drift.

export type Row = Record<string, unknown>;

export interface QueryOptions {
  /**
   * A prepared statement's name: the server parses and plans the statement once per connection, then reuses the
   * plan (the read path's hot statements: a batch's parse and plan cost more than running it). Only for
   * constant statement texts; a store without prepared statements (PGlite) ignores it.
   */
  name?: string;
}

export interface Queryable {
  query<R extends Row = Row>(text: string, params?: unknown[], opts?: QueryOptions): Promise<R[]>;
}

/** Runs `fn` inside BEGIN … COMMIT on `q` (one session); rolls back and rethrows on error. */
export async function inTransaction<T>(q: Queryable, fn: () => Promise<T>): Promise<T> {
  await q.query('BEGIN');
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await q.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  await q.query('COMMIT');
  return result;
}
