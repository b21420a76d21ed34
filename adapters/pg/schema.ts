// Idempotent, versioned schema of a shard cluster. Logical shards are rows (a `shard` column), not schemas:
// one table of associations and one of per-(shard, tag) counters serve every shard of the cluster.
import { inTransaction, type Queryable } from './queryable.ts';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const TABLES = { assoc: 'tag_assoc', counts: 'tag_counts', countDeltas: 'tag_count_deltas', migrations: 'schema_migrations' } as const;

/** The tables the write path fills (what a test or a bench empties between runs). */
export const WRITE_TABLES: readonly string[] = [TABLES.assoc, TABLES.counts, TABLES.countDeltas];

/** Advisory lock key (classid, objid) that serializes concurrent migrators (several daemons starting). */
const MIGRATE_LOCK = [7160, 0] as const;

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'associations and tag counters',
    statements: [
      `CREATE TABLE IF NOT EXISTS tag_assoc (
         entity text NOT NULL,
         tag text NOT NULL,
         shard smallint NOT NULL,
         attached boolean NOT NULL,
         kafka_partition integer NOT NULL,
         kafka_offset bigint NOT NULL,
         updated_at timestamptz NOT NULL,
         PRIMARY KEY (entity, tag)
       )`,
      // shardRows (reconcile) scans one shard in (entity, tag) order.
      `CREATE INDEX IF NOT EXISTS tag_assoc_shard_entity_tag ON tag_assoc (shard, entity, tag)`,
      `CREATE TABLE IF NOT EXISTS tag_counts (
         shard smallint NOT NULL,
         tag text NOT NULL,
         count bigint NOT NULL,
         PRIMARY KEY (shard, tag)
       )`,
    ],
  },
  {
    // One index instead of two: the shard is a function of the entity, so (shard, entity, tag) is as unique as
    // (entity, tag), and it serves every query (a batch's look-ups, an entity's tags, a shard's rows in order).
    // Every new association paid for two b-tree insertions and their WAL, replayed again by each replica.
    // On a populated table this rebuilds the key under an exclusive lock: writes wait until it is done.
    version: 2,
    name: 'associations keyed by (shard, entity, tag)',
    statements: [
      `ALTER TABLE tag_assoc DROP CONSTRAINT IF EXISTS tag_assoc_pkey`,
      `DROP INDEX IF EXISTS tag_assoc_shard_entity_tag`,
      `ALTER TABLE tag_assoc ADD CONSTRAINT tag_assoc_pkey PRIMARY KEY (shard, entity, tag)`,
    ],
  },
  {
    // A write batch appends its counter deltas as one row (three parallel arrays) instead of upserting a
    // tag_counts row per (shard, tag) it changed: ~320 look-ups, tuple locks and mostly non-HOT updates per
    // 2,500-command batch were the largest piece of the statement that is not per-row work. Reads sum
    // tag_counts and the deltas not yet folded; foldCounters moves the deltas into tag_counts in one statement.
    // No index: the table is only appended to, read whole and emptied by the fold.
    version: 3,
    name: 'counter deltas appended, folded later',
    statements: [
      `CREATE TABLE IF NOT EXISTS tag_count_deltas (
         shards smallint[] NOT NULL,
         tags text[] NOT NULL,
         deltas integer[] NOT NULL
       )`,
    ],
  },
];

/** Applies every migration not yet recorded, in one transaction under an advisory lock. Returns versions applied. */
export async function migrate(q: Queryable, list: Migration[] = migrations): Promise<number[]> {
  return inTransaction(q, async () => {
    await q.query('SELECT pg_advisory_xact_lock($1, $2)', [...MIGRATE_LOCK]);
    await q.query(`CREATE TABLE IF NOT EXISTS ${TABLES.migrations} (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set((await q.query<{ version: number }>(`SELECT version FROM ${TABLES.migrations}`)).map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of [...list].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      for (const s of m.statements) await q.query(s);
      await q.query(`INSERT INTO ${TABLES.migrations} (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
