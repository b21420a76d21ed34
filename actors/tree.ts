// The supervision tree: root → ingest · shards (one writer per logical shard) · … (cache, indexers and the
// DLQ replayer attach their own supervisors). One shard writer's storm never stops a sibling.
import { setMaxListeners } from 'node:events';
import type { CommandLog } from '../adapters/kafka/port.ts';
import type { ShardStore } from '../adapters/pg/port.ts';
import type { Config } from '../config/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { retryStartup } from '../machines/retry/startup.ts';
import type { InspectionBus } from '../machines/inspection.ts';
import { AppliedBus } from './applied-bus.ts';
import { createDeadLetterSink, type DeadLetterSink } from './dlq/dead-letter.ts';
import { HoldBoard, type ClusterHold } from './hold/hold-board.ts';
import { holdGroupId, holdTopicName } from './hold/hold-topic.ts';
import { Refeeder } from './hold/refeeder.ts';
import { Ingest } from './ingest/ingest.ts';
import { spawnIngestActor } from './ingest/ingest-actor.ts';
import { isolateChild, restartWithBackoff, resumeOnPoison } from './runtime/policy.ts';
import { ActorSystem, type ActorHandle } from './runtime/system.ts';
import type { ShardWriterMsg, WriteItem } from './shard-writer/messages.ts';
import { ReplicationWatcher } from './shard-writer/replication-watcher.ts';
import { CounterFolder } from './shard-writer/counter-folder.ts';
import { GroupCommitter } from './shard-writer/group-commit.ts';
import { ShardWriter, shardWriterSpec } from './shard-writer/shard-writer.ts';

export interface TreeDeps {
  config: Readonly<Config>;
  clock: Clock;
  logger: Logger;
  log: CommandLog;
  stores: Map<string, ShardStore>;
  onFatal: (path: string, err: unknown) => void;
  /** The retry telemetry (retry machines and supervision restarts) for the dashboard and metrics. */
  inspection?: Pick<InspectionBus, 'publish'>;
  hooks?: {
    onBatch?: (info: { shard: number; size: number; changed: number; ms: number }) => void;
    onCommitted?: (partition: number, offset: bigint) => void;
    onInvalid?: (code: string) => void;
    /** A transaction of `cluster` committed; `members`: how many shard batches it held (group commit). */
    onGroupCommit?: (info: { cluster: string; members: number; rows: number }) => void;
    onDeadLetter?: () => void;
    /** A batch was committed on the primary (the read side invalidates its cache after commit). */
    onApplied?: (items: WriteItem[], commitLsn: string) => void;
    /** Commands produced to a cluster's hold topic / handed from it to the writers again; each hold measurement. */
    onHeld?: (cluster: string, n: number) => void;
    onRefed?: (cluster: string, n: number) => void;
    onHoldMeasured?: (s: ClusterHold) => void;
    /** A fold of a cluster's appended counter deltas: the rows it folded, or why it failed. */
    onCounterFold?: (cluster: string, outcome: { rows: number } | { err: unknown }) => void;
  };
}

export function clusterOfShard(config: Readonly<Config>, shard: number): string {
  const mapped = config.shards.map[String(shard)];
  if (mapped) return mapped;
  const clusters = config.postgres.clusters;
  return clusters[shard % clusters.length]!.name;
}

export interface Tree {
  system: ActorSystem;
  root: ActorHandle<unknown>;
  ingest: Ingest;
  writers: ActorHandle<ShardWriterMsg>[];
  watchers: Map<string, ReplicationWatcher>;
  applied: AppliedBus;
  dlq: DeadLetterSink;
  /** Which clusters are held (their commands parked on their hold topics) and why; their re-feeders. */
  hold: HoldBoard;
  refeeders: Map<string, Refeeder>;
  /** Listens to every batch committed on a primary, like hooks.onApplied but attachable later (features). */
  onApplied(listener: (items: WriteItem[], commitLsn: string) => void): () => void;
  /** A cluster was promoted (by our monitor, Patroni, or an operator): reroute and re-apply the lost window. */
  topologyChanged(cluster: string): Promise<void>;
  start(): Promise<void>;
  /** Drains in-flight batches (bounded), commits what is safe, stops every actor. */
  stop(deadlineMs: number): Promise<void>;
}

