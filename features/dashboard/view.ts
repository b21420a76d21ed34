// What the dashboard draws, as JSON: the full snapshot a page loads first (and after a reconnect), and the
// periodic "pulse" that the live stream sends between machine and actor events.
import { clusterOfShard } from '../../actors/tree.ts';
import type { ActorInfo } from '../../actors/runtime/system.ts';
import type { MachineDefinition } from '../../machines/index.ts';
import { RETRY_KINDS } from '../../machines/retry/kinds.ts';
import type { DaemonContext } from '../feature.ts';
import type { FlightRecorder } from './flight-recorder.ts';
import type { MachineDirectory } from './machine-directory.ts';
import type { Operator } from './operator.ts';
import type { ClusterView, Sample, Sampler } from './sampler.ts';

export interface ViewParts {
  ctx: DaemonContext;
  startedAt: number;
  definitions: Record<string, MachineDefinition>;
  directory: MachineDirectory;
  sampler: Sampler;
  operator: Operator;
  recorder: FlightRecorder;
}

export interface ShardView {
  shard: number;
  cluster: string;
  writer: ActorInfo['status'] | 'missing';
  restarts: number;
  mailboxDepth: number;
  /** The shard's cluster is held (issue 17): its commands wait in the cluster's hold topic. */
  held?: { reason: string | null; depth: number | null; ageSeconds: number; draining: boolean };
}

function shards(p: ViewParts, actors: ActorInfo[]): ShardView[] {
  const byPath = new Map(actors.map((a) => [a.path, a]));
  const holds = p.ctx.tree.hold.status();
  return Array.from({ length: p.ctx.config.shards.count }, (_, shard) => {
    const a = byPath.get(p.ctx.tree.writers[shard]?.path ?? '');
    const cluster = clusterOfShard(p.ctx.config, shard);
    const h = holds[cluster];
    const held = h && (h.held || (h.depth ?? 0) > 0) ? { held: { reason: h.reason, depth: h.depth, ageSeconds: h.ageSeconds, draining: h.draining } } : {};
    return { shard, cluster, writer: a?.status ?? 'missing', restarts: a?.restarts ?? 0, mailboxDepth: a?.mailboxDepth ?? 0, ...held };
  });
}

/** Everything that changes without an event of its own: sent once per sample. */
export function pulse(p: ViewParts, sample: Sample | null, clusters: ClusterView[]) {
  const actors = p.ctx.tree.system.tree();
  const reasons = p.ctx.readiness?.() ?? [];
  const controls = p.operator.controls();
  return {
    now: p.ctx.clock.now(),
    ready: { ready: reasons.length === 0, reasons },
    sample,
    tree: actors,
    deadLetters: p.ctx.tree.system.deadLetters,
    clusters,
    shards: shards(p, actors),
    breakers: p.operator.breakers(),
    faults: p.operator.faults(),
    actions: {
      breakers: controls.breakers.map((b) => b.feature),
      dlq: controls.dlq?.feature ?? null,
      switchover: controls.switchover?.feature ?? null,
      faults: p.ctx.config.profile !== 'production' && p.ctx.config.faultInjection,
    },
    recorder: { size: p.recorder.size(), capacity: p.ctx.config.flightRecorder.capacity },
    // Several daemons: whether this one is the failover leader, and who is (README "Running several daemons").
    leadership: p.ctx.leader?.status() ?? null,
  };
}

export function snapshot(p: ViewParts) {
  const history = p.sampler.history();
  const { config } = p.ctx;
  return {
    daemon: {
      profile: config.profile,
      pid: process.pid,
      startedAt: p.startedAt,
      shards: config.shards.count,
      partitions: config.kafka.partitions,
      topic: config.kafka.topic,
      groups: { writers: config.kafka.groupId, indexer: config.indexer.groupId, analytics: config.indexer.analyticsGroupId },
    },
    definitions: p.definitions,
    /** Every loop that retries (retry machines are `retry:<kind>[:…]`): the retry card lists each. */
    retryKinds: RETRY_KINDS,
    machines: p.directory.list(),
    history,
    events: p.recorder.entries().slice(-200),
    ...pulse(p, history[history.length - 1] ?? null, p.sampler.clusters()),
  };
}
