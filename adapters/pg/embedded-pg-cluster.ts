// EmbeddedPgCluster: one PGlite instance that plays a whole cluster (a primary and its replicas), with the
// faults tests need. Replicas are views of the same data: a replica session is read-only (writes fail with
// SQLSTATE 25006 as on a real standby) and its replay LSN is the current one unless held back.
import { PGlite } from '@electric-sql/pglite';
import { TopologyChangedError } from '../../lib/errors.ts';
import type { NodeConn } from './node-conn.ts';
import type { NodeProbe } from './port.ts';
import type { Queryable, Row } from './queryable.ts';

export interface EmbeddedPgClusterOptions {
  /** PGlite dataDir (e.g. a directory path to persist); in memory when absent. */
  dataDir?: string;
}

/** A connection error as a socket would raise it: the store's boundary (toPgError) makes it a retry. */
export function connectionRefused(node: string): Error {
  const err = new Error(`connect ECONNREFUSED ${node} (embedded node is down)`) as Error & { code: string };
  err.code = 'ECONNREFUSED';
  return err;
}

export class EmbeddedPgCluster {
  readonly name: string;
  readonly nodes: readonly string[];
  private readonly db: PGlite;
  /** Nodes that act as primaries: more than one after a promotion that nobody fenced (split brain). */
  private readonly primaries = new Set<string>();
  private readonly killed = new Set<string>();
  private readonly held = new Map<string, string>();
  private readonly open = new Map<string, number>();
  private readonly calls = new Map<string, number>();
  /**
   * Emulated timelines: a promotion starts a new one (one higher than any seen); a replica follows the primary
   * on the newest timeline (it is repointed at once), so it reports that primary's timeline and upstream.
   */
  private readonly timelines = new Map<string, number>();
  /** PGlite has one backend: sessions take turns, so a transaction never interleaves with another session. */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(name: string, nodes: string[], db: PGlite) {
    this.name = name;
    this.nodes = [...nodes];
    this.db = db;
    this.primaries.add(nodes[0]!);
    for (const n of nodes) this.timelines.set(n, 1);
  }

  static async create(name: string, nodes: string[], opts: EmbeddedPgClusterOptions = {}): Promise<EmbeddedPgCluster> {
    if (nodes.length === 0) throw new TypeError(`${name}: a cluster needs at least one node`);
    const db = await PGlite.create(opts.dataDir ? { dataDir: opts.dataDir } : {});
    return new EmbeddedPgCluster(name, nodes, db);
  }

  // ── fault injection and emulated operations ────────────────────────────────────────────────────────────

  /** The node stops answering: every call to it fails with a connection error until reviveNode. */
  killNode(node: string): void {
    this.known(node);
    this.killed.add(node);
  }

  reviveNode(node: string): void {
    this.killed.delete(this.known(node));
  }

  /** Replication lag on demand: the replica's replay LSN stays where it is now (like pg_wal_replay_pause). */
  async holdReplication(node: string): Promise<void> {
    this.known(node);
    this.held.set(node, await this.currentLsn());
  }

  releaseReplication(node: string): void {
    this.held.delete(this.known(node));
  }

  /** pg_promote(): the node becomes a primary. The old primary stays one until someone fences it. */
  promote(node: string): void {
    if (!this.primaries.has(this.known(node))) this.timelines.set(node, Math.max(...this.timelines.values()) + 1);
    this.primaries.add(node);
    this.held.delete(node);
  }

  /** The node is rebuilt as a replica (pg_rewind of an old primary). */
  demote(node: string): void {
    this.primaries.delete(this.known(node));
  }

  /** The timeline the node is on: its own as a primary, its upstream's as a replica. */
  timelineOf(node: string): number {
    if (this.primaries.has(this.known(node))) return this.timelines.get(node)!;
    const up = this.upstreamOf(node);
    return up ? this.timelines.get(up)! : this.timelines.get(node)!;
  }

  /** The primary a replica streams from: the one on the newest timeline (null when there is none). */
  private upstreamOf(node: string): string | null {
    if (this.primaries.has(node)) return null;
    let best: string | null = null;
    for (const p of this.primaries) if (best === null || this.timelines.get(p)! > this.timelines.get(best)!) best = p;
    return best;
  }