export function createTree(deps: TreeDeps): Tree {
  const { config, clock, logger } = deps;
  const abort = new AbortController();
  // Every writer and every waiting sender listens to this one shutdown signal.
  setMaxListeners(0, abort.signal);
  const system = new ActorSystem({ clock, logger, name: 'tagstream', onFatal: deps.onFatal });
  const sup = config.supervision;
  const restartOnCrash = restartWithBackoff({ backoff: { initialMs: sup.restartInitialMs, multiplier: 2, maxMs: sup.restartMaxMs, jitter: 0.2 }, maxRestarts: sup.maxRestarts, withinMs: sup.withinMs, ...(deps.inspection ? { inspect: deps.inspection } : {}) });
  const restart = resumeOnPoison(restartOnCrash);
  const supervisorSpec = (name: string, coolDownMs: number) => ({
    name,
    kind: 'supervisor',
    init: () => null,
    receive: (s: null) => s,
    childPolicy: isolateChild({ coolDownMs, maxEscalations: 3, withinMs: 10 * 60_000 }),
  });

  const root = system.spawn({ ...supervisorSpec('tagstream', sup.restartMaxMs), childPolicy: isolateChild({ coolDownMs: sup.restartMaxMs, maxEscalations: 1, withinMs: 60_000, escalateWhenExhausted: true }) });
  const shardsSup = system.spawn(supervisorSpec('shards', sup.restartMaxMs * 3), root);
  const dlq = createDeadLetterSink(deps.log, config.kafka.dlqTopic, deps.hooks?.onDeadLetter);
  const applied = new AppliedBus(clock);

  const appliedListeners = new Set<(items: WriteItem[], commitLsn: string) => void>();
  const onApplied = (items: WriteItem[], commitLsn: string) => {
    deps.hooks?.onApplied?.(items, commitLsn);
    for (const l of appliedListeners) {
      try {
        l(items, commitLsn);
      } catch (err) {
        logger.error({ err }, 'an onApplied listener failed'); // never the writer's problem
      }
    }
  };

  const watchers = new Map<string, ReplicationWatcher>();
  for (const [name, store] of deps.stores) watchers.set(name, new ReplicationWatcher(store, { clock, logger: logger.child({ cluster: name }) }));

  // One group committer per cluster: the cluster's shard writers share its transactions.
  const committers = new Map<string, GroupCommitter>();
  for (const [name, store] of deps.stores) committers.set(name, new GroupCommitter(store, { ...config.writer.groupCommit, ...(deps.hooks?.onGroupCommit ? { onGroup: deps.hooks.onGroupCommit } : {}) }));

  const writers: ActorHandle<ShardWriterMsg>[] = [];
  const refeeders = new Map<string, Refeeder>();
  const hold = new HoldBoard({
    log: deps.log,
    clusters: [...deps.stores.keys()],
    holdTopic: (c) => holdTopicName(config.kafka.topic, c),
    drainGroup: (c) => holdGroupId(config.kafka.groupId, c),
    drain: (c) => refeeders.get(c)!,
    config: { ...config.hold, stallMs: 3 * config.hold.maxSendWaitMs },
    congested: (c) => {
      for (let shard = 0; shard < writers.length; shard++) {
        if (clusterOfShard(config, shard) !== c) continue;
        const info = writers[shard]!.info();
        if (info.mailboxDepth >= info.mailboxCapacity) return `shard ${shard}: writer mailbox full`;
      }
      return null;
    },
    unreplicated: (c) => {
      const waited = watchers.get(c)?.oldestUnprovenMs() ?? 0;
      return waited >= config.hold.unreplicatedMs ? `writes not replicated for ${(waited / 1000).toFixed(1)} s: no replica has replayed them (contract 3)` : null;
    },
    clock,
    logger: logger.child({ actor: '/tagstream/hold' }),
    ...(deps.hooks?.onHeld ? { onHeld: deps.hooks.onHeld } : {}),
    ...(deps.hooks?.onHoldMeasured ? { onMeasured: deps.hooks.onHoldMeasured } : {}),
  });
  for (let shard = 0; shard < config.shards.count; shard++) {
    const cluster = clusterOfShard(config, shard);
    const store = committers.get(cluster);
    if (!store) throw new Error(`shard ${shard}: no store for cluster ${cluster}`);
    const writer = new ShardWriter({
      shard,
      cluster,
      store,
      replication: watchers.get(cluster)!,
      dlq,
      clock,
      logger: logger.child({ actor: `/tagstream/shards/shard-${shard}` }),
      backoff: { initialMs: config.retry.initialMs, multiplier: config.retry.multiplier, maxMs: config.retry.maxMs, jitter: config.retry.jitter },
      batchSize: config.writer.batchSize,
      batchWindowMs: config.writer.batchWindowMs,
      signal: abort.signal,
      ...(deps.inspection ? { inspect: deps.inspection } : {}),
      topic: config.kafka.topic,
      consumer: config.kafka.groupId,
      ...(deps.hooks?.onBatch ? { onBatch: deps.hooks.onBatch } : {}),
      onApplied,
      onApplyFailed: (err) => hold.noteApplyFailed(cluster, err),
      onApplyOk: () => hold.noteApplyOk(cluster),
    });
    const handle = system.spawn(shardWriterSpec(writer, { mailboxCapacity: config.writer.mailboxCapacity, policy: restart }), shardsSup);
    writer.tellSelf = (m) => handle.tell(m);
    writers.push(handle);
  }

  for (const cluster of deps.stores.keys()) {
    refeeders.set(
      cluster,
      new Refeeder({
        log: deps.log,
        cluster,
        holdTopic: holdTopicName(config.kafka.topic, cluster),
        groupId: holdGroupId(config.kafka.groupId, cluster),
        shardCount: config.shards.count,
        limits: config.commands,
        writerFor: (s) => writers[s]!,
        dlq,
        clock,
        logger: logger.child({ actor: `/tagstream/hold/refeed-${cluster}` }),
        ratePerSec: config.hold.drainRatePerSec,
        commitIntervalMs: 100,
        onApplied: (p, o, a) => applied.applied(p, o, a),
        ...(deps.hooks?.onRefed ? { onRefed: (n: number) => deps.hooks!.onRefed!(cluster, n) } : {}),
        signal: abort.signal,
        ...(deps.inspection ? { inspect: deps.inspection } : {}),
      }),
    );
  }

  const folder = new CounterFolder(deps.stores, {
    clock,
    logger: logger.child({ actor: '/tagstream/shards/counter-folder' }),
    everyMs: config.writer.counterFoldMs,
    ...(deps.hooks?.onCounterFold ? { onFold: deps.hooks.onCounterFold } : {}),
  });

  const ingest = new Ingest({
    log: deps.log,
    topic: config.kafka.topic,
    groupId: config.kafka.groupId,
    shardCount: config.shards.count,
    limits: config.commands,
    writerFor: (s) => writers[s]!,
    dlq,
    clock,
    logger: logger.child({ actor: '/tagstream/ingest' }),
    ...(deps.inspection ? { inspect: deps.inspection } : {}),
    commitIntervalMs: 100,
    onApplied: (p, o, a) => applied.applied(p, o, a),
    ...(deps.hooks?.onCommitted ? { onCommitted: deps.hooks.onCommitted } : {}),
    ...(deps.hooks?.onInvalid ? { onInvalid: deps.hooks.onInvalid } : {}),
    signal: abort.signal,
    ...(config.hold.enabled
      ? {
          hold: {
            clusterOf: (s: number) => clusterOfShard(config, s),
            holdReason: (c: string) => hold.holdReason(c),
            hold: (c: string, reason: string) => hold.hold(c, reason),
            produce: (c: string, sources: Parameters<HoldBoard['produce']>[1], reason: string) => hold.produce(c, sources, reason),
            maxSendWaitMs: config.hold.maxSendWaitMs,
          },
        }
      : {}),
  });
  // Its batches and commit ticks are messages to a supervised actor: a crash (a defect) is restarted with backoff
  // and the restarted ingest re-reads every partition from its committed offset. Never resumed on a "poison"
  // error: the batch it crashed on may be half-routed.
  const ingestActor = spawnIngestActor(system, ingest, root, { policy: restartOnCrash, signal: abort.signal });
  const holdSup = system.spawn({ name: 'hold', kind: 'hold-board', init: () => null, receive: (s: null) => s }, root);
  for (const c of refeeders.keys()) system.spawn({ name: `refeed-${c}`, kind: 'refeeder', init: () => null, receive: (s: null) => s }, holdSup);

  return {
    system,
    root,
    ingest,
    writers,
    watchers,
    applied,
    dlq,
    hold,
    refeeders,
    onApplied(listener) {
      appliedListeners.add(listener);
      return () => void appliedListeners.delete(listener);
    },
    async topologyChanged(cluster) {
      watchers.get(cluster)?.topologyChanged();
      writers.forEach((w, shard) => {
        if (clusterOfShard(config, shard) === cluster) w.tell({ type: 'topology.promoted', cluster });
      });
      await refeeders.get(cluster)?.rewind(`cluster ${cluster} promoted`);
      await ingest.rewind(`cluster ${cluster} promoted`);
    },
    async start() {
      const step = <T>(what: string, fn: () => Promise<T>) => retryStartup(what, fn, { clock, logger, signal: abort.signal, policy: config.retryLoops.startup, ...(deps.inspection ? { inspect: deps.inspection } : {}) });
      await step('creating the command topic', () => deps.log.ensureTopic(config.kafka.topic, config.kafka.partitions));
      await step('creating the dead letter topic', () => deps.log.ensureTopic(config.kafka.dlqTopic, 1));
      await step('creating the parking topic', () => deps.log.ensureTopic(config.kafka.parkingTopic, 1));
      await step('creating the hold topics', () => hold.ensureTopics(config.kafka.partitions, (t, p) => deps.log.ensureTopic(t, p)));
      // After a failover and a restart the configured first node may be a replica (or a fenced old primary).
      for (const [name, store] of deps.stores) await step(`locating the primary of cluster ${name}`, () => store.discoverPrimary());
      for (const [name, store] of deps.stores) await step(`migrating cluster ${name}`, () => store.migrate());
      await step('joining the writers consumer group', () => ingest.start(ingestActor.mailbox));
      hold.start();
      folder.start();
    },
    async stop(deadlineMs) {
      const tick = (ms: number) => new Promise<void>((r) => clock.setTimeout(() => r(), ms));
      for (const w of writers) w.tell({ type: 'shard.flush' });
      await ingest.drain(deadlineMs, tick);
      await hold.stop().catch((err: unknown) => logger.warn({ err }, 'stopping the re-feeders failed: their records are read again'));
      abort.abort();
      await folder.stop();
      for (const w of watchers.values()) w.stop(new Error('shutting down'));
      system.shutdown();
    },
  };
}
