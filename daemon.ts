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
import { redeliveryWithRetryMachine } from './machines/retry/redelivery.ts';
import { clusterOfShard, createTree, type Tree } from './actors/tree.ts';
import { actorsNotReady } from './actors/runtime/readiness.ts';
import { operatorAlerts } from './actors/runtime/operator-alerts.ts';
import { failoverWritability } from './actors/hold/failover-writability.ts';
import { failoverKey } from './features/keys.ts';
import { FeatureRegistry } from './features/registry.ts';
import { shardOf } from './lib/command.ts';
import type { Config } from './config/index.ts';
import { systemClock, type Clock } from './lib/clock.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { instrumentPort } from './lib/instrument.ts';
import { startEventLoopDelay } from './lib/event-loop-delay.ts';
import { createMetrics, type Metrics } from './lib/metrics.ts';
import { createHttpServer } from './web/http/server.ts';
import { registerWriteRoutes } from './web/http/write-routes.ts';
import { waitRowApplied } from './actors/applied-on-primary.ts';
import { errorMessage } from './lib/errors.ts';

export interface Daemon {
  config: Readonly<Config>;
  app: FastifyInstance;
  tree: Tree;
  log: CommandLog;
  stores: Map<string, ShardStore>;
  metrics: Metrics;
  logger: Logger;
  context: DaemonContext;
  /** http://host:port once listening; '' when started with `listen: false` (reach it through `app.inject`). */
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
  /** false: open no socket — the routes answer `app.inject` only (unit tests: no sockets). Default true. */
  listen?: boolean;
}

export async function startDaemon(config: Readonly<Config>, opts: DaemonOptions = {}): Promise<Daemon> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger({ level: config.log.level });
  const metrics = createMetrics();
  // Every adapter call is timed into tagstream_backend_seconds (lib/instrument: a Proxy, adapters unaware).
  const timed = <T extends object>(port: T, backend: string, target: string): T => instrumentPort(port, { backend, target, clock, observe: (labels, s) => metrics.backendSeconds.observe(labels, s) });
  const inspection = createInspectionBus({ capacity: config.flightRecorder.capacity });
  // A partition whose handler threw is delivered again after a back-off of the retry machine (kind log-redelivery).
  const redelivery = redeliveryWithRetryMachine({ policy: config.retryLoops.logRedelivery, clock: systemClock, inspect: inspection, logger });
  const log = timed(opts.adapters?.log ?? createCommandLog(config, logger, systemClock, { redelivery }), 'kafka', 'log');
  const stores = new Map([...(opts.adapters?.stores ?? (await createShardStores(config, logger, { clock })))].map(([n, s]) => [n, timed(s, 'postgres', n)]));
  const caches = new Map([...(opts.adapters?.caches ?? createCacheStores(config, logger, clock))].map(([n, c]) => [n, timed(c, 'redis', n)]));
  const search = timed(opts.adapters?.search ?? createSearchIndex(config, logger, clock), 'search', 'index');
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
  const stopDelaySampler = startEventLoopDelay({
    clock,
    onWindow: (w) => {
      metrics.eventLoopDelay.set({ quantile: '0.5' }, w.p50);
      metrics.eventLoopDelay.set({ quantile: '0.99' }, w.p99);
      metrics.eventLoopDelay.set({ quantile: 'max' }, w.max);
    },
  });
  const attached: Feature[] = [];
  let draining = false;
  let started = false;

  const tree = createTree({
    config,
    clock,
    logger,
    log,
    stores,
    inspection,
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
      onCounterFold: (cluster, outcome) => {
        metrics.counterFolds.inc({ cluster, outcome: 'rows' in outcome ? 'ok' : 'failed' });
        if ('rows' in outcome) metrics.counterFoldRows.inc({ cluster }, outcome.rows);
      },
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
  // A revoked privilege or refused credentials stop the actor that met them (no retry, nothing dead-lettered):
  // an operator is told, in the log, the metric and the alert webhook.
  tree.system.onLifecycle(
    operatorAlerts({
      clock,
      everyMs: 10 * 60_000,
      onAlert: (a) => {
        metrics.operatorAlerts.inc({ kind: a.kind, source: a.source });
        logger.error({ alert: 'needs-operator', actor: a.path, source: a.source, err: a.error }, `${a.path} stopped on an error only an operator can fix (${a.source}: privileges or credentials); it is restarted with backoff and nothing is dead-lettered meanwhile`);
        const url = config.dlq.alertWebhook;
        if (url) void fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event: 'tagstream.actor.needs-operator', ...a }), signal: AbortSignal.timeout(5_000) }).catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'alert webhook failed'));
      },
    }),
  );

  const notReadyReasons = () => {
    const reasons: string[] = [];
    if (!started) reasons.push('starting');
    if (draining) reasons.push('draining (shutdown in progress)');
    reasons.push(...actorsNotReady(tree.system.tree()));
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
  const rowApplied = (entity: string, tag: string, offset: string, timeoutMs: number, signal: AbortSignal) => {
    const shard = shardOf(entity, config.shards.count);
    const store = stores.get(clusterOfShard(config, shard));
    return store ? waitRowApplied(store, clock, { shard, entity, tag, offset }, timeoutMs, signal) : Promise.resolve(null);
  };
  registerWriteRoutes(app, { log, topic: config.kafka.topic, limits: config.commands, applied: tree.applied, tokenSecret: config.http.tokenSecret, clock, isDraining: () => draining, heldCluster, consumes: (p) => tree.ingest.consumes(p), rowApplied });

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
    features: new FeatureRegistry(),
    leader,
  };
  opts.onContext?.(context);
  for (const factory of opts.features ?? defaultFeatures) {
    const f = await factory(context);
    attached.push(f);
    context.features.attach(f);
  }
  if (config.profile === 'production') context.faults.clear();
  // A cluster whose failover machine is busy (electing, promoting, fencing, degraded…), or whose primary has no
  // replica left, cannot take writes: hold it.
  tree.hold.setWritableProbe((cluster) => failoverWritability(context.features.api(failoverKey)?.monitors.get(cluster)?.status()));

  await leader.start();
  await tree.start();
  for (const f of attached) await f.start?.();
  started = true;
  let url = '';
  if (opts.listen === false) await app.ready();
  else {
    url = await app.listen({ host: config.http.host, port: config.http.port });
    advertisedUrl = config.http.advertisedUrl ?? url;
    if (!config.http.advertisedUrl && (config.http.host === '0.0.0.0' || config.http.host === '::')) {
      logger.warn({ url }, 'http.advertisedUrl is not set: NOT_LEADER answers and the leader record name this loopback-looking address; set it to how other hosts reach this daemon');
    }
  }
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
        stopDelaySampler();
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}
