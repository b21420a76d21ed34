// The composition root: config → adapters → supervision tree → HTTP. The only place that wires real things.
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createCommandLog } from './adapters/kafka/index.ts';
import { createLeaderElection, type LeaderElection } from './adapters/kafka/leader-election.ts';
import { ControlLog } from './actors/leader/control-log.ts';
import { Leader } from './actors/leader/leader.ts';
import type { CommandLog } from './adapters/kafka/port.ts';
import { createShardStores } from './adapters/pg/index.ts';
import type { ShardStore } from './adapters/pg/port.ts';
import { createCacheStores } from './adapters/redis/index.ts';
import type { CacheStore } from './adapters/redis/port.ts';
import { createSearchIndex } from './adapters/search/index.ts';
import type { SearchIndex } from './adapters/search/port.ts';
import type { DaemonContext, FaultAction, Feature } from './features/feature.ts';
import { features as defaultFeatures } from './features/index.ts';
import type { FeatureFactory } from './features/feature.ts';
import { createInspectionBus } from './machines/index.ts';
import { clusterOfShard, createTree, type Tree } from './actors/tree.ts';
import type { Writability } from './actors/hold/hold-board.ts';
import type { FailoverApi } from './features/failover/index.ts';
import { shardOf } from './lib/command.ts';
import type { Config } from './config/index.ts';
import { systemClock, type Clock } from './lib/clock.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { instrumentPort } from './lib/instrument.ts';
import { createMetrics, type Metrics } from './lib/metrics.ts';
import { createHttpServer } from './web/http/server.ts';
import { registerWriteRoutes } from './web/http/write-routes.ts';

export interface Daemon {
  config: Readonly<Config>;
  app: FastifyInstance;
  tree: Tree;
  log: CommandLog;
  stores: Map<string, ShardStore>;
  metrics: Metrics;
  logger: Logger;
  context: DaemonContext;
  /** http://host:port once listening. */
  url: string;
  stop(reason?: string): Promise<void>;
}

export interface DaemonOptions {
  clock?: Clock;
  logger?: Logger;
  /** Replaces adapters (tests inject stand-ins with fault hooks). */
  adapters?: { log?: CommandLog; stores?: Map<string, ShardStore>; caches?: Map<string, CacheStore>; search?: SearchIndex };
  /** Replaces the feature list (tests attach only what they exercise). */
  features?: FeatureFactory[];
  onFatal?: (path: string, err: unknown) => void;
  /** The context exists (before features and the tree start): a give-up or crash during start-up can record it. */
  onContext?: (context: DaemonContext) => void;
  /** Replaces the failover leader election (tests); `leaderSessionTimeoutMs` tunes the Kafka one. */
  election?: LeaderElection;
  leaderSessionTimeoutMs?: number;
}