  roleOf(node: string): 'primary' | 'replica' {
    return this.primaries.has(this.known(node)) ? 'primary' : 'replica';
  }

  /** Open pools of ours on the node (a test of fencing asserts 0). */
  connections(node: string): number {
    return this.open.get(this.known(node)) ?? 0;
  }

  /** Sessions ever run on the node. */
  callCount(node: string): number {
    return this.calls.get(this.known(node)) ?? 0;
  }

  /** Empties every table of ours (between tests). */
  async truncate(tables: string[]): Promise<void> {
    await this.exclusive(() => this.db.query(`TRUNCATE ${tables.join(', ')}`));
  }

  async close(): Promise<void> {
    await this.exclusive(() => this.db.close());
  }

  // ── what the embedded driver uses ──────────────────────────────────────────────────────────────────────

  connect(node: string): NodeConn {
    this.known(node);
    this.open.set(node, (this.open.get(node) ?? 0) + 1);
    let closed = false;
    return {
      node,
      session: (fn) => {
        if (closed) return Promise.reject(new TopologyChangedError(`${this.name}: connections to ${node} were closed (topology changed)`));
        return this.session(node, fn);
      },
      replayLsn: () => (closed ? Promise.reject(new TopologyChangedError(`${this.name}: connections to ${node} were closed`)) : this.replayLsn(node)),
      replayPoint: async () => {
        if (closed) throw new TopologyChangedError(`${this.name}: connections to ${node} were closed`);
        const lsn = await this.replayLsn(node);
        return { lsn, timeline: lsn === null ? null : this.timelineOf(node) };
      },
      writeTimeline: async () => this.timelineOf(node),
      close: async () => {
        if (closed) return;
        closed = true;
        this.open.set(node, (this.open.get(node) ?? 1) - 1);
      },
    };
  }

  async probe(node: string): Promise<NodeProbe> {
    if (this.killed.has(this.known(node))) return { name: node, up: false, latencyMs: 0, error: connectionRefused(node).message };
    const current = await this.currentLsn();
    const timeline = this.timelineOf(node);
    if (this.primaries.has(node)) {
      const replication = this.nodes.filter((n) => n !== node && !this.killed.has(n) && this.upstreamOf(n) === node).map((n) => ({ name: n, state: 'streaming', replayLsn: this.held.get(n) ?? current }));
      return { name: node, up: true, role: 'primary', currentLsn: current, timeline, replication, latencyMs: 0 };
    }
    const replay = this.held.get(node) ?? current;
    const upstream = this.upstreamOf(node);
    const streaming = upstream !== null && !this.killed.has(upstream);
    return {
      name: node,
      up: true,
      role: 'replica',
      receiveLsn: replay,
      replayLsn: replay,
      timeline,
      replayTimeline: timeline,
      receiver: { status: streaming ? 'streaming' : 'waiting', upstream, timeline },
      latencyMs: 0,
    };
  }

  private async replayLsn(node: string): Promise<string | null> {
    this.alive(node);
    if (this.primaries.has(node)) return null;
    return this.held.get(node) ?? (await this.currentLsn());
  }

  private async session<T>(node: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
    this.alive(node);
    this.calls.set(node, (this.calls.get(node) ?? 0) + 1);
    return this.exclusive(async () => {
      const readOnly = !this.primaries.has(node);
      if (readOnly) await this.db.query('SET default_transaction_read_only = on');
      const q: Queryable = {
        query: async <R extends Row>(text: string, params?: unknown[]) => {
          this.alive(node); // a node killed mid-session loses its connection (and its open transaction)
          return (await this.db.query<R>(text, params)).rows;
        },
      };
      try {
        return await fn(q);
      } catch (err) {
        await this.db.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        if (readOnly) await this.db.query('RESET default_transaction_read_only');
      }
    });
  }

  private async currentLsn(): Promise<string> {
    const res = await this.exclusive(() => this.db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'));
    return res.rows[0]!.lsn;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private alive(node: string): void {
    if (this.killed.has(node)) throw connectionRefused(node);
  }

  private known(node: string): string {
    if (!this.nodes.includes(node)) throw new TypeError(`${this.name}: unknown node ${node}`);
    return node;
  }
}
