// PgUsageStore: the usage roll-up in PostgreSQL, on the shard clusters, routed by tag (a tag's rows live on
// the cluster of shardOf(tag)). One statement per cluster both claims the commands' positions and bumps the
// hourly counters, so a position is counted exactly once however often it is re-delivered. Writes go to the
// cluster's current primary as the shard store knows it (never a fenced node). pg types stay in this file; pg's
// errors leave it classified (adapters/pg/errors.ts).
import pg from 'pg';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { toPgError } from '../pg/errors.ts';
import { COMMIT_POINT_SQL } from '../pg/probe-sql.ts';
import { uniqueByPosition, type RecordResult, type UsageCommit, type UsageEvent, type UsageQuery, type UsageRow, type UsageStore } from './port.ts';

export interface UsageCluster {
  name: string;
  nodes: Array<{ name: string; host: string; port: number }>;
  database: string;
  user: string;
  password?: string;
  /** Name of the node that takes writes right now (the shard store's topology). */
  primary: () => string;
}

export interface PgUsageStoreOptions {
  clusters: UsageCluster[];
  /** Cluster (by name) holding a tag's rows. */
  clusterOfTag: (tag: string) => string;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  poolSize?: number;
  logger: Logger;
}

/** Advisory lock (classid, objid) serializing concurrent migrators; the shard schema uses (7160, 0). */
const MIGRATE_LOCK = [7160, 1] as const;

const MIGRATION = [
  `CREATE TABLE IF NOT EXISTS tag_usage_hourly (
     tag text NOT NULL,
     hour timestamptz NOT NULL,
     attaches bigint NOT NULL DEFAULT 0,
     detaches bigint NOT NULL DEFAULT 0,
     PRIMARY KEY (tag, hour)
   )`,
  `CREATE TABLE IF NOT EXISTS tag_usage_positions (
     topic text NOT NULL,
     kafka_partition integer NOT NULL,
     kafka_offset bigint NOT NULL,
     counted_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (topic, kafka_partition, kafka_offset)
   )`,
  `CREATE INDEX IF NOT EXISTS tag_usage_positions_counted_at ON tag_usage_positions (counted_at)`,
];

// Positions newly claimed (RETURNING) are the only ones counted; the counters move in the same statement.
const RECORD = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::boolean[], $4::text[], $5::int[], $6::bigint[]) AS t(tag, hour_ms, attach, topic, p, o)
), fresh AS (
  INSERT INTO tag_usage_positions (topic, kafka_partition, kafka_offset)
  SELECT topic, p, o FROM input
  ON CONFLICT DO NOTHING
  RETURNING topic, kafka_partition, kafka_offset
), counted AS (
  SELECT i.tag, to_timestamp(i.hour_ms / 1000.0) AS hour,
         count(*) FILTER (WHERE i.attach) AS a, count(*) FILTER (WHERE NOT i.attach) AS d
  FROM input i JOIN fresh f ON f.topic = i.topic AND f.kafka_partition = i.p AND f.kafka_offset = i.o
  GROUP BY 1, 2
), bumped AS (
  INSERT INTO tag_usage_hourly AS h (tag, hour, attaches, detaches)
  SELECT tag, hour, a, d FROM counted ORDER BY tag, hour
  ON CONFLICT (tag, hour) DO UPDATE SET attaches = h.attaches + excluded.attaches, detaches = h.detaches + excluded.detaches
  RETURNING 1
)
SELECT (SELECT count(*) FROM fresh)::int AS counted`;

const USAGE = `
SELECT tag, (extract(epoch FROM hour) * 1000)::bigint AS hour_ms, attaches, detaches
FROM tag_usage_hourly
WHERE ($1::text IS NULL OR tag = $1)
  AND ($2::bigint IS NULL OR hour >= to_timestamp($2 / 1000.0))
  AND ($3::bigint IS NULL OR hour < to_timestamp($3 / 1000.0))
