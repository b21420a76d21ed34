// The SQL of a shard cluster, shared by PgShardStore and PgliteShardStore. applyBatch is one set-based
// statement: unnest → keep the highest offset per (entity, tag) → previous state → insert the new rows, update
// the older ones (last writer wins by offset) → counter deltas of the rows whose attached state really changed.
import type { ApplyResult, AssocRow, AssocWrite, EntityKey, RowPosition } from './port.ts';
import { inTransaction, type Queryable } from './queryable.ts';

/** Advisory lock class of shard writers: two writers of one shard (a consumer-group rebalance) serialize. */
const SHARD_LOCK_CLASS = 7161;

const LOCK_SHARDS = `SELECT pg_advisory_xact_lock(${SHARD_LOCK_CLASS}, s) FROM unnest($1::int[]) AS s ORDER BY s`;

// `joined` reads the statement's snapshot; the shard lock taken before this statement guarantees that no other
// writer of these shards committed since, so it holds exactly the rows this batch replaces. Rows it did not find
// are plain INSERTs (no speculative insertion: a conflict there means a writer outside the shard lock, and the
// batch fails rather than guessing); rows it found are UPDATEd by key only when the command is newer. Each row
// of the batch is handled a bounded number of times: an earlier form joined the upserted rows back to their
// previous state, which the planner ran as batch × batch.
export const APPLY_BATCH = `
WITH input AS (
  SELECT * FROM unnest($1::smallint[], $2::text[], $3::text[], $4::boolean[], $5::integer[], $6::bigint[], $7::float8[])
    AS t(shard, entity, tag, attached, kafka_partition, kafka_offset, at_ms)
),
batch AS (
  SELECT DISTINCT ON (shard, entity, tag) shard, entity, tag, attached, kafka_partition, kafka_offset,
         to_timestamp(at_ms / 1000.0) AS updated_at
  FROM input
  ORDER BY shard, entity, tag, kafka_offset DESC
),
joined AS (
  SELECT b.*, a.attached AS was, a.kafka_offset AS old_offset
  FROM batch b LEFT JOIN tag_assoc a ON a.shard = b.shard AND a.entity = b.entity AND a.tag = b.tag
),
-- The two writes return nothing: what they change is known from joined (exact under the shard lock, see
-- above), and RETURNING materialized a tuple per row that was read back once. Neither is read below: a
-- data-modifying CTE runs to completion whether or not the main query reads it.
inserted AS (
  INSERT INTO tag_assoc (entity, tag, shard, attached, kafka_partition, kafka_offset, updated_at)
  SELECT entity, tag, shard, attached, kafka_partition, kafka_offset, updated_at FROM joined WHERE old_offset IS NULL
),
updated AS (
  UPDATE tag_assoc a
     SET attached = j.attached, kafka_partition = j.kafka_partition, kafka_offset = j.kafka_offset, updated_at = j.updated_at
    FROM joined j
   WHERE j.old_offset < j.kafka_offset AND a.shard = j.shard AND a.entity = j.entity AND a.tag = j.tag AND a.kafka_offset < j.kafka_offset
),
-- Every row the batch inserts or makes newer, with its counter delta.
changes AS (
  SELECT shard, tag, CASE WHEN old_offset IS NULL THEN attached::int ELSE attached::int - was::int END AS delta
  FROM joined WHERE old_offset IS NULL OR old_offset < kafka_offset
),
deltas AS (
  SELECT shard, tag, sum(delta)::integer AS delta FROM changes WHERE delta <> 0 GROUP BY shard, tag HAVING sum(delta) <> 0
),
-- One row per batch (the deltas as parallel arrays): reads add it to tag_counts until foldCounters folds it in.
counted AS (
  INSERT INTO tag_count_deltas (shards, tags, deltas)
  SELECT array_agg(shard), array_agg(tag), array_agg(delta) FROM deltas HAVING count(*) > 0
)
SELECT (SELECT coalesce(json_agg(json_build_object('shard', shard, 'tag', tag, 'delta', delta) ORDER BY shard, tag), '[]'::json)
          FROM deltas) AS deltas,
       (SELECT coalesce(json_agg(json_build_object('shard', shard, 'versioned', versioned, 'changed', changed) ORDER BY shard), '[]'::json)
          FROM (SELECT shard, count(*)::integer AS versioned, (count(*) FILTER (WHERE delta <> 0))::integer AS changed
                FROM changes GROUP BY shard) s) AS per_shard`;

