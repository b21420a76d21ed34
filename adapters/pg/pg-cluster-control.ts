// PgClusterControl: promotion, repointing and fencing over short-lived superuser connections, one per call,
// with tight timeouts so a hung node can never stall the failover monitor.
import pg from 'pg';
import { errorMessage } from '../../lib/errors.ts';
import type { ClusterControl, FenceMode, NodeProbe } from './port.ts';
import { PROBE_SQL, parseProbeRow, type ProbeRow } from './probe-sql.ts';

export interface PgClusterControlOptions {
  cluster: string;
  nodes: ReadonlyArray<{ name: string; host: string; port: number }>;
  user: string;
  password?: string;
  database: string;
  timeoutMs: number;
}

export class PgClusterControl implements ClusterControl {
  readonly cluster: string;
  readonly nodes: readonly string[];

  constructor(private readonly opts: PgClusterControlOptions) {
    this.cluster = opts.cluster;
    this.nodes = opts.nodes.map((n) => n.name);
  }

  private addr(node: string) {
    const n = this.opts.nodes.find((x) => x.name === node);
    if (!n) throw new Error(`${this.cluster}: unknown node ${node}`);
    return n;
  }

  private async withClient<T>(node: string, timeoutMs: number, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const a = this.addr(node);
    const client = new pg.Client({ host: a.host, port: a.port, user: this.opts.user, password: this.opts.password, database: this.opts.database, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, application_name: 'tagstream-control' });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await fn(client);
    } finally {
      void client.end().catch(() => undefined);
    }
  }

  async probeNode(node: string): Promise<NodeProbe> {
    try {
      return await this.withClient(node, this.opts.timeoutMs, async (c) => parseProbeRow(node, (await c.query<ProbeRow>(PROBE_SQL)).rows[0]!, this.opts.nodes));
    } catch (err) {
      return { name: node, up: false, error: errorMessage(err) };
    }
  }

  async promote(node: string, timeoutMs: number): Promise<void> {
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    await this.withClient(node, timeoutMs + 1_000, async (c) => {
      const inRecovery = (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r;
      if (!inRecovery) return; // already a primary (a retried promotion)
      const ok = (await c.query<{ ok: boolean }>('SELECT pg_promote(true, $1) AS ok', [seconds])).rows[0]!.ok;
      if (!ok) throw new Error(`${this.cluster}: ${node} did not finish promotion within ${seconds} s`);
    });
  }

  async repoint(replica: string, primary: string): Promise<void> {
    const p = this.addr(primary);
    const t = this.opts.timeoutMs * 3;
    const slot = await this.withClient(replica, t, async (c) => (await c.query<{ primary_slot_name: string }>('SHOW primary_slot_name')).rows[0]!.primary_slot_name);
    if (slot) {
      await this.withClient(primary, t, (c) => c.query('SELECT pg_create_physical_replication_slot($1) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)', [slot]));
    }
    const conninfo = [`host=${p.host}`, `port=${p.port}`, `user=${this.opts.user}`, ...(this.opts.password ? [`password=${this.opts.password}`] : []), `application_name=${replica}`].join(' ');
    await this.withClient(replica, t, async (c) => {
      await c.query(`ALTER SYSTEM SET primary_conninfo = ${literal(conninfo)}`);
      await c.query('SELECT pg_reload_conf()');
    });
  }

  async fence(node: string, how: FenceMode = 'read-only'): Promise<void> {
    await this.withClient(node, this.opts.timeoutMs, async (c) => {
      if (how === 'sessions') {
        await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name LIKE 'tagstream%' AND pid <> pg_backend_pid()");
        return;
      }
      await c.query("ALTER SYSTEM SET default_transaction_read_only = 'on'");
      await c.query('SELECT pg_reload_conf()');
      // Sessions opened before the reload keep their setting: end every client session but ours.
      await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");
    });
  }

  async streamingFrom(primary: string, replica: string): Promise<boolean> {
    const rows = await this.withClient(primary, this.opts.timeoutMs, async (c) => (await c.query("SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", [replica])).rows);
    return rows.length > 0;
  }

  async unfence(node: string): Promise<void> {
    await this.withClient(node, this.opts.timeoutMs, async (c) => {
      await c.query('ALTER SYSTEM RESET default_transaction_read_only');
      await c.query('SELECT pg_reload_conf()');
      // Sessions opened while fenced keep default_transaction_read_only = on: end them (pools reconnect).
      await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");
    });
  }

  async close(): Promise<void> {}
}

function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
