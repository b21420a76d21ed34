// The routing half of a ShardStore, shared by the real and the embedded one: writes go to the current
// primary only; reads go to a replica that provably replayed the reader's LSN, else to the primary;
// fenced nodes (old primaries) are never connected to again (contract 4). Which replicas may serve reads is
// derived from every probe round (deriveTopology: standbys streaming from the primary on its timeline), so a
// store that just started routes like one that watched every failover (contract 11). Every session's errors
// are classified on their way out (toPgError): callers see BackendErrors, never the driver's.
import { classify } from '../../lib/classify.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { ErrorCodes, TagstreamError, errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { deriveTopology, type DerivedTopology } from './derive-topology.ts';
import { lsnReached, maxLsn } from './lsn.ts';
import { converting } from '../driver-errors.ts';
import { toPgError } from './errors.ts';
import type { NodeConn, NodeDriver, ReplayPoint } from './node-conn.ts';
import type { ApplyResult, AssocRow, AssocWrite, DeriveOptions, EntitiesTags, EntityKey, EntityTags, NodeProbe, ReadOptions, ReplicatedOptions, RowPosition, ShardStore, Topology } from './port.ts';
import type { Queryable } from './queryable.ts';
import { migrate } from './schema.ts';
import { applyBatchSql, entitiesTagsSql, foldCountersSql, entityTagsSql, popularTagsSql, rowPositionSql, shardCountsSql, shardRowsSql } from './shard-sql.ts';

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
type ReplayAt = { lsn: string; timeline: number | null };

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
  /**
   * Highest replay LSN seen per replica and the timeline it was replayed on (probe or on-the-fly check); within
   * one timeline replay positions only move forward, a new timeline starts over.
   */
  private readonly replayed = new Map<string, { lsn: string; timeline: number | null }>();
  private readonly downUntil = new Map<string, number>();
  private readonly replayQuery = new Map<string, Promise<ReplayAt | null>>();
  /** Replicas the last derivation allows to serve reads; null until the first probe round (then: configured replicas). */
  private readable: Set<string> | null = null;
  private lastView: DerivedTopology | null = null;
  /** Newest timeline this store has seen: a writable node below it is an old primary, whatever else answers. */
  private timelineFloor = 0;
  /** False until a probe round found the node that accepts writes (or the monitor set the topology). */
  private primaryKnown = false;
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

  /**
   * On the node that accepts writes on the newest timeline: found by a probe round first when no round has found
   * it yet, or when the last attempt failed the way a wrong or dead primary fails (read-only, refused, timeout).
   */
  async migrate(): Promise<void> {
    if (!this.primaryKnown) await this.discoverPrimary();
    try {
      const applied = await this.onPrimary((q) => migrate(q));
      if (applied.length > 0) this.log.info({ cluster: this.cluster, applied }, 'schema migrated');
    } catch (err) {
      const cls = classify(err).class;
      if (cls === 'retry' || cls === 'reroute') this.primaryKnown = false;
      throw err;
    }
  }

  /** The commit's WAL position and the timeline of the node that wrote it: the (timeline, LSN) a replica must reach. */
  applyBatch(writes: AssocWrite[]): Promise<ApplyResult> {
    return this.onPrimaryConn((conn) =>
      conn.session(async (q) => {
        const r = await applyBatchSql(q, writes);
        const timeline = await conn.writeTimeline(q);
        return timeline === undefined ? r : { ...r, commitTimeline: timeline };
      }),
    );
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

  rowPosition(shard: number, entity: string, tag: string): Promise<RowPosition | null> {
    return this.onPrimary((q) => rowPositionSql(q, shard, entity, tag));
  }

  // Reconcile and the checker compare against the authoritative copy: the primary.
  shardRows(shard: number): Promise<AssocRow[]> {
    return this.onPrimary((q) => shardRowsSql(q, shard));
  }

  shardCounts(shard: number): Promise<Array<{ tag: string; count: number }>> {
    return this.onPrimary((q) => shardCountsSql(q, shard));
  }

  foldCounters(): Promise<number> {
    return this.onPrimary((q) => foldCountersSql(q));
  }

  /**
   * With `timeline` (ApplyResult.commitTimeline) a replica counts only when it replayed `lsn` on that timeline:
   * a replica that follows a newer primary passes the LSN of a write that died with the deposed one.
   */
  async replicatedTo(lsn: string, opts: ReplicatedOptions = {}): Promise<boolean> {
    const tl = opts.timeline;
    if (opts.all) {
      // Every replica must answer: one marked down is asked too (it holds the commit rather than being skipped).
      const replicas = this.memberReplicas();
      if (replicas.length === 0) return false;
      const checks = await Promise.all(replicas.map((r) => this.replicaReached(r, lsn, tl).catch(() => false)));
      return checks.every(Boolean);
    }
    // With a timeline the proof is exact on any member the last round reached; without one only a replica
    // proven to stream from the primary counts.
    // A position seen before (reset on every new primary and per timeline) stays proof after the replica goes.
    const known = this.memberReplicas().find((r) => this.reachedKnown(r, lsn, tl));
    if (known !== undefined) {
      if (this.log.isLevelEnabled('debug')) this.log.debug({ cluster: this.cluster, lsn, timeline: tl ?? null, replica: known, at: this.replayed.get(known), primary: this.topo.primary }, 'replication proven (a position seen before)');
      return true;
    }
    const view = this.lastView;
    const candidates = tl === undefined ? this.liveReplicas() : this.memberReplicas().filter((r) => view?.verdicts[r]?.verdict !== 'unreachable');
    // Replicas marked down are not asked: a frozen one would hold every caller for a whole timeout. The first
    // replica that proves it answers for all.
    const now = this.clock.now();
    const asked = candidates.filter((r) => (this.downUntil.get(r) ?? 0) <= now);
    return new Promise<boolean>((resolve) => {
      let pending = asked.length;
      if (pending === 0) resolve(false);
      for (const r of asked) {
        void this.replicaReached(r, lsn, tl)
          .catch((err: unknown) => {
            this.replicaFailure(r, err);
            return false;
          })
          .then((ok) => {
            if (ok && this.log.isLevelEnabled('debug')) this.log.debug({ cluster: this.cluster, lsn, timeline: tl ?? null, replica: r, at: this.replayed.get(r), primary: this.topo.primary }, 'replication proven (asked)');
            if (ok) resolve(true);
            else if (--pending === 0) resolve(false);
          });
      }
    });
  }

  /**
   * One probe of every node (fenced ones are not reached: reported down), bounded by the driver's timeout. Each
   * round also re-derives which replicas may serve reads, so every daemon routes reads within one probe interval
   * of what the nodes say, leader or not.
   */
  async probe(): Promise<NodeProbe[]> {
    const probes = await this.probeNodes();
    this.noteView(this.derive(probes));
    return probes;
  }

  /** Probes (or takes `opts.probes`) and derives the routing; changes nothing. */
  async deriveRouting(opts: DeriveOptions = {}): Promise<DerivedTopology> {
    return this.derive(opts.probes ?? (await this.probeNodes()), opts);
  }

  /**
   * Routes by a derivation: reads to `view.readable` only; writes to `view.primary`; its fenced nodes fenced for
   * good. A view without a primary changes nothing but the reads. When `primaryChanged`, the caller runs what a
   * promotion runs (writers rerouted, unproven writes re-driven): see ClusterMonitorDeps.onPromoted.
   */
  async applyDerived(view: DerivedTopology): Promise<{ changed: boolean; primaryChanged: boolean; topology: Topology }> {
    this.noteView(view);
    const before = this.topology();
    if (!view.primary) return { changed: false, primaryChanged: false, topology: before };
    if (this.fenced.has(view.primary)) {
      this.log.warn({ cluster: this.cluster, primary: view.primary }, 'derived primary is fenced here: not followed (readmit it first)');
      return { changed: false, primaryChanged: false, topology: before };
    }
    const fenced = [...new Set([...this.fenced, ...view.fenced])].filter((n) => n !== view.primary);
    const replicas = this.nodes.filter((n) => n !== view.primary && !fenced.includes(n));
    const next: Topology = { primary: view.primary, replicas, fenced };
    const primaryChanged = before.primary !== next.primary;
    const changed = primaryChanged || !sameSet(before.replicas, next.replicas) || !sameSet(before.fenced, next.fenced);
    if (changed) {
      if (primaryChanged) this.log.warn({ cluster: this.cluster, from: before.primary, primary: next.primary, timeline: view.timeline, diverged: view.diverged }, 'the node that accepts writes on the newest timeline is not ours: following it');
      await this.setTopology(next);
    }
    this.primaryKnown = true;
    return { changed, primaryChanged, topology: this.topology() };
  }

  /** The last derivation (null before the first probe round): verdict and reason per node, for status pages. */
  routing(): DerivedTopology | null {
    return this.lastView;
  }

  /**
   * At start: the node that accepts writes on the newest timeline leads; nodes that answer as writable below it
   * (old primaries back, diverged) or read-only non-standbys are fenced; reads go only to standbys streaming
   * from it. Probes are bounded, so a frozen node never holds this up. No node accepts writes (the primary is
   * down at start): the configured primary stays for writes, no read goes to a replica until a round proves
   * one, and the failover monitor takes it from there.
   */
  async discoverPrimary(): Promise<Topology> {
    const view = await this.deriveRouting();
    if (!view.primary) {
      this.noteView(view);
      this.log.warn({ cluster: this.cluster, verdicts: view.verdicts }, 'no node accepts writes on the newest timeline at start: keeping the configured primary for now');
      return this.topology();
    }
    await this.applyDerived(view);
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
    this.primaryKnown = true;
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
    // Whoever readmits proved it streams from the primary (adopt, Patroni's replicas): reads may go there now; the
    // next probe round re-derives it like every other node.
    this.readable?.add(node);
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
      c = new ClassifiedConn(this.driver.open(node));
      this.conns.set(node, c);
    }
    return c;
  }

  private onPrimary<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.onPrimaryConn((c) => c.session(fn));
  }

  private onPrimaryConn<T>(fn: (c: NodeConn) => Promise<T>): Promise<T> {
    try {
      return fn(this.conn(this.topo.primary));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private async probeNodes(): Promise<NodeProbe[]> {
    return Promise.all(this.nodes.map((name) => this.probeNode(name)));
  }

  /** One node on its long-lived probe session (no connection is opened per probe); a fenced node is not probed. */
  async probeNode(name: string): Promise<NodeProbe> {
    if (this.fenced.has(name)) return { name, up: false, error: 'fenced: not probed, no connection of ours may reach it' };
    const p = await this.driver.probe(name);
    if (p.up) this.downUntil.delete(name);
    if (p.up && p.replayLsn) this.noteReplay(name, { lsn: p.replayLsn, timeline: p.replayTimeline ?? null });
    return p;
  }

  private derive(probes: readonly NodeProbe[], opts: DeriveOptions = {}): DerivedTopology {
    return deriveTopology({ nodes: this.nodes, probes, fenced: [...new Set([...this.fenced, ...(opts.fenced ?? [])])], minTimeline: Math.max(this.timelineFloor, opts.minTimeline ?? 0) });
  }

  /**
   * Reads follow the derivation. Without a primary in view (it is down, or a switchover holds it read-only) no
   * replica is added, and one keeps serving only while it is still a standby no older than the newest timeline.
   */
  private noteView(view: DerivedTopology): void {
    this.lastView = view;
    this.timelineFloor = Math.max(this.timelineFloor, view.newestTimeline);
    let next: Set<string>;
    if (view.primary) next = new Set(view.readable);
    else next = new Set([...(this.readable ?? [])].filter((n) => view.verdicts[n]?.verdict === 'standby'));
    const prev = this.readable;
    this.readable = next;
    if (prev === null || !sameSet([...prev], [...next])) {
      const out = this.nodes.filter((n) => !next.has(n) && n !== view.primary).map((n) => `${n}: ${view.verdicts[n]?.reason ?? '?'}`);
      this.log.info({ cluster: this.cluster, primary: view.primary, timeline: view.timeline, readable: [...next], out }, 'read routing derived from the nodes');
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

  /** Replicas that may serve reads: members the last derivation saw streaming from the primary. */
  private liveReplicas(): string[] {
    const readable = this.readable;
    return this.memberReplicas().filter((r) => readable === null || readable.has(r));
  }

  /** Replicas of the topology (promotion candidates), whether they serve reads right now or not. */
  private memberReplicas(): string[] {
    return this.topo.replicas.filter((r) => !this.fenced.has(r));
  }

  private reachedKnown(replica: string, lsn: string, timeline: number | undefined): boolean {
    const at = this.replayed.get(replica);
    return at !== undefined && (timeline === undefined || at.timeline === timeline) && lsnReached(at.lsn, lsn);
  }

  private async replicaReached(replica: string, lsn: string, timeline?: number): Promise<boolean> {
    if (this.reachedKnown(replica, lsn, timeline)) return true;
    const at = await this.fetchReplay(replica);
    return at !== null && (timeline === undefined || at.timeline === timeline) && lsnReached(at.lsn, lsn);
  }

  /**
   * One replay-position query per replica at a time, shared by every concurrent caller (all shard writers of
   * the cluster poll replicatedTo). A shared answer may predate a caller's commit: it can only say "not yet".
   */
  private fetchReplay(replica: string): Promise<ReplayAt | null> {
    let p = this.replayQuery.get(replica);
    if (!p) {
      p = this.conn(replica)
        .replayPoint()
        .then((r) => {
          if (!r.lsn) return null;
          const at = { lsn: r.lsn, timeline: r.timeline };
          this.noteReplay(replica, at);
          return at;
        })
        .finally(() => this.replayQuery.delete(replica));
      this.replayQuery.set(replica, p);
    }
    return p;
  }

  private noteReplay(node: string, at: ReplayAt): void {
    const prev = this.replayed.get(node);
    this.replayed.set(node, prev && prev.timeline === at.timeline ? { lsn: maxLsn(prev.lsn, at.lsn), timeline: at.timeline } : at);
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

/** A node's connections whose every rejection is classified (the driver's errors stay inside the adapter). */
class ClassifiedConn implements NodeConn {
  readonly node: string;
  constructor(private readonly inner: NodeConn) {
    this.node = inner.node;
  }
  session<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return converting(this.inner.session(fn), toPgError);
  }
  replayLsn(): Promise<string | null> {
    return converting(this.inner.replayLsn(), toPgError);
  }
  replayPoint(): Promise<ReplayPoint> {
    return converting(this.inner.replayPoint(), toPgError);
  }
  writeTimeline(q: Queryable): Promise<number | undefined> {
    return converting(this.inner.writeTimeline(q), toPgError);
  }
  close(): Promise<void> {
    return converting(this.inner.close(), toPgError);
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