export const CURRENT_LSN = `SELECT pg_current_wal_lsn()::text AS lsn`;

/**
 * The read path's statements run as prepared statements (parsed and planned once per connection): with Redis
 * down, thousands of entity reads a second become a few hundred batch queries a second per cluster, and for a
 * batch of a few entities PostgreSQL spent longer parsing and planning the query (~0.06 ms) than running it
 * (~0.04 ms). A name is for one text only; a new text needs a new name.
 */
export const STATEMENT_NAMES = { entityTags: 'tagstream_entity_tags_v1', entitiesTags: 'tagstream_entities_tags_v1', popularTags: 'tagstream_popular_tags_v1' } as const;

export const ENTITY_TAGS = `
SELECT coalesce(array_agg(tag ORDER BY tag), '{}') AS tags
FROM tag_assoc WHERE entity = $2 AND shard = $1 AND attached`;

export const ENTITIES_TAGS = `
SELECT a.entity, array_agg(a.tag ORDER BY a.tag) AS tags
FROM unnest($1::smallint[], $2::text[]) AS k(shard, entity)
JOIN tag_assoc a ON a.shard = k.shard AND a.entity = k.entity
WHERE a.attached GROUP BY a.entity`;

export const SHARD_ROWS = `
SELECT shard, entity, tag, attached, kafka_partition, kafka_offset::text AS kafka_offset
FROM tag_assoc WHERE shard = $1 ORDER BY entity, tag`;

// A counter is its folded row plus the deltas appended since the last fold, read in one snapshot: a fold is
// one statement, so a reader sees the deltas either still appended or already folded, never both or neither.
const UNFOLDED = `SELECT u.shard, u.tag, u.delta::bigint AS count
  FROM tag_count_deltas d CROSS JOIN LATERAL unnest(d.shards, d.tags, d.deltas) AS u(shard, tag, delta)`;

export const SHARD_COUNTS = `
SELECT tag, sum(count)::text AS count FROM (
  SELECT tag, count FROM tag_counts WHERE shard = $1
  UNION ALL SELECT tag, count FROM (${UNFOLDED}) x WHERE shard = $1
) c GROUP BY tag HAVING sum(count) <> 0 ORDER BY tag`;

export const POPULAR_TAGS = `
SELECT tag, sum(count)::text AS count FROM (
  SELECT tag, count FROM tag_counts UNION ALL SELECT tag, count FROM (${UNFOLDED}) x
) c GROUP BY tag HAVING sum(count) > 0
ORDER BY sum(count) DESC, tag LIMIT $1`;

// Takes every appended delta row this statement's snapshot sees and adds their sums to tag_counts, atomically.
// Writers only append, so rows committed meanwhile stay for the next fold. Two folds at once (two daemons): the
// second DELETE waits on the first's row locks and then skips the rows it deleted, so no delta counts twice.
export const FOLD_COUNTERS = `
WITH taken AS (
  DELETE FROM tag_count_deltas RETURNING shards, tags, deltas
),
sums AS (
  SELECT u.shard, u.tag, sum(u.delta)::bigint AS delta
  FROM taken CROSS JOIN LATERAL unnest(taken.shards, taken.tags, taken.deltas) AS u(shard, tag, delta)
  GROUP BY u.shard, u.tag HAVING sum(u.delta) <> 0
),
folded AS (
  INSERT INTO tag_counts AS c (shard, tag, count) SELECT shard, tag, delta FROM sums
  ON CONFLICT (shard, tag) DO UPDATE SET count = c.count + EXCLUDED.count
)
SELECT (SELECT count(*) FROM taken)::integer AS rows`;

export type BatchOutcome = Omit<ApplyResult, 'commitLsn'>;

/**
 * A session whose driver sends statements back to back without waiting for each answer (node-postgres'
 * pipeline mode): every statement is still answered in order, and an error in one aborts the transaction it
 * is in, so the statements after it fail and its COMMIT rolls back.
 */
export interface PipelinedQueryable extends Queryable {
  readonly pipelined: true;
}

function isPipelined(q: Queryable): q is PipelinedQueryable {
  return (q as Partial<PipelinedQueryable>).pipelined === true;
}

