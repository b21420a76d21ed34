// PgClusterControl: promotion, repointing and fencing over short-lived superuser connections, one per call,
// with tight timeouts so a hung node can never stall the failover monitor.
import pg from 'pg';
import { systemClock, type Clock, type TimerHandle } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import { toPgError } from './errors.ts';
import type { ClusterControl, FenceMode, NodeProbe, RecordedEpoch } from './port.ts';
import { PROBE_SQL, parseProbeRow, type ProbeRow } from './probe-sql.ts';
import { CREATE_EPOCH_TABLE_SQL, parseEpochRow, READ_EPOCH_SQL, RECORD_EPOCH_SQL, recordParams, UNDEFINED_TABLE, type EpochRow } from './topology-epoch.ts';

export interface PgClusterControlOptions {
  cluster: string;
  nodes: ReadonlyArray<{ name: string; host: string; port: number }>;
  user: string;
  password?: string;
  database: string;
  timeoutMs: number;
  /** Times the sessions opened ahead of a promotion (default: the system clock). */
  clock?: Clock;
}

/** How long a session opened ahead of a promotion waits for it (the checks before it take well under this). */
const PREPARED_TTL_MS = 10_000;

export class PgClusterControl implements ClusterControl {
  readonly cluster: string;
  readonly nodes: readonly string[];

  /** Sessions opened ahead of a promotion (prepare), by node; taken by promote() on that node. */
  private readonly prepared = new Map<string, { opening: Promise<{ client: pg.Client; alive: boolean }>; timer: TimerHandle }>();
  private readonly clock: Clock;

  constructor(private readonly opts: PgClusterControlOptions) {
    this.cluster = opts.cluster;
    this.nodes = opts.nodes.map((n) => n.name);
    this.clock = opts.clock ?? systemClock;
  }

  private addr(node: string) {
    const n = this.opts.nodes.find((x) => x.name === node);
    if (!n) throw new Error(`${this.cluster}: unknown node ${node}`);
    return n;
  }

  /** Every call of the control plane goes through here: its driver errors leave classified (toPgError). */
  private async withClient<T>(node: string, timeoutMs: number, fn: (c: pg.Client) => Promise<T>, prepared = false): Promise<T> {
    try {
      return await this.onClient(node, timeoutMs, fn, prepared);
    } catch (err) {
      throw toPgError(err);
    }
  }

  private async onClient<T>(node: string, timeoutMs: number, fn: (c: pg.Client) => Promise<T>, prepared = false): Promise<T> {
    const client = (prepared ? await this.takePrepared(node) : null) ?? (await this.connect(node, timeoutMs));
    try {
      return await fn(client);
    } finally {
      void client.end().catch(() => undefined);
    }
  }

  private async connect(node: string, timeoutMs: number): Promise<pg.Client> {
    const a = this.addr(node);
    const client = new pg.Client({ host: a.host, port: a.port, user: this.opts.user, password: this.opts.password, database: this.opts.database, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, application_name: 'tagstream-control' });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      void client.end().catch(() => undefined);
      throw err;
    }
    return client;
  }

  /**
   * Opens the session of the promotion of `node` now (see ClusterControl.prepare), with the timeouts
   * promote(node, timeoutMs) uses. Only promote() takes it; one not taken within PREPARED_TTL_MS (the promotion
   * was abandoned) is closed, and a new prepare() replaces an older one: a session is never reused later.
   */
  prepare(node: string, timeoutMs: number): void {
    if (!this.nodes.includes(node)) return;
    this.dropPrepared(node);
    const opening = this.connect(node, timeoutMs + 1_000).then((client) => {
      const session = { client, alive: true };
      client.on('end', () => (session.alive = false));
      client.on('error', () => (session.alive = false));
      return session;
    });
    opening.catch(() => undefined);
    const timer = this.clock.setTimeout(() => this.dropPrepared(node, opening), PREPARED_TTL_MS);
    this.prepared.set(node, { opening, timer });
  }

  private dropPrepared(node: string, only?: Promise<{ client: pg.Client }>): void {
    const p = this.prepared.get(node);
    if (!p || (only && p.opening !== only)) return;
    this.prepared.delete(node);
    this.clock.clearTimeout(p.timer);
    void p.opening.then((s) => s.client.end()).catch(() => undefined);
  }

  /** The session prepare() opened for `node` if it opened and is still alive; else null (connect as usual). */
  private async takePrepared(node: string): Promise<pg.Client | null> {
    const p = this.prepared.get(node);
    if (!p) return null;
    this.prepared.delete(node);
    this.clock.clearTimeout(p.timer);
    const session = await p.opening.catch(() => null);
    if (session?.alive) return session.client;
    void session?.client.end().catch(() => undefined);
    return null;
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
    await this.withClient(
      node,
      timeoutMs + 1_000,
      async (c) => {
        const inRecovery = (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r;
        if (!inRecovery) return; // already a primary (a retried promotion)
        const ok = (await c.query<{ ok: boolean }>('SELECT pg_promote(true, $1) AS ok', [seconds])).rows[0]!.ok;
        if (!ok) throw new Error(`${this.cluster}: ${node} did not finish promotion within ${seconds} s`);
      },
      true, // the session prepare() opened for it, if any
    );
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

  async recordEpoch(node: string, rec: RecordedEpoch): Promise<void> {
    await this.withClient(node, this.opts.timeoutMs, async (c) => {
      await c.query(CREATE_EPOCH_TABLE_SQL);
      await c.query(RECORD_EPOCH_SQL, recordParams(rec));
    });
  }

  async readEpoch(node: string): Promise<RecordedEpoch | null> {
    return this.withClient(node, this.opts.timeoutMs, async (c) => {
      try {
        return parseEpochRow((await c.query<EpochRow>(READ_EPOCH_SQL, [this.cluster])).rows[0]);
      } catch (err) {
        if ((err as { code?: unknown }).code === UNDEFINED_TABLE) return null;
        throw err;
      }
    });
  }

  /** Ends the sessions prepared and never used. */
  async close(): Promise<void> {
    for (const node of [...this.prepared.keys()]) this.dropPrepared(node);
  }
}

function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
