// ShardStore: one physical PostgreSQL cluster (a primary and its async replicas) holding many logical shards.
// Real: PgShardStore (pg). Embedded: PgliteShardStore. LSNs are PostgreSQL text form ('0/16B3748').
import type { NodeFaultHooks } from '../fault-hooks.ts';
import type { DerivedTopology } from './derive-topology.ts';

export interface AssocWrite {
  shard: number;
  entity: string;
  tag: string;
  attached: boolean;
  /** Log position of the command: the version. Within an entity, a higher offset wins (same partition). */
  partition: number;
  offset: string;
  /** Command time, ms since epoch (for updated_at and analytics; never used for ordering). */
  at: number;
}

export interface ApplyResult {
  /** Rows whose association actually changed state (attach↔detach or new attach). */
  changed: number;
  /** Rows whose version moved (changed or a newer command with the same state). */
  versioned: number;
  /** Per-tag counter deltas that were applied (only real state changes move counters). */
  counterDeltas: Array<{ shard: number; tag: string; delta: number }>;
  /** `changed` and `versioned` per shard (shards whose rows all stayed as they were are absent). */
  perShard: Array<{ shard: number; changed: number; versioned: number }>;
  /** WAL position at or after the commit of this batch, on the primary. */
  commitLsn: string;
  /** The timeline of the primary that committed it: a replica proves the write only on this timeline. */
  commitTimeline?: number;
}

export interface ReadOptions {
  /** Read-your-writes: serve from a node whose replay position has reached this LSN, else from the primary. */
  minLsn?: string;
  /** Force the primary (critical reads when replicas are unhealthy). */
  primary?: boolean;
}

export interface EntityTags {
  tags: string[];
  servedBy: string;
  role: 'primary' | 'replica';
}

/** An entity and its logical shard (the shard leads the table's key, so a look-up names both). */
export interface EntityKey {
  shard: number;
  entity: string;
}

export interface EntitiesTags {
  tags: Map<string, string[]>;
  servedBy: string;
  role: 'primary' | 'replica';
}

export interface AssocRow {
  shard: number;
  entity: string;
  tag: string;
  attached: boolean;
  partition: number;
  offset: string;
}

export interface NodeProbe {
  name: string;
  up: boolean;
  role?: 'primary' | 'replica';
  /** Primary: pg_current_wal_lsn(); replica: receive and replay LSNs. */
  currentLsn?: string;
  receiveLsn?: string;
  replayLsn?: string;
  latencyMs?: number;
  error?: string;
  /**
   * Primary: the timeline it writes on (a newer promotion has a higher one). Standby: the timeline it receives
   * (pg_stat_wal_receiver.received_tli), else the one of its last restartpoint — a lower bound either way.
   */
  timeline?: number;
  /** default_transaction_read_only is on (a primary fenced by a failover refuses writes this way). Any role. */
  readOnly?: boolean;
  /** Standby: its WAL receiver (pg_stat_wal_receiver); absent when none runs. */
  receiver?: WalReceiverProbe;
  /** Primary: its WAL senders (pg_stat_replication), by the standby's application_name. */
  replication?: ReplicationRow[];
  /** Standby: the timeline of `replayLsn`, when it was read unchanged before and after that LSN. */
  replayTimeline?: number;
}

export interface WalReceiverProbe {
  /** 'streaming', 'starting', 'waiting', 'catchup', 'stopping', … */
  status: string;
  /** The node it receives from, matched by sender host and port; null when no configured node matches. */
  upstream: string | null;
  /** received_tli. */
  timeline?: number;
}

export interface ReplicationRow {
  /** application_name: the standby's node name by convention (services/, PgClusterControl.repoint). */
  name: string;
  /** 'streaming', 'catchup', 'startup', 'backup', 'stopping'. */
  state: string;
  replayLsn?: string;
}

/** Where a commit landed: its WAL position and the timeline of the primary that wrote it. */
export interface CommitPoint {
  lsn: string;
  /** Absent when the writer could not tell (then only a bare-LSN proof is possible). */
  timeline?: number;
}

export interface Topology {
  primary: string;
  replicas: string[];
  /** Nodes that must never receive a write of ours again (old primaries). */
  fenced: string[];
}

export interface ReplicatedOptions {
  all?: boolean;
  /**
   * The timeline the write was committed on (ApplyResult.commitTimeline). A replica counts only if it replayed
   * `lsn` on this same timeline: a replica of a newer primary passes the LSN of a write that died with a deposed
   * one without holding it.
   */
  timeline?: number;
}

export interface DeriveOptions {
  /** Probes to derive from (e.g. a monitor's round that also probed fenced nodes); else every node is probed. */
  probes?: readonly NodeProbe[];
  /** Extra fenced nodes (a durable record); the store's own fenced set always counts. */
  fenced?: readonly string[];
  /** A timeline known to exist (a durable record); the newest this store saw always counts. */
  minTimeline?: number;
}

export interface RowPosition {
  partition: number;
  offset: string;
  lsn: string;
}

