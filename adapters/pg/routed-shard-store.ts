// The routing half of a ShardStore, shared by the real and the embedded one: writes go to the current
// primary only; reads go to a replica that provably replayed the reader's LSN, else to the primary;
// fenced nodes (old primaries) are never connected to again (contract 4).
import { classify } from '../../lib/classify.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { ErrorCodes, TagstreamError, errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { lsnReached, maxLsn } from './lsn.ts';
import type { NodeConn, NodeDriver } from './node-conn.ts';
import type { ApplyResult, AssocRow, AssocWrite, EntitiesTags, EntityKey, EntityTags, NodeProbe, ReadOptions, ShardStore, Topology } from './port.ts';
import type { Queryable } from './queryable.ts';
import { migrate } from './schema.ts';
import { applyBatchSql, entitiesTagsSql, entityTagsSql, popularTagsSql, shardCountsSql, shardRowsSql } from './shard-sql.ts';

export interface RoutedShardStoreOptions {
  cluster: string;
  /** Every node of the cluster; the first is the initial primary, the others its replicas. */
  nodes: string[];
  driver: NodeDriver;
  logger: Logger;
  clock?: Clock;
  /** How long a replica that failed a read is left out before it is tried again (a probe clears it sooner). */
  replicaRetryMs?: number;
}

export class FencedNodeError extends TagstreamError {
  constructor(cluster: string, node: string) {
    super(ErrorCodes.FENCED, `${cluster}: node ${node} is fenced; no connection of ours may reach it`, { retriable: true, details: { cluster, node } });
    this.name = 'FencedNodeError';
  }
}

type Route = { node: string; role: 'primary' | 'replica' };

export class RoutedShardStore implements ShardStore {
  readonly cluster: string;
  protected readonly nodes: readonly string[];
  protected readonly log: Logger;
  private readonly driver: NodeDriver;
  private readonly clock: Clock;
  private readonly replicaRetryMs: number;
  private topo: { primary: string; replicas: string[] };
  private readonly fenced = new Set<string>();
  private readonly conns = new Map<string, NodeConn>();
  /** Highest replay LSN seen per replica (probe or on-the-fly check); replay positions only move forward. */
  private readonly replayed = new Map<string, string>();
  private readonly downUntil = new Map<string, number>();
  private readonly replayQuery = new Map<string, Promise<string | null>>();
  private rr = 0;
  private closed = false;

  constructor(opts: RoutedShardStoreOptions) {
    if (opts.nodes.length === 0) throw new TypeError(`${opts.cluster}: a cluster needs at least one node`);
    if (new Set(opts.nodes).size !== opts.nodes.length) throw new TypeError(`${opts.cluster}: node names must be unique`);
    this.cluster = opts.cluster;
    this.nodes = [...opts.nodes];
    this.driver = opts.driver;
    this.log = opts.logger;
    this.clock = opts.clock ?? systemClock;
    this.replicaRetryMs = opts.replicaRetryMs ?? 5_000;
    this.topo = { primary: opts.nodes[0]!, replicas: opts.nodes.slice(1) };
  }

  async migrate(): Promise<void> {
    const applied = await this.onPrimary((q) => migrate(q));
    if (applied.length > 0) this.log.info({ cluster: this.cluster, applied }, 'schema migrated');
  }

  applyBatch(writes: AssocWrite[]): Promise<ApplyResult> {
    return this.onPrimary((q) => applyBatchSql(q, writes));
  }

  async entityTags(shard: number, entity: string, opts: ReadOptions = {}): Promise<EntityTags> {
    const { value, route } = await this.read(opts, (q) => entityTagsSql(q, shard, entity));
    return { tags: value, servedBy: route.node, role: route.role };
  }

  async entitiesTags(keys: readonly EntityKey[], opts: ReadOptions = {}): Promise<EntitiesTags> {
    const { value, route } = await this.read(opts, (q) => entitiesTagsSql(q, keys));
    return { tags: value, servedBy: route.node, role: route.role };
  }

  async popularTags(limit: number): Promise<Array<{ tag: string; count: number }>> {
    return (await this.read({}, (q) => popularTagsSql(q, limit))).value;
  }

  // Reconcile and the checker compare against the authoritative copy: the primary.
  shardRows(shard: number): Promise<AssocRow[]> {
    return this.onPrimary((q) => shardRowsSql(q, shard));
  }

  shardCounts(shard: number): Promise<Array<{ tag: string; count: number }>> {
    return this.onPrimary((q) => shardCountsSql(q, shard));
  }

