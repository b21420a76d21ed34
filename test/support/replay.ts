// Replication lag on demand for read-your-writes tests: pause and resume WAL replay on the replicas of the
// real clusters (pg_wal_replay_pause), and read their replay positions. Replicas are found by asking each node.
import pg from 'pg';
import type { Config } from '../../config/index.ts';
import { compareLsn } from '../../adapters/pg/lsn.ts';

export interface NodeAddr {
  cluster: string;
  name: string;
  port: number;
}

async function query<R extends pg.QueryResultRow>(port: number, text: string): Promise<R[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2_000, statement_timeout: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query<R>(text)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Every node of every cluster that is in recovery (a replica) right now. */
export async function replicas(config: Pick<Config, 'postgres'>): Promise<NodeAddr[]> {
  const out: NodeAddr[] = [];
  for (const c of config.postgres.clusters) {
    for (const n of c.nodes) {
      const [row] = await query<{ r: boolean }>(n.port, 'SELECT pg_is_in_recovery() AS r').catch(() => [{ r: false }]);
      if (row?.r) out.push({ cluster: c.name, name: n.name, port: n.port });
    }
  }
  return out;
}

export async function pauseReplay(nodes: NodeAddr[]): Promise<void> {
  await Promise.all(nodes.map((n) => query(n.port, 'SELECT pg_wal_replay_pause()')));
}

/** Never throws: afterAll hooks call it to leave the services healthy whatever happened. */
export async function resumeReplay(nodes: NodeAddr[]): Promise<void> {
  await Promise.all(nodes.map((n) => query(n.port, 'SELECT pg_wal_replay_resume()').catch(() => undefined)));
}

export async function replayLsn(n: NodeAddr): Promise<string> {
  const [row] = await query<{ lsn: string }>(n.port, 'SELECT pg_last_wal_replay_lsn()::text AS lsn');
  return row!.lsn;
}

/** True once every given replica has replayed `lsn`. */
export async function allReplayed(nodes: NodeAddr[], lsn: string): Promise<boolean> {
  const positions = await Promise.all(nodes.map(replayLsn));
  return positions.every((p) => compareLsn(p, lsn) >= 0);
}