/** BEGIN; lock the batch's shards; the set-based upsert; COMMIT; then the WAL position on the same session. */
export async function applyBatchSql(q: Queryable, writes: AssocWrite[]): Promise<ApplyResult> {
  if (writes.length > 0 && isPipelined(q)) return applyBatchPipelined(q, writes);
  let outcome: BatchOutcome = { changed: 0, versioned: 0, counterDeltas: [], perShard: [] };
  if (writes.length > 0) {
    const params = applyBatchParams(writes);
    outcome = await inTransaction(q, async () => {
      await q.query(LOCK_SHARDS, [shardSet(writes)]);
      const [row] = await q.query<OutcomeRow>(APPLY_BATCH, params);
      return parseOutcome(row);
    });
  }
  const [lsn] = await q.query<{ lsn: string }>(CURRENT_LSN);
  return { ...outcome, commitLsn: String(lsn?.lsn) };
}

/**
 * The same five statements in one flight: the shard lock is held from the lock statement to COMMIT, and
 * answered one at a time those were three round trips in which the other writers of the cluster wait on the
 * lock while the server idles (on a loaded machine each round trip waits for two processes to be scheduled).
 * Sent together, the next transaction's statements are already in the server's socket when the lock frees.
 * If any statement fails, the ones after it in the transaction fail too and COMMIT answers ROLLBACK: nothing
 * is written, and the first error is thrown. BEGIN itself cannot fail on a live session (a dead one fails all
 * five), so the upsert never runs outside the transaction.
 */
async function applyBatchPipelined(q: PipelinedQueryable, writes: AssocWrite[]): Promise<ApplyResult> {
  // Parameters first: a malformed batch throws before anything is sent. The calls below are sent in call order.
  const params = applyBatchParams(writes);
  const shards = shardSet(writes);
  const begin = q.query('BEGIN');
  const lock = q.query(LOCK_SHARDS, [shards]);
  const applied = q.query<OutcomeRow>(APPLY_BATCH, params);
  const commit = q.query('COMMIT');
  const lsn = q.query<{ lsn: string }>(CURRENT_LSN);
  const settled = await Promise.allSettled([begin, lock, applied, commit, lsn]);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return { ...parseOutcome((await applied)[0]), commitLsn: String((await lsn)[0]?.lsn) };
}

/** The parameters of APPLY_BATCH for a batch ($1…$7). */
export function applyBatchParams(writes: AssocWrite[]): string[] {
  const c = columns(writes);
  return [c.shard, c.entity, c.tag, c.attached, c.partition, c.offset, c.at];
}

/**
 * The batch as seven array literals, built here in one pass: pg's generic array encoder (a prepareValue and two
 * regex replaces per element) was ~8% of the write path's CPU. Every text element is quoted, and escaped only if
 * it holds a quote or a backslash.
 */
function columns(writes: AssocWrite[]) {
  const n = writes.length;
  let shard = '{';
  let entity = '{';
  let tag = '{';
  let attached = '{';
  let partition = '{';
  let offset = '{';
  let at = '{';
  for (let i = 0; i < n; i++) {
    const w = writes[i]!;
    if (!/^\d{1,19}$/.test(w.offset)) throw new TypeError(`offset must be a non-negative integer string (got "${String(w.offset).slice(0, 32)}")`);
    if (!Number.isInteger(w.shard) || !Number.isInteger(w.partition) || !Number.isFinite(w.at)) throw new TypeError(`shard, partition and at must be numbers (got ${w.shard}, ${w.partition}, ${w.at})`);
    const sep = i === 0 ? '' : ',';
    shard += sep + w.shard;
    entity += sep + quoteElement(w.entity);
    tag += sep + quoteElement(w.tag);
    attached += w.attached ? `${sep}t` : `${sep}f`;
    partition += sep + w.partition;
    offset += sep + w.offset;
    at += sep + w.at;
  }
  return { shard: shard + '}', entity: entity + '}', tag: tag + '}', attached: attached + '}', partition: partition + '}', offset: offset + '}', at: at + '}' };
}