export interface ShardStore {
  readonly cluster: string;
  /** Creates tables and indexes idempotently on the primary (replicas follow by replication). */
  migrate(): Promise<void>;
  /** One transaction, set-based; last writer wins by (partition, offset); duplicates and older commands change nothing. */
  applyBatch(writes: AssocWrite[]): Promise<ApplyResult>;
  entityTags(shard: number, entity: string, opts?: ReadOptions): Promise<EntityTags>;
  /** Several entities of this cluster in one query, routed as entityTags (one node answers all); absent ones map to []. */
  entitiesTags(keys: readonly EntityKey[], opts?: ReadOptions): Promise<EntitiesTags>;
  popularTags(limit: number): Promise<Array<{ tag: string; count: number }>>;
  /**
   * True when at least one replica has replayed `lsn` (the offset-commit condition of contract 3). With
   * `all`: every replica of the topology has (and there is one) — for clusters whose failover manager may
   * promote a replica that is not the most caught-up one (Patroni, while the old primary still streams).
   */
  replicatedTo(lsn: string, opts?: ReplicatedOptions): Promise<boolean>;
  /**
   * On the primary: the (partition, offset) of the command that last wrote (entity, tag), and the primary's WAL
   * position when it was read (a read-your-writes token covers what the row shows). null: no such row.
   */
  rowPosition(shard: number, entity: string, tag: string): Promise<RowPosition | null>;
  /** Every association row of a shard (attached or tombstoned), ordered by entity, tag: reconcile and checker. */
  shardRows(shard: number): Promise<AssocRow[]>;
  shardCounts(shard: number): Promise<Array<{ tag: string; count: number }>>;
  /**
   * On the primary: folds the counter deltas that write batches appended into the counters, in one statement
   * (readers see the same sums before and after; several daemons may fold at once). Resolves with the delta
   * rows folded. Until a fold, reads sum the appended rows, so folding is upkeep, not correctness.
   */
  foldCounters(): Promise<number>;
  probe(): Promise<NodeProbe[]>;
  /** One node, on the same long-lived probe session as probe() (fenced nodes are not probed). */
  probeNode(node: string): Promise<NodeProbe>;
  topology(): Topology;
  /**
   * At start: the configured order names the initial primary, but after a failover (and a restart of the
   * daemon) another node leads. Probes every node and routes writes to the one that accepts them; see
   * RoutedShardStore.discoverPrimary. Resolves with the topology it settled on.
   */
  discoverPrimary(): Promise<Topology>;
  /** Probes every node (or takes `opts.probes`) and derives the routing (deriveTopology); changes nothing. */
  deriveRouting(opts?: DeriveOptions): Promise<DerivedTopology>;
  /**
   * Routes by a derivation: reads to its readable standbys only, writes to its primary, its fenced nodes fenced.
   * A view without a primary changes only the reads. `primaryChanged`: the caller must run what a promotion runs.
   */
  applyDerived(view: DerivedTopology): Promise<{ changed: boolean; primaryChanged: boolean; topology: Topology }>;
  /** The last derivation (every probe() makes one), null before the first. */
  routing(): DerivedTopology | null;
  /** Reroute: from now on writes go to `primary` only; `fenced` nodes get no connection of ours. */
  setTopology(t: Topology): Promise<void>;
  /**
   * Fencing is sticky; this is the one way back: `node` was re-seeded as a replica of the current primary (by an
   * operator, or rejoined by Patroni), so it may be connected to again — as a replica, until a promotion says otherwise.
   */
  readmit(node: string): Promise<void>;
  close(): Promise<void>;
  /** Present on the embedded stand-in only: fault injection (adapters/fault-hooks.ts). */
  readonly faults?: NodeFaultHooks;
}

/**
 * ClusterControl: the control plane of one cluster, used by the failover monitor only — never the write path.
 * Real: PgClusterControl (short-lived superuser connections per node). Embedded: EmbeddedClusterControl.
 */
export type FenceMode = 'read-only' | 'sessions';

export interface ClusterControl {
  readonly cluster: string;
  readonly nodes: readonly string[];
  /** Probes one node, fenced ones included (to report an old primary that came back, diverged). */
  probeNode(node: string): Promise<NodeProbe>;
  /** pg_promote on `node`; resolves once it accepts writes. */
  promote(node: string, timeoutMs: number): Promise<void>;
  /**
   * promote(node, timeoutMs) follows shortly, after its checks: open its session now, so that its connection (a
   * fork and authentication, slow on a loaded machine) overlaps those checks. Best effort.
   */
  prepare?(node: string, timeoutMs: number): void;
  /** Points a running replica at `primary` (it follows the new timeline); creates its slot there first. */
  repoint(replica: string, primary: string): Promise<void>;
  /**
   * Best effort, if `node` is reachable at all. 'read-only' (default): it refuses writes from anyone
   * (ALTER SYSTEM default_transaction_read_only) and every client session is ended. 'sessions': only sessions
   * of tagstream are ended, its configuration is left to the manager that owns it (Patroni).
   */
  fence(node: string, how?: FenceMode): Promise<void>;
  /** `replica` streams from `primary` (a row of pg_stat_replication with its name as application_name). */
  streamingFrom(primary: string, replica: string): Promise<boolean>;
  /** Undoes a 'read-only' fence (a switchover that promoted nobody): the node accepts writes again. */
  unfence(node: string): Promise<void>;
  /** Records a topology decision's epoch on `node` (the primary it names); never lowers the recorded one. */
  recordEpoch(node: string, rec: RecordedEpoch): Promise<void>;
  /** The epoch recorded on `node` for this cluster, null if none. */
  readEpoch(node: string): Promise<RecordedEpoch | null>;
  close(): Promise<void>;
}

/** A topology decision's epoch as recorded on the cluster's primary (tagstream_topology_epoch). */
export interface RecordedEpoch {
  cluster: string;
  epoch: number;
  daemonId: string;
  term: number;
  decision: string;
  /** Clock ms. */
  at: number;
}
