// One-shot SQL against a launched PostgreSQL node over loopback TCP (trust auth), with short timeouts so a
// frozen or dead node answers "down" instead of hanging the launcher.
import pg from 'pg';

export interface NodeAddress {
  port: number;
  database?: string;
}

export async function query<R extends Record<string, unknown> = Record<string, unknown>>(
  node: NodeAddress,
  sql: string,
  params: unknown[] = [],
  opts: { timeoutMs?: number } = {},
): Promise<R[]> {
  const timeout = opts.timeoutMs ?? 5_000;
  const client = new pg.Client({
    host: '127.0.0.1',
    port: node.port,
    user: 'postgres',
    database: node.database ?? 'postgres',
    connectionTimeoutMillis: Math.min(timeout, 3_000),
    query_timeout: timeout,
    application_name: 'tagstream-services',
  });
  // A node killed mid-query emits 'error' on the client after the query already failed; swallow it here.
  client.on('error', () => undefined);
  try {
    await client.connect();
    const res = await client.query<R>(sql, params);
    return res.rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function queryOne<R extends Record<string, unknown>>(node: NodeAddress, sql: string, params: unknown[] = [], opts: { timeoutMs?: number } = {}): Promise<R> {
  const rows = await query<R>(node, sql, params, opts);
  const row = rows[0];
  if (!row) throw new Error(`no row from: ${sql}`);
  return row;
}

/** Quotes a string as an SQL literal (for ALTER SYSTEM, which takes no parameters). */
export function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** libpq connection string of a node, as a replica's primary_conninfo. */
export function conninfo(port: number, applicationName?: string): string {
  return `host=127.0.0.1 port=${port} user=postgres${applicationName ? ` application_name=${applicationName}` : ''}`;
}
