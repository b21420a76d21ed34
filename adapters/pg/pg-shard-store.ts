// PgShardStore: a ShardStore over real PostgreSQL servers (node-postgres), one pool per node. Every wait is
// bounded (connect, statement on the server, read on the client) so a frozen server fails a call instead
// of hanging it. pg types stay inside this file.
import pg from 'pg';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { TopologyChangedError, errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { NodeConn, NodeDriver, ReplayPoint } from './node-conn.ts';
import type { NodeProbe } from './port.ts';
import { COMMIT_POINT_SQL, PROBE_SQL, REPLAY_POINT_SQL, parseProbeRow, type ProbeRow } from './probe-sql.ts';
import type { Queryable, QueryOptions, Row } from './queryable.ts';
import type { PipelinedQueryable } from './shard-sql.ts';
import { RoutedShardStore } from './routed-shard-store.ts';

export interface PgNodeAddress {
  name: string;
  host: string;
  port: number;
}

export interface PgShardStoreOptions {
  cluster: string;
  nodes: PgNodeAddress[];
  database: string;
  user: string;
  password?: string;
  /** Server-side statement_timeout; the client-side read timeout is this plus a small margin. */
  statementTimeoutMs: number;
  /** TCP connect + startup handshake. */
  connectTimeoutMs: number;
  /** Whole probe of one node (connect + one query). */
  probeTimeoutMs: number;
  poolSize: number;
  /** Shows in pg_stat_activity; tests use a unique one to count this store's connections. */
  applicationName?: string;
  logger: Logger;
  clock?: Clock;
}

/** Margin between the server's statement_timeout and our own read timeout, so the server's cleaner error wins. */
const READ_TIMEOUT_MARGIN_MS = 500;

export class PgShardStore extends RoutedShardStore {
  constructor(opts: PgShardStoreOptions) {
    super({ cluster: opts.cluster, nodes: opts.nodes.map((n) => n.name), driver: new PgDriver(opts), logger: opts.logger, clock: opts.clock });
  }
}

class PgDriver implements NodeDriver {
  private readonly byName: Map<string, PgNodeAddress>;
  private readonly clock: Clock;

  constructor(private readonly opts: PgShardStoreOptions) {
    this.byName = new Map(opts.nodes.map((n) => [n.name, n]));
    this.clock = opts.clock ?? systemClock;
  }

  private clientConfig(node: string, connectMs: number, statementMs: number, readMs: number): pg.ClientConfig {
    const a = this.byName.get(node);
    if (!a) throw new TypeError(`${this.opts.cluster}: unknown node ${node}`);
    return {
      host: a.host,
      port: a.port,
      database: this.opts.database,
      user: this.opts.user,
      password: this.opts.password,
      application_name: this.applicationName(),
      connectionTimeoutMillis: connectMs,
      statement_timeout: statementMs,
      query_timeout: readMs,
      idle_in_transaction_session_timeout: statementMs * 2,
      keepAlive: true,
    };
  }

  open(node: string): NodeConn {
    const o = this.opts;
    // Pipeline mode: a session may send statements without waiting for the previous answer (applyBatchSql
    // sends a whole write transaction in one flight); one awaited at a time, it behaves as before.
    const pool = new pg.Pool({ ...this.clientConfig(node, o.connectTimeoutMs, o.statementTimeoutMs, o.statementTimeoutMs + READ_TIMEOUT_MARGIN_MS), max: o.poolSize, idleTimeoutMillis: 30_000, pipeline: true });
    // An idle client whose server dies emits 'error' on the pool: without a listener it would crash the process.
    pool.on('error', (err) => o.logger.warn({ cluster: o.cluster, node, err: errorMessage(err) }, 'idle connection lost'));
    return new PgNodeConn(o.cluster, node, pool);
  }

  /**
   * One long-lived probe session per node (application_name `…-probe`), outside the pool so a probe never waits
   * behind busy clients. A fresh connection per probe forked a PostgreSQL backend for every node every probe
   * interval, on every daemon. A session that fails (killed by a fence, the server restarted) is dropped and the
   * probe retried at once on a fresh connection within what is left of its timeout; a probe that times out is
   * not retried: a frozen node is down.
   */
  private readonly probeSessions = new Map<string, pg.Client>();

  async probe(node: string): Promise<NodeProbe> {
    const t = this.opts.probeTimeoutMs;
    const started = this.clock.now();
    const kept = this.probeSessions.get(node);
    if (kept) {
      try {
        return this.probed(node, (await kept.query<ProbeRow>(PROBE_SQL)).rows[0]!, started);
      } catch (err) {
        this.dropProbeSession(node, kept);
        const left = t - (this.clock.now() - started);
        if (left < t / 2) return { name: node, up: false, latencyMs: this.clock.now() - started, error: errorMessage(err) || String(err) };
      }
    }
    const left = Math.max(1, t - (this.clock.now() - started));
    const client = new pg.Client({ ...this.clientConfig(node, left, t, t), application_name: `${this.applicationName()}-probe` });
    client.on('error', () => this.dropProbeSession(node, client));
    try {
      await client.connect();
      const res = await client.query<ProbeRow>(PROBE_SQL);
      if (this.closed) void client.end().catch(() => undefined);
      else this.probeSessions.set(node, client);
      return this.probed(node, res.rows[0]!, started);
    } catch (err) {
      destroy(client);
      return { name: node, up: false, latencyMs: this.clock.now() - started, error: errorMessage(err) || String(err) };
    }
  }

  private probed(node: string, row: ProbeRow, started: number): NodeProbe {
    const p = parseProbeRow(node, row, this.opts.nodes);
    p.latencyMs = this.clock.now() - started;
    return p;
  }

  private dropProbeSession(node: string, client: pg.Client): void {
    if (this.probeSessions.get(node) === client) this.probeSessions.delete(node);
    destroy(client);
  }

  private applicationName(): string {
    return this.opts.applicationName ?? `tagstream-${this.opts.cluster}`;
  }

  private closed = false;

  async close(): Promise<void> {
    this.closed = true;
    const sessions = [...this.probeSessions.values()];
    this.probeSessions.clear();
    await Promise.all(sessions.map((c) => c.end().catch(() => destroy(c))));
  }
}

class PgNodeConn implements NodeConn {
  private closed = false;
  /** Sessions checked out right now: close() drops their sockets (a fenced node may be hung). */
  private readonly active = new Set<pg.PoolClient>();

  constructor(
    private readonly cluster: string,
    readonly node: string,
    private readonly pool: pg.Pool,
  ) {}

  async session<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    if (this.closed) throw new TopologyChangedError(`${this.cluster}: connections to ${this.node} were closed (topology changed)`);
    const client = await this.pool.connect();
    if (this.closed) {
      client.release(true);
      throw new TopologyChangedError(`${this.cluster}: connections to ${this.node} were closed (topology changed)`);
    }
    this.active.add(client);
    // pg-pool listens for errors on idle clients only: a server that dies between two queries of our session
    // would emit 'error' on this checked-out client with nobody listening, and take the whole process down.
    let lost: Error | undefined;
    const onError = (err: Error) => (lost = err);
    client.on('error', onError);
    const q: PipelinedQueryable = {
      pipelined: true,
      query: async <R extends Row>(text: string, params?: unknown[], opts?: QueryOptions) => {
        if (lost) throw lost;
        return (await (opts?.name ? client.query<R>({ name: opts.name, text, values: params }) : client.query<R>(text, params))).rows;
      },
    };
    try {
      const result = await fn(q);
      client.removeListener('error', onError);
      client.release(lost ?? undefined);
      return result;
    } catch (err) {
      // The session may be mid-transaction or stuck behind a timed-out query: never hand it to someone else.
      client.removeListener('error', onError);
      client.release(err instanceof Error ? err : true);
      throw err;
    } finally {
      this.active.delete(client);
    }
  }

  async replayLsn(): Promise<string | null> {
    return (await this.replayPoint()).lsn;
  }

  async replayPoint(): Promise<ReplayPoint> {
    return this.session(async (q) => {
      const [row] = await q.query<{ a: number | null; lsn: string | null; b: number | null }>(REPLAY_POINT_SQL);
      const lsn = row?.lsn ?? null;
      return { lsn, timeline: lsn && row?.a != null && row.a === row.b ? Number(row.a) : null };
    });
  }

  async writeTimeline(q: Queryable): Promise<number | undefined> {
    const [row] = await q.query<{ tli: number | null }>(COMMIT_POINT_SQL);
    return row?.tli == null ? undefined : Number(row.tli);
  }

  /**
   * Fencing or shutdown. Sessions in flight are cut, not awaited: on a hung (frozen) node they would hold the
   * reroute for a whole statement timeout, and a dropped socket also keeps the rest of a half-sent transaction
   * from ever reaching the node (its backend rolls back when it finds the client gone).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.active) destroy(c);
    await this.pool.end();
  }
}

/** Drops the socket at once: end() would wait for a frozen server to answer the terminate message. */
function destroy(client: pg.Client): void {
  // `connection` is not in @types/pg; it is the client's protocol connection with its net.Socket.
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  stream?.destroy();
}