export async function startDaemon(config: Readonly<Config>, opts: DaemonOptions = {}): Promise<Daemon> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger({ level: config.log.level });
  const metrics = createMetrics();
  // Every adapter call is timed into tagstream_backend_seconds (lib/instrument: a Proxy, adapters unaware).
  const timed = <T extends object>(port: T, backend: string, target: string): T => instrumentPort(port, { backend, target, clock, observe: (labels, s) => metrics.backendSeconds.observe(labels, s) });
  const log = timed(opts.adapters?.log ?? createCommandLog(config, logger), 'kafka', 'log');
  const stores = new Map([...(opts.adapters?.stores ?? (await createShardStores(config, logger, { clock })))].map(([n, s]) => [n, timed(s, 'postgres', n)]));
  const caches = new Map([...(opts.adapters?.caches ?? createCacheStores(config, logger, clock))].map(([n, c]) => [n, timed(c, 'redis', n)]));
  const search = timed(opts.adapters?.search ?? createSearchIndex(config, logger, clock), 'search', 'index');
  const inspection = createInspectionBus({ capacity: config.flightRecorder.capacity });
  // One failover leader per deployment, elected by Kafka group membership (README "Running several daemons").
  const daemonId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  let advertisedUrl: string | null = null;
  const election = opts.election ?? createLeaderElection(config, { logger, clock, daemonId, ...(opts.leaderSessionTimeoutMs ? { sessionTimeoutMs: opts.leaderSessionTimeoutMs } : {}) });
  const leader = new Leader({ election, control: new ControlLog(log, election.topic, { clock, groupId: `${config.kafka.groupId}.control.${daemonId}` }), clock, logger: logger.child({ component: 'leader' }), url: () => advertisedUrl });
  leader.onChange((s) => {
    metrics.failoverLeader.set(s.leader ? 1 : 0);
    metrics.failoverLeaderTerm.set(s.current?.term ?? 0);
  });
  metrics.failoverLeader.set(0);
  const attached: Feature[] = [];
  let draining = false;
  let started = false;

  const tree = createTree({
    config,
    clock,
    logger,
    log,
    stores,
    onFatal: (path, err) => {
      logger.fatal({ path, err }, 'supervision gave up: the daemon stops (a process supervisor restarts it; replay covers in-flight work)');
      opts.onFatal?.(path, err);
    },
    hooks: {
      onBatch: ({ size, changed, ms }) => {
        metrics.batchSize.observe(size);
        metrics.batchSeconds.observe(ms / 1000);
        metrics.associationsChanged.inc(changed);
      },
      onGroupCommit: ({ cluster, members }) => metrics.groupCommitBatches.observe({ cluster }, members),
      onCommitted: (p, o) => metrics.committedOffset.set({ partition: String(p) }, Number(o)),
      onInvalid: (code) => metrics.commandsInvalid.inc({ code }),
      onDeadLetter: () => metrics.dlqRecords.inc(),
      onApplied: (items) => {
        if (items.length > 0) metrics.appliedCommands.inc({ cluster: clusterOfShard(config, items[0]!.shard) }, items.length);
      },
      onHeld: (cluster, n) => metrics.heldCommands.inc({ cluster }, n),
      onRefed: (cluster, n) => metrics.refedCommands.inc({ cluster }, n),
      onHoldMeasured: (s) => {
        metrics.clusterHeld.set({ cluster: s.cluster }, s.held ? 1 : 0);
        metrics.heldDepth.set({ cluster: s.cluster }, s.depth ?? 0);
        metrics.heldAgeSeconds.set({ cluster: s.cluster }, s.ageSeconds);
      },
    },
  });
  tree.system.onLifecycle((e) => {
    if (e.type === 'actor.restarted') metrics.actorRestarts.inc({ kind: e.path.split('/')[2] ?? 'root' });
    if (e.type === 'actor.dead-letter') metrics.actorDeadLetters.inc();
  });

  const notReadyReasons = () => {
    const reasons: string[] = [];
    if (!started) reasons.push('starting');
    if (draining) reasons.push('draining (shutdown in progress)');
    const stopped = tree.system.tree().filter((a) => a.status === 'stopped').map((a) => a.path);
    if (stopped.length > 0) reasons.push(`actors stopped: ${stopped.join(', ')}`);
    for (const f of attached) reasons.push(...(f.notReady?.() ?? []));
    return reasons;
  };
  const app = createHttpServer({
    logger: logger.child({ component: 'http' }),
    metrics,
    health: {
      notReadyReasons,
      status: () => ({
        profile: config.profile,
        started,
        draining,
        actors: tree.system.tree(),
        deadLetters: tree.system.deadLetters,
        committed: Object.fromEntries([...tree.ingest.committedOffsets()].map(([p, o]) => [p, o.toString()])),
        inFlight: tree.ingest.inFlight(),
        topology: Object.fromEntries([...stores].map(([n, s]) => [n, s.topology()])),
        hold: tree.hold.status(),
        leadership: leader.status(),
        ...Object.fromEntries(attached.filter((f) => f.status).map((f) => [f.name, f.status!()])),
      }),
    },
  });
  const heldCluster = (entity: string): string | null => {
    const cluster = clusterOfShard(config, shardOf(entity, config.shards.count));
    return tree.hold.holdReason(cluster) !== null ? cluster : null;
  };
  registerWriteRoutes(app, { log, topic: config.kafka.topic, limits: config.commands, applied: tree.applied, tokenSecret: config.http.tokenSecret, clock, isDraining: () => draining, heldCluster });

  const context: DaemonContext = {
    config,
    clock,
    logger,
    metrics,
    inspection,
    adapters: { log, stores, caches, search },
    tree,
    app,
    faults: new Map<string, FaultAction>(),
    readiness: notReadyReasons,
    features: new Map(),
    leader,
  };
  opts.onContext?.(context);
  for (const factory of opts.features ?? defaultFeatures) {
    const f = await factory(context);
    attached.push(f);
    context.features.set(f.name, f);
  }
  if (config.profile === 'production') context.faults.clear();
  // A cluster whose failover machine is busy (electing, promoting, fencing, degraded…) cannot take writes: hold it.
  tree.hold.setWritableProbe((cluster): Writability => {
    const failover = context.features.get('failover')?.api as FailoverApi | undefined; // Feature.api is untyped by design
    const state = failover?.monitors.get(cluster)?.status().state;
    if (state === undefined || state === 'healthy' || state === 'suspect' || state === 'stopped') return { ok: true };
    return { ok: false, reason: `failover machine: ${state}` };
  });

  await leader.start();
  await tree.start();
  for (const f of attached) await f.start?.();
  started = true;
  const url = await app.listen({ host: config.http.host, port: config.http.port });
  advertisedUrl = url;
  await leader.join();
  logger.info({ url, profile: config.profile, shards: config.shards.count, clusters: [...stores.keys()] }, 'tagstream started');

  let stopping: Promise<void> | null = null;
  return {
    config,
    app,
    tree,
    log,
    stores,
    metrics,
    logger,
    context,
    url,
    stop(reason = 'stop requested') {
      stopping ??= (async () => {
        logger.info({ reason }, 'draining');
        draining = true;
        for (const f of [...attached].reverse()) await f.stop?.().catch((err: unknown) => logger.warn({ err, feature: f.name }, 'feature stop failed'));
        await leader.stop().catch((err: unknown) => logger.warn({ err }, 'leaving the leader group failed'));
        await tree.stop(10_000);
        await app.close();
        for (const s of stores.values()) await s.close().catch(() => undefined);
        for (const c of caches.values()) await c.close().catch(() => undefined);
        await search.close().catch(() => undefined);
        await log.close().catch(() => undefined);
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}
