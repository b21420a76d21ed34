// The topology epoch recorded on a cluster's primary itself (issue 14): after a decision (a promotion above
// all) the failover leader upserts it into a one-row-per-cluster table on the primary it names, never lowering
// it. A daemon that starts takes the higher of the control log's epoch and this one, so a lost or recreated
// control topic cannot make a new leader hand out an epoch the cluster has already seen.
import type { RecordedEpoch } from './port.ts';

export const EPOCH_TABLE = 'tagstream_topology_epoch';

export const CREATE_EPOCH_TABLE_SQL = `CREATE TABLE IF NOT EXISTS ${EPOCH_TABLE} (
  cluster text PRIMARY KEY,
  epoch bigint NOT NULL,
  daemon_id text NOT NULL,
  term integer NOT NULL,
  decision text NOT NULL,
  at timestamptz NOT NULL
)`;

/** Monotonic: an older epoch (a paused leader's late write) never replaces a newer one. */
export const RECORD_EPOCH_SQL = `INSERT INTO ${EPOCH_TABLE} (cluster, epoch, daemon_id, term, decision, at)
  VALUES ($1, $2, $3, $4, $5, to_timestamp($6::double precision / 1000))
  ON CONFLICT (cluster) DO UPDATE SET epoch = EXCLUDED.epoch, daemon_id = EXCLUDED.daemon_id, term = EXCLUDED.term,
    decision = EXCLUDED.decision, at = EXCLUDED.at
  WHERE ${EPOCH_TABLE}.epoch < EXCLUDED.epoch`;

/** Null when the table does not exist (no decision was ever recorded on this node). */
export const READ_EPOCH_SQL = `SELECT cluster, epoch::text AS epoch, daemon_id, term, decision, (extract(epoch FROM at) * 1000)::bigint::text AS at
  FROM ${EPOCH_TABLE} WHERE cluster = $1`;

/** SQLSTATE 42P01 undefined_table: nothing recorded here yet. */
export const UNDEFINED_TABLE = '42P01';

export interface EpochRow {
  cluster: string;
  epoch: string;
  daemon_id: string;
  term: number;
  decision: string;
  at: string;
}

export function recordParams(rec: RecordedEpoch): unknown[] {
  return [rec.cluster, rec.epoch, rec.daemonId, rec.term, rec.decision, rec.at];
}

export function parseEpochRow(row: EpochRow | undefined): RecordedEpoch | null {
  if (!row) return null;
  return { cluster: row.cluster, epoch: Number(row.epoch), daemonId: row.daemon_id, term: Number(row.term), decision: row.decision, at: Number(row.at) };
}
