// The one probe query of a PostgreSQL node and its parsing, shared by the shard store's driver and the control
// plane: what decides routing (role, timeline, read-only setting, WAL receiver and senders) and the LSNs.
// pg_stat_wal_receiver and pg_stat_replication show their details to superusers and pg_read_all_stats
// (pg_monitor) only; without that role the primary's rows and the receiver come back empty, and a standby is
// then never proven to stream (no reads are routed to it).
import type { NodeProbe, ReplicationRow, WalReceiverProbe } from './port.ts';

// received_tli is read before and after the replay LSN: equal, it is the timeline that LSN was replayed on.
export const PROBE_SQL = `SELECT pg_is_in_recovery() AS recovery,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  (SELECT received_tli FROM pg_stat_wal_receiver) AS tli_before,
  pg_last_wal_replay_lsn()::text AS replay_lsn,
  (SELECT received_tli FROM pg_stat_wal_receiver) AS tli_after,
  CASE WHEN pg_is_in_recovery() THEN NULL
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline,
  CASE WHEN has_function_privilege('pg_control_checkpoint()', 'EXECUTE')
       THEN (SELECT timeline_id FROM pg_control_checkpoint()) END AS checkpoint_tli,
  current_setting('default_transaction_read_only')::boolean AS read_only,
  (SELECT json_build_object('status', status, 'host', sender_host, 'port', sender_port, 'tli', received_tli) FROM pg_stat_wal_receiver) AS receiver,
  (SELECT coalesce(json_agg(json_build_object('name', application_name, 'state', state, 'replay', replay_lsn::text)), '[]'::json) FROM pg_stat_replication) AS replication`;

/** The timeline and LSN a committed write landed on, asked on the writing session right after COMMIT. */
export const COMMIT_POINT_SQL = `SELECT pg_current_wal_lsn()::text AS lsn, ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli`;

/** The replay LSN of a standby and the timeline it was replayed on (null when not consistent or not a standby). */
export const REPLAY_POINT_SQL = `SELECT (SELECT received_tli FROM pg_stat_wal_receiver) AS a, pg_last_wal_replay_lsn()::text AS lsn, (SELECT received_tli FROM pg_stat_wal_receiver) AS b`;

export interface ProbeRow {
  recovery: boolean;
  current_lsn: string | null;
  receive_lsn: string | null;
  tli_before: number | null;
  replay_lsn: string | null;
  tli_after: number | null;
  timeline: number | null;
  checkpoint_tli: number | null;
  read_only: boolean;
  receiver: { status: string | null; host: string | null; port: number | null; tli: number | null } | null;
  replication: Array<{ name: string | null; state: string | null; replay: string | null }> | null;
}

export interface NodeAddress {
  name: string;
  host: string;
  port: number;
}

export function parseProbeRow(node: string, r: ProbeRow, nodes: readonly NodeAddress[]): NodeProbe {
  const p: NodeProbe = { name: node, up: true, role: r.recovery ? 'replica' : 'primary' };
  if (r.current_lsn) p.currentLsn = r.current_lsn;
  if (r.receive_lsn) p.receiveLsn = r.receive_lsn;
  if (r.replay_lsn) p.replayLsn = r.replay_lsn;
  const received = r.receiver?.tli ?? null;
  const timeline = r.recovery ? (received ?? r.checkpoint_tli) : (r.timeline ?? r.checkpoint_tli);
  if (timeline !== null && timeline !== undefined) p.timeline = Number(timeline);
  if (r.read_only) p.readOnly = true;
  if (r.recovery && r.tli_before !== null && r.tli_before === r.tli_after && r.replay_lsn) p.replayTimeline = Number(r.tli_before);
  if (r.receiver && r.receiver.status) {
    const rc: WalReceiverProbe = { status: r.receiver.status, upstream: upstreamOf(r.receiver.host, r.receiver.port, nodes) };
    if (received !== null) rc.timeline = Number(received);
    p.receiver = rc;
  }
  if (!r.recovery) {
    p.replication = (r.replication ?? []).filter((x) => x.name && x.state).map((x): ReplicationRow => ({ name: x.name!, state: x.state!, ...(x.replay ? { replayLsn: x.replay } : {}) }));
  }
  return p;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** The configured node a standby receives from: same host and port; loopback spellings are one host. */
export function upstreamOf(host: string | null, port: number | null, nodes: readonly NodeAddress[]): string | null {
  if (!host || port === null) return null;
  const same = (a: string, b: string) => a === b || (LOOPBACK.has(a) && LOOPBACK.has(b));
  return nodes.find((n) => n.port === Number(port) && same(n.host, host))?.name ?? null;
}
