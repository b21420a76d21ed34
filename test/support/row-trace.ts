// When a chaos test's final state differs from the log: where each differing row is on every node of every
// cluster (role, timeline, the row's position), asked on each node directly — fenced and diverged ones too. It
// tells a write that never reached any node (an offset committed past a command never applied) from one that
// exists only on a deposed primary (a replication proof that did not hold across the failover).
import pg from 'pg';
import type { Config } from '../../config/index.ts';

const ROW = `SELECT attached, kafka_partition, kafka_offset::text AS kafka_offset, xmin::text AS xmin FROM tag_assoc WHERE entity = $1 AND tag = $2`;
const ROLE = `SELECT pg_is_in_recovery() AS recovery, CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text ELSE pg_current_wal_lsn()::text END AS lsn, (SELECT timeline_id FROM pg_control_checkpoint()) AS tli`;

/** One line per node and key (keys as `entity|tag`, at most `limit` of them). */
export async function traceRows(config: Config, keys: readonly string[], limit = 8): Promise<string[]> {
  const lines: string[] = [];
  for (const c of config.postgres.clusters) {
    for (const n of c.nodes) {
      const client = new pg.Client({ host: n.host, port: n.port, user: c.user, password: c.password, database: c.database, connectionTimeoutMillis: 2_000, query_timeout: 5_000 });
      try {
        await client.connect();
        const role = (await client.query(ROLE)).rows[0] as { recovery: boolean; lsn: string; tli: number };
        const found: string[] = [];
        for (const k of keys.slice(0, limit)) {
          const [entity, tag] = k.split('|');
          const r = (await client.query(ROW, [entity, tag])).rows[0] as { attached: boolean; kafka_partition: number; kafka_offset: string; xmin: string } | undefined;
          if (r) found.push(`${k.split('|').map((s) => s.split('-').at(-1)).join('|')}=${r.attached}@${r.kafka_partition}/${r.kafka_offset}`);
        }
        lines.push(`${n.name} (${role.recovery ? 'standby' : 'primary'}, tli ${role.tli}, lsn ${role.lsn}): ${found.join(' ') || '-'}`);
      } catch (err) {
        lines.push(`${n.name}: ${String(err)}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  }
  return lines;
}