  async replicatedTo(lsn: string, opts: { all?: boolean } = {}): Promise<boolean> {
    if (opts.all) {
      // Every replica must answer: one marked down is asked too (it holds the commit rather than being skipped).
      const replicas = this.liveReplicas();
      if (replicas.length === 0) return false;
      const checks = await Promise.all(replicas.map((r) => this.replicaReached(r, lsn).catch(() => false)));
      return checks.every(Boolean);
    }
    if (this.liveReplicas().some((r) => lsnReached(this.replayed.get(r), lsn))) return true;
    // Replicas marked down are not asked: a frozen one would hold every caller for a whole timeout.
    const checks = await Promise.all(
      this.healthyReplicas().map((r) =>
        this.replicaReached(r, lsn).catch((err: unknown) => {
          this.replicaFailure(r, err);
          return false;
        }),
      ),
    );
    return checks.some(Boolean);
  }

  async probe(): Promise<NodeProbe[]> {
    return Promise.all(
      this.nodes.map(async (name): Promise<NodeProbe> => {
        if (this.fenced.has(name)) return { name, up: false, error: 'fenced: not probed, no connection of ours may reach it' };
        const p = await this.driver.probe(name);
        if (p.up) this.downUntil.delete(name);
        if (p.up && p.replayLsn) this.noteReplay(name, p.replayLsn);
        return p;
      }),
    );
  }

  /**
   * Nodes that accept writes (up, not in recovery, not read-only) are primary candidates: the one on the
   * newest timeline leads (ties: configured order); any other candidate is an old primary that came back
   * diverged and is fenced. A read-only non-replica (fenced by a failover) is fenced too. Replicas and
   * unreachable nodes stay replicas. No candidate at all (the primary is down at start): the current
   * topology stays, and the failover monitor takes it from there.
   */
  async discoverPrimary(): Promise<Topology> {
    const probes = await this.probe();
    const writable = probes
      .map((p, i) => ({ p, i }))
      .filter(({ p }) => p.up && p.role === 'primary' && !p.readOnly)
      .sort((a, b) => (b.p.timeline ?? 0) - (a.p.timeline ?? 0) || a.i - b.i);
    const leader = writable[0]?.p.name;
    if (!leader) {
      this.log.warn({ cluster: this.cluster, probes: probes.map((p) => ({ node: p.name, up: p.up, role: p.role, error: p.error })) }, 'no node accepts writes at start: keeping the configured primary');
      return this.topology();
    }
    const fenced = probes.filter((p) => p.name !== leader && p.up && p.role === 'primary').map((p) => p.name);
    const replicas = this.nodes.filter((n) => n !== leader && !fenced.includes(n) && !this.fenced.has(n));
    if (leader === this.topo.primary && fenced.length === 0) return this.topology();
    this.log.warn({ cluster: this.cluster, configured: this.topo.primary, primary: leader, fenced }, 'the primary is not the configured one (a failover happened before this start): following it');
    await this.setTopology({ primary: leader, replicas, fenced: [...new Set([...this.fenced, ...fenced])] });
    return this.topology();
  }

  topology(): Topology {
    return { primary: this.topo.primary, replicas: [...this.topo.replicas], fenced: [...this.fenced] };
  }

  async setTopology(t: Topology): Promise<void> {
    const unknown = [t.primary, ...t.replicas, ...t.fenced].filter((n) => !this.nodes.includes(n));
    if (unknown.length > 0) throw new TypeError(`${this.cluster}: unknown node(s) ${unknown.join(', ')}`);
    if (t.fenced.includes(t.primary) || this.fenced.has(t.primary)) throw new FencedNodeError(this.cluster, t.primary);
    // Fencing is sticky: a node fenced once stays fenced for the life of this store, whatever comes later.
    const newlyFenced = t.fenced.filter((n) => !this.fenced.has(n));
    for (const n of newlyFenced) this.fenced.add(n);
    const ignored = t.replicas.filter((n) => this.fenced.has(n));
    if (ignored.length > 0) this.log.warn({ cluster: this.cluster, ignored }, 'fenced nodes listed as replicas stay fenced');
    const before = this.topo.primary;
    this.topo = { primary: t.primary, replicas: [...new Set(t.replicas.filter((n) => !this.fenced.has(n) && n !== t.primary))] };
    // A new primary means a new timeline: replicas may be rewound below what we saw, so forget every position.
    if (before !== t.primary) this.replayed.clear();
    this.log.info({ cluster: this.cluster, primary: t.primary, replicas: this.topo.replicas, fenced: [...this.fenced] }, 'topology set');
    // Detach first (synchronously) so nothing new can pick these pools up, then wait for in-flight work to end.
    const closing: NodeConn[] = [];
    for (const n of newlyFenced) {
      const c = this.conns.get(n);
      if (c) closing.push(c);
      this.conns.delete(n);
      this.replayed.delete(n);
    }
    await Promise.all(closing.map((c) => c.close().catch((err) => this.log.warn({ cluster: this.cluster, node: c.node, err: errorMessage(err) }, 'closing a fenced node'))));
  }