ORDER BY tag, hour
LIMIT $4`;

export class PgUsageStore implements UsageStore {
  private readonly pools = new Map<string, { node: string; pool: pg.Pool }>();
  private closed = false;

  constructor(private readonly opts: PgUsageStoreOptions) {}

  async migrate(): Promise<void> {
    await Promise.all(
      this.opts.clusters.map((c) =>
        this.session(c, async (client) => {
          await client.query('BEGIN');
          try {
            await client.query('SELECT pg_advisory_xact_lock($1, $2)', [...MIGRATE_LOCK]);
            for (const s of MIGRATION) await client.query(s);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw err;
          }
        }),
      ),
    );
  }

  async record(events: UsageEvent[]): Promise<RecordResult> {
    const { unique, repeated } = uniqueByPosition(events);
    const byCluster = new Map<string, UsageEvent[]>();
    for (const e of unique) {
      const name = this.opts.clusterOfTag(e.tag);
      let list = byCluster.get(name);
      if (!list) byCluster.set(name, (list = []));
      list.push(e);
    }
    // Clusters are independent: one that fails fails the call, and the retry re-counts nothing already claimed.
    const counts = await Promise.all(
      [...byCluster].map(([name, list]) =>
        this.session(this.cluster(name), async (client) => {
          const res = await client.query<{ counted: number }>(RECORD, [
            list.map((e) => e.tag),
            list.map((e) => String(e.hour)),
            list.map((e) => e.op === 'attach'),
            list.map((e) => e.topic),
            list.map((e) => e.partition),
            list.map((e) => e.offset),
          ]);
          // On the same session, after the statement committed: the position a replica must replay to keep it.
          const at = (await client.query<{ lsn: string; tli: number | null }>(COMMIT_POINT_SQL)).rows[0]!;
          const commit: UsageCommit = { cluster: name, lsn: at.lsn, ...(at.tli !== null ? { timeline: Number(at.tli) } : {}) };
          return { counted: Number(res.rows[0]?.counted ?? 0), commit };
        }),
      ),
    );
    const counted = counts.reduce((a, b) => a + b.counted, 0);
    return { counted, duplicates: repeated + unique.length - counted, commits: counts.map((c) => c.commit) };
  }

  async usage(q: UsageQuery = {}): Promise<UsageRow[]> {
    const clusters = q.tag !== undefined ? [this.cluster(this.opts.clusterOfTag(q.tag))] : this.opts.clusters;
    const limit = q.limit ?? 10_000;
    const parts = await Promise.all(
      clusters.map((c) =>
        this.session(c, async (client) => {
          const res = await client.query<{ tag: string; hour_ms: string; attaches: string; detaches: string }>(USAGE, [q.tag ?? null, q.from ?? null, q.to ?? null, limit]);
          return res.rows.map((r) => ({ tag: r.tag, hour: Number(r.hour_ms), attaches: Number(r.attaches), detaches: Number(r.detaches) }));
        }),
      ),
    );
    return parts
      .flat()
      .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : a.hour - b.hour))
      .slice(0, limit);
  }

  async prune(beforeMs: number): Promise<number> {
    const counts = await Promise.all(
      this.opts.clusters.map((c) => this.session(c, async (client) => (await client.query('DELETE FROM tag_usage_positions WHERE counted_at < to_timestamp($1 / 1000.0)', [beforeMs])).rowCount ?? 0)),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  async ping(): Promise<void> {
    await Promise.all(this.opts.clusters.map((c) => this.session(c, async (client) => void (await client.query('SELECT 1')))));
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.pool.end().catch(() => undefined)));
  }

  private cluster(name: string): UsageCluster {
    const c = this.opts.clusters.find((x) => x.name === name);
    if (!c) throw new TypeError(`usage store: unknown cluster ${name}`);
    return c;
  }

  /** Every call runs its SQL through here: the driver's errors leave classified (toPgError). */
  private async session<T>(c: UsageCluster, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    try {
      return await this.onPrimary(c, fn);
    } catch (err) {
      throw toPgError(err);
    }
  }

  /** A pooled session on the cluster's current primary; a pool on a node that stopped being primary is closed. */
  private async onPrimary<T>(c: UsageCluster, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw Object.assign(new Error('usage store closed'), { code: 'TS_ERR_SHUTTING_DOWN' });
    const primary = c.primary();
    let entry = this.pools.get(c.name);
    if (entry && entry.node !== primary) {
      const old = entry.pool;
      this.pools.delete(c.name);
      entry = undefined;
      void old.end().catch(() => undefined);
    }
    if (!entry) {
      const addr = c.nodes.find((n) => n.name === primary);
      if (!addr) throw new TypeError(`usage store: cluster ${c.name} has no node ${primary}`);
      const o = this.opts;
      const pool = new pg.Pool({
        host: addr.host,
        port: addr.port,
        database: c.database,
        user: c.user,
        password: c.password,
        application_name: `tagstream-analytics-${c.name}`,
        connectionTimeoutMillis: o.connectTimeoutMs,
        statement_timeout: o.statementTimeoutMs,
        query_timeout: o.statementTimeoutMs + 500,
        max: o.poolSize ?? 2,
        idleTimeoutMillis: 30_000,
      });
      pool.on('error', (err) => o.logger.warn({ cluster: c.name, node: primary, err: errorMessage(err) }, 'usage store: idle connection lost'));
      entry = { node: primary, pool };
      this.pools.set(c.name, entry);
    }
    const client = await entry.pool.connect();
    // pg-pool listens for errors on idle clients only: a server that dies (a killed primary) between two queries
    // of this session emits 'error' on the held client, and with nobody listening that ends the process.
    let lost: Error | undefined;
    const onError = (err: Error) => (lost = err);
    client.on('error', onError);
    try {
      const out = await fn(client);
      client.removeListener('error', onError);
      client.release(lost ?? undefined);
      return out;
    } catch (err) {
      client.removeListener('error', onError);
      client.release(err instanceof Error ? err : true);
      throw err;
    }
  }
}