const NEEDS_ESCAPE = /["\\]/;

/** One element of a text[] literal: always quoted (so NULL, commas, braces and spaces are plain text). */
function quoteElement(s: string): string {
  return NEEDS_ESCAPE.test(s) ? `"${s.replace(/["\\]/g, '\\$&')}"` : `"${s}"`;
}

/** Distinct shards of the batch, as an int[] literal. */
function shardSet(writes: AssocWrite[]): string {
  return `{${[...new Set(writes.map((w) => w.shard))].join(',')}}`;
}

type OutcomeRow = { deltas: unknown; per_shard: unknown };

/** pg parses json columns, PGlite may hand them over as text. */
function jsonArray<T>(v: unknown): T[] {
  const raw = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
  return Array.isArray(raw) ? (raw as T[]) : [];
}

function parseOutcome(row: OutcomeRow | undefined): BatchOutcome {
  if (!row) return { changed: 0, versioned: 0, counterDeltas: [], perShard: [] };
  const deltas = jsonArray<{ shard: unknown; tag: unknown; delta: unknown }>(row.deltas);
  const perShard = jsonArray<{ shard: unknown; versioned: unknown; changed: unknown }>(row.per_shard).map((s) => ({ shard: Number(s.shard), versioned: Number(s.versioned), changed: Number(s.changed) }));
  return {
    // The batch's totals are its shards' sums (the statement no longer scans its changes twice more for them).
    versioned: perShard.reduce((n, s) => n + s.versioned, 0),
    changed: perShard.reduce((n, s) => n + s.changed, 0),
    counterDeltas: deltas.map((d) => ({ shard: Number(d.shard), tag: String(d.tag), delta: Number(d.delta) })),
    perShard,
  };
}

export async function entityTagsSql(q: Queryable, shard: number, entity: string): Promise<string[]> {
  const [row] = await q.query<{ tags: unknown }>(ENTITY_TAGS, [shard, entity], { name: STATEMENT_NAMES.entityTags });
  return Array.isArray(row?.tags) ? row.tags.map(String) : [];
}

/** Entities without an attached tag are absent from the rows: they map to []. */
export async function entitiesTagsSql(q: Queryable, keys: readonly EntityKey[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(keys.map((k) => [k.entity, []]));
  const rows = await q.query<{ entity: string; tags: unknown }>(ENTITIES_TAGS, [keys.map((k) => k.shard), keys.map((k) => k.entity)], { name: STATEMENT_NAMES.entitiesTags });
  for (const r of rows) out.set(r.entity, Array.isArray(r.tags) ? r.tags.map(String) : []);
  return out;
}

const ROW_POSITION = `
SELECT kafka_partition, kafka_offset::text AS kafka_offset, pg_current_wal_lsn()::text AS lsn
FROM tag_assoc WHERE shard = $1 AND entity = $2 AND tag = $3`;

/** The (partition, offset) of the row's last writer, and the node's WAL position as it was read; null: no row. */
export async function rowPositionSql(q: Queryable, shard: number, entity: string, tag: string): Promise<RowPosition | null> {
  const [r] = await q.query<{ kafka_partition: unknown; kafka_offset: unknown; lsn: unknown }>(ROW_POSITION, [shard, entity, tag]);
  return r ? { partition: Number(r.kafka_partition), offset: String(r.kafka_offset), lsn: String(r.lsn) } : null;
}

export async function shardRowsSql(q: Queryable, shard: number): Promise<AssocRow[]> {
  const rows = await q.query<{ shard: unknown; entity: string; tag: string; attached: boolean; kafka_partition: unknown; kafka_offset: unknown }>(SHARD_ROWS, [shard]);
  return rows.map((r) => ({ shard: Number(r.shard), entity: r.entity, tag: r.tag, attached: r.attached, partition: Number(r.kafka_partition), offset: String(r.kafka_offset) }));
}

export async function shardCountsSql(q: Queryable, shard: number): Promise<Array<{ tag: string; count: number }>> {
  const rows = await q.query<{ tag: string; count: unknown }>(SHARD_COUNTS, [shard]);
  return rows.map((r) => ({ tag: r.tag, count: Number(r.count) }));
}

/** Folds the appended counter deltas into tag_counts (on the primary); resolves with the delta rows folded. */
export async function foldCountersSql(q: Queryable): Promise<number> {
  const [row] = await q.query<{ rows: unknown }>(FOLD_COUNTERS);
  return Number(row?.rows ?? 0);
}

export async function popularTagsSql(q: Queryable, limit: number): Promise<Array<{ tag: string; count: number }>> {
  const rows = await q.query<{ tag: string; count: unknown }>(POPULAR_TAGS, [Math.max(0, Math.floor(limit))], { name: STATEMENT_NAMES.popularTags });
  return rows.map((r) => ({ tag: r.tag, count: Number(r.count) }));
}