  async readmit(node: string): Promise<void> {
    if (!this.nodes.includes(node)) throw new TypeError(`${this.cluster}: unknown node ${node}`);
    const was = this.fenced.delete(node);
    if (node !== this.topo.primary && !this.topo.replicas.includes(node)) this.topo = { ...this.topo, replicas: [...this.topo.replicas, node] };
    this.downUntil.delete(node);
    if (was) this.log.warn({ cluster: this.cluster, node, replicas: this.topo.replicas }, 'fenced node readmitted as a replica');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((c) => c.close().catch(() => undefined)));
    await this.driver.close();
  }

  /** The pool of `node`, opened on first use; never for a fenced node. */
  protected conn(node: string): NodeConn {
    if (this.closed) throw new TagstreamError(ErrorCodes.SHUTTING_DOWN, `${this.cluster}: shard store closed`);
    if (this.fenced.has(node)) throw new FencedNodeError(this.cluster, node);
    let c = this.conns.get(node);
    if (!c) {
      c = this.driver.open(node);
      this.conns.set(node, c);
    }
    return c;
  }

  private onPrimary<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    const primary = this.topo.primary;
    try {
      return this.conn(primary).session(fn);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Replica first (round-robin, or one that replayed `minLsn`); the primary when none fits or one fails. */
  private async read<T>(opts: ReadOptions, fn: (q: Queryable) => Promise<T>): Promise<{ value: T; route: Route }> {
    if (!opts.primary) {
      for (const r of this.replicaOrder()) {
        try {
          if (opts.minLsn !== undefined && !(await this.replicaReached(r, opts.minLsn))) continue;
          return { value: await this.conn(r).session(fn), route: { node: r, role: 'replica' } };
        } catch (err) {
          if (!this.replicaFailure(r, err)) throw err;
        }
        if (opts.minLsn === undefined) break; // one failed replica is enough: fall back to the primary now
      }
    }
    return { value: await this.onPrimary(fn), route: { node: this.topo.primary, role: 'primary' } };
  }

  private healthyReplicas(): string[] {
    const now = this.clock.now();
    return this.liveReplicas().filter((r) => (this.downUntil.get(r) ?? 0) <= now);
  }

  private replicaOrder(): string[] {
    const healthy = this.healthyReplicas();
    if (healthy.length === 0) return [];
    const start = this.rr++ % healthy.length;
    return [...healthy.slice(start), ...healthy.slice(0, start)];
  }

  private liveReplicas(): string[] {
    return this.topo.replicas.filter((r) => !this.fenced.has(r));
  }

  private async replicaReached(replica: string, lsn: string): Promise<boolean> {
    if (lsnReached(this.replayed.get(replica), lsn)) return true;
    return lsnReached(await this.fetchReplay(replica), lsn);
  }

  /**
   * One replay-position query per replica at a time, shared by every concurrent caller (all shard writers of
   * the cluster poll replicatedTo). A shared answer may predate a caller's commit: it can only say "not yet".
   */
  private fetchReplay(replica: string): Promise<string | null> {
    let p = this.replayQuery.get(replica);
    if (!p) {
      p = this.conn(replica)
        .replayLsn()
        .then((replay) => {
          if (replay) this.noteReplay(replica, replay);
          return replay;
        })
        .finally(() => this.replayQuery.delete(replica));
      this.replayQuery.set(replica, p);
    }
    return p;
  }

  private noteReplay(node: string, lsn: string): void {
    const prev = this.replayed.get(node);
    this.replayed.set(node, prev ? maxLsn(prev, lsn) : lsn);
  }

  /** Marks the replica down when the error says it is unreachable or unusable; false for other errors (bugs). */
  private replicaFailure(replica: string, err: unknown): boolean {
    const cls = classify(err).class;
    if (cls !== 'retry' && cls !== 'reroute') return false;
    this.downUntil.set(replica, this.clock.now() + this.replicaRetryMs);
    this.log.warn({ cluster: this.cluster, node: replica, err: errorMessage(err), retryInMs: this.replicaRetryMs }, 'replica failed; left out for a while');
    return true;
  }
}
