// Test-only PostgreSQL faults beyond services/: freeze the WAL senders of a primary so its async replicas
// stop receiving — the way to make the async-replication loss window visible on loopback.
import pg from 'pg';

export async function walSenderPids(port: number): Promise<number[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const r = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_replication');
    return r.rows.map((x) => x.pid);
  } finally {
    await c.end();
  }
}

export function signalAll(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export async function countRows(port: number, prefix: string): Promise<number> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'tagstream', connectionTimeoutMillis: 2_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const r = await c.query<{ n: string }>('SELECT count(*) AS n FROM tag_assoc WHERE entity LIKE $1', [`${prefix}%`]);
    return Number(r.rows[0]!.n);
  } finally {
    await c.end();
  }
}
