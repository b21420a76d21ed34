// Search indexing, analytics and the DLQ (issue 7): two sinks on one machinery — the search index and the
// analytics roll-up, each its own consumer group, pool of workers and breaker — the DLQ replayer actor, the
// freshness tracker, GET /v1/search, the operator routes behind `tagstream dlq` and `tagstream reconcile`,
// and fault injections. Wired into the daemon by one line in features/index.ts.
import { createUsageStore, type UsageEvent, type UsageStore } from '../../adapters/analytics/index.ts';
import type { BulkItem } from '../../adapters/search/port.ts';
import { createAnalyticsTarget } from '../../actors/analytics/analytics-target.ts';
import { createReplicationProof } from '../../actors/analytics/replication-proof.ts';
import { createDeadLetterSink } from '../../actors/dlq/dead-letter.ts';
import type { DeadLetterView } from '../../actors/dlq/dlq-record.ts';
import { createWritersRedrive, type RedriveTarget } from '../../actors/dlq/redrive.ts';
import { replayerSpec, type ReplayerMsg } from '../../actors/dlq/replayer-actor.ts';
import { DlqReplayer, type PassOptions, type PassResult } from '../../actors/dlq/replayer.ts';
import { createSearchTarget } from '../../actors/indexer/search-target.ts';
import { DegradedSearch } from './degraded-search.ts';
import { isolateChild, restartWithBackoff, resumeOnPoison } from '../../actors/runtime/policy.ts';
import { Sink } from '../../actors/sink/sink.ts';
import type { SinkTarget } from '../../actors/sink/target.ts';
import { clusterOfShard } from '../../actors/tree.ts';
import type { TimerHandle } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import { createBreaker, type Breaker, type OperatorState } from '../../machines/index.ts';
import type { DaemonContext, Feature, FeatureFactory } from '../feature.ts';
import { indexingKey } from '../keys.ts';
import { Freshness, type FreshnessSnapshot } from './freshness.ts';
import { createIndexingMetrics } from './metrics.ts';
import { reconcile, type ReconcileOptions, type ReconcileReport } from './reconcile.ts';
import { registerIndexingRoutes } from './routes.ts';
import { replayerGroupOf } from './standalone.ts';

export interface IndexingOptions {
  /** Documents per bulk request (and events per analytics statement). */
  batchSize?: number;
  batchWindowMs?: number;
  commitIntervalMs?: number;
  /** Consumer group of the DLQ replayer on the DLQ topic. */
  replayerGroupId?: string;
  freshnessPollMs?: number;
  /** Run the analytics sink (default true): a benchmark runs only the search index. */
  analytics?: boolean;
  /** Replaces the analytics store (tests). */
  usageStore?: UsageStore;
}

export interface IndexingApi {
  search: Sink<BulkItem>;
  analytics: Sink<UsageEvent> | null;
  usage: UsageStore;
  replayer: DlqReplayer;
  freshness: Freshness;
  /** Runs a DLQ pass in the replayer actor (serialized with the schedule). */
  dlqPass(opts: PassOptions): Promise<PassResult>;
  reconcile(opts: ReconcileOptions): Promise<ReconcileReport>;
  /** For the dashboard (features/controls.ts). */
  dlq: { depth(): Promise<number>; replay(opts: { limit?: number }): Promise<PassResult> };
  breakers: { list(): Array<{ name: string; state: string; guards: string; retryAt: number | null; trips: number; rejected: number }>; force(name: string, state: OperatorState | 'auto'): void };
}

/** The indexing section of /status: each sink (search, analytics) with how fresh the index is behind the log. */
export interface IndexingStatus {
  sinks: Array<ReturnType<Sink<BulkItem>['status']> & { freshness: FreshnessSnapshot | null }>;
}

export function createIndexingFeature(options: IndexingOptions = {}): FeatureFactory<IndexingStatus> {
  return (ctx: DaemonContext): Feature<IndexingStatus> => {
    const { config, clock, metrics, tree } = ctx;
    const logger = ctx.logger.child({ feature: 'indexing' });
    const { log, search: index, stores } = ctx.adapters;
    const m = createIndexingMetrics(metrics);
    const topic = config.kafka.topic;
    const clusterOf = (shard: number) => clusterOfShard(config, shard);
    const usage = options.usageStore ?? createUsageStore(config, { stores, clusterOfShard: clusterOf, logger, clock });
    const sup = config.supervision;
    const workerPolicy = resumeOnPoison(restartWithBackoff({ backoff: { initialMs: sup.restartInitialMs, multiplier: 2, maxMs: sup.restartMaxMs, jitter: 0.2 }, maxRestarts: sup.maxRestarts, withinMs: sup.withinMs, inspect: ctx.inspection }));
    // A storm in one worker parks that worker (then stops it); it never takes the daemon down.
    const childPolicy = isolateChild({ coolDownMs: sup.restartMaxMs, maxEscalations: 3, withinMs: 10 * 60_000 });
    const supervisor = tree.system.spawn({ name: 'indexing', kind: 'supervisor', init: () => null, receive: (s: null) => s, childPolicy }, tree.root);
    const dlq = createDeadLetterSink(log, config.kafka.dlqTopic, () => metrics.dlqRecords.inc());
    const freshness = new Freshness({ log, topic, clock, metrics, refreshIntervalMs: config.elasticsearch.refreshIntervalMs });

    const breakers: Array<{ breaker: Breaker; guards: string }> = [];
    const makeSink = <I>(target: SinkTarget<I>, groupId: string, guards: string): Sink<I> => {
      const breaker = createBreaker(config.breaker, { clock, name: target.name, inspect: ctx.inspection });
      breakers.push({ breaker, guards });
      const sink: Sink<I> = new Sink<I>({
        target,
        topic,
        groupId,
        poolSize: config.indexer.poolSize,
        batchSize: options.batchSize ?? 1_000,
        batchWindowMs: options.batchWindowMs ?? 50,
        mailboxCapacity: 64,
        commitIntervalMs: options.commitIntervalMs ?? 200,
        probes: config.breaker.halfOpenProbes,
        log,
        dlq,
        breaker,
        retry: config.retry,
        prepareRetry: config.retryLoops.sinkPrepare,
        rewindRetry: config.retryLoops.sinkRewind,
        system: tree.system,
        parent: supervisor,
        workerPolicy,
        childPolicy,
        clock,
        logger,
        inspect: ctx.inspection,
        hooks: {
          onDone: (how, item) => {
            m.records.inc({ sink: target.name, outcome: how });
            if (how === 'written' || how === 'stale' || how === 'superseded') {
              m.writeToIndexed.observe({ sink: target.name }, Math.max(0, clock.now() - item.timestamp) / 1_000);
              freshness.written(target.name, item.timestamp, target.name === 'search');
            }
          },
          onRetry: (cls) => metrics.retries.inc({ component: target.name, class: cls }),
          onWrite: ({ ms }) => m.writeSeconds.observe({ sink: target.name }, ms / 1_000),
          onBreaker: (t) => m.paused.set({ sink: target.name }, t.to === 'open' || t.to === 'forced-open' || t.to === 'half-open' ? 1 : 0),
        },
      });
      freshness.track(target.name, groupId, () => sink.consumer.committedOffsets());
      return sink;
    };

    const searchSink = makeSink<BulkItem>(createSearchTarget({ index, limits: config.commands, shardCount: config.shards.count }), config.indexer.groupId, 'Elasticsearch (indexer)');
    const analyticsSink = options.analytics !== false ? makeSink<UsageEvent>(createAnalyticsTarget({ store: usage, limits: config.commands, replicated: createReplicationProof({ stores, clock }) }), config.indexer.analyticsGroupId, 'analytics store') : null;
    const sinks: Array<Sink<BulkItem> | Sink<UsageEvent>> = [searchSink, ...(analyticsSink ? [analyticsSink] : [])];

    const asTarget = <I>(s: Sink<I>): RedriveTarget => ({ name: s.name, redrive: (records, signal) => s.redrive(records, signal) });
    const abort = new AbortController();
    const targets = new Map<string, RedriveTarget>([
      [config.kafka.groupId, createWritersRedrive({ stores, clusterOfShard: clusterOf, shardCount: config.shards.count, limits: config.commands, clock, retry: config.retry, inspect: ctx.inspection })],
      [config.indexer.groupId, asTarget(searchSink)],
      ...(analyticsSink ? [[config.indexer.analyticsGroupId, asTarget(analyticsSink)] as [string, RedriveTarget]] : []),
    ]);
    const alert = (parked: DeadLetterView[]) => {
      m.alerts.inc();
      logger.error({ parked: parked.map((p) => ({ source: p.source, consumer: p.consumer, code: p.code, reason: p.parkedReason })) }, `ALERT: ${parked.length} dead letter(s) parked after failing their replays; they need a human`);
      const url = config.dlq.alertWebhook;
      if (url) {
        void fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event: 'tagstream.dlq.parked', count: parked.length, parked }), signal: AbortSignal.timeout(5_000) }).catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'alert webhook failed'));
      }
    };
    const replayer = new DlqReplayer({
      log,
      dlqTopic: config.kafka.dlqTopic,
      parkingTopic: config.kafka.parkingTopic,
      groupId: options.replayerGroupId ?? replayerGroupOf(config),
      routes: { writersGroup: config.kafka.groupId, targets },
      clock,
      logger,
      ratePerSec: config.dlq.replayRatePerSec,
      maxReplays: config.dlq.maxReplays,
      signal: abort.signal,
      alert,
      onOutcome: (o) => m.replayed.inc({ outcome: o }),
    });
    const replayerActor = tree.system.spawn(replayerSpec(replayer, { policy: workerPolicy, onTickError: (err) => logger.warn({ err: errorMessage(err) }, 'scheduled DLQ pass failed; next tick tries again'), ...(ctx.leader ? { leader: ctx.leader } : {}) }), supervisor);
    const dlqPass = (opts: PassOptions) =>
      new Promise<PassResult>((reply, reject) => {
        replayerActor.send({ type: 'dlq.pass', opts, reply, reject } satisfies ReplayerMsg).catch(reject);
      });
    const runReconcile = async (opts: ReconcileOptions) => {
      const report = await reconcile({ stores, clusterOfShard: clusterOf, shardCount: config.shards.count, index, clock }, opts);
      for (const [kind, n] of Object.entries(report.drift)) if (kind !== 'total') m.drift.set({ kind }, n);
      return report;
    };

    const degradedSearch = new DegradedSearch(index, { config, clock, inspection: ctx.inspection, onDegraded: (reason) => metrics.featuresLimited.inc({ endpoint: 'search', reason: reason.startsWith('search index unavailable (breaker') ? 'breaker-open' : 'index-error' }) });
    breakers.push({ breaker: degradedSearch.breaker, guards: 'Elasticsearch (search reads)' });
    registerIndexingRoutes(
      ctx.app,
      {
        adminToken: config.http.adminToken,
        limits: config.commands,
        shardCount: config.shards.count,
        search: (tag, limit) => degradedSearch.search(tag, limit),
        freshness: () => ({ ...freshness.snapshot('search'), breaker: searchSink.breaker.state(), paused: searchSink.consumer.isPaused(), refreshIntervalMs: config.elasticsearch.refreshIntervalMs }),
        usage: (q) => usage.usage(q),
        dlqList: (opts) => replayer.list(opts),
        dlqPass,
        reconcile: runReconcile,
      },
      () => clock.now(),
    );

    if (config.profile !== 'production') registerFaults(ctx, usage);

    const breakerControl: IndexingApi['breakers'] = {
      list: () =>
        breakers.map(({ breaker, guards }) => {
          const s = breaker.stats();
          return { name: breaker.name, state: s.state, guards, retryAt: s.retryAt, trips: s.trips, rejected: s.rejected };
        }),
      force(name, state) {
        const b = breakers.find((x) => x.breaker.name === name);
        if (!b) throw new Error(`no indexing breaker named "${name}"`);
        b.breaker.force(state === 'auto' ? 'closed' : state);
      },
    };
    const api: IndexingApi = {
      search: searchSink,
      analytics: analyticsSink,
      usage,
      replayer,
      freshness,
      dlqPass,
      reconcile: runReconcile,
      dlq: { depth: () => replayer.depth(), replay: (o) => dlqPass({ ...(o.limit !== undefined ? { limit: o.limit } : {}) }) },
      breakers: breakerControl,
    };

    const timers: { poll: TimerHandle | null; tick: TimerHandle | null; prune: TimerHandle | null } = { poll: null, tick: null, prune: null };
    const every = (key: keyof typeof timers, ms: number, fn: () => Promise<void> | void) => {
      const arm = () => {
        timers[key] = clock.setTimeout(() => {
          timers[key] = null;
          Promise.resolve()
            .then(fn)
            .catch((err: unknown) => logger.debug({ err: errorMessage(err), task: key }, 'periodic task failed'))
            .finally(() => {
              if (!abort.signal.aborted) arm();
            });
        }, ms);
      };
      arm();
    };

    ctx.features.provide(indexingKey, api);
    return {
      name: 'indexing',
      controls: { breakers: api.breakers, dlq: api.dlq },
      async start() {
        for (const s of sinks) void s.start().catch((err: unknown) => logger.error({ err, sink: s.name }, 'sink failed to start'));
        every('poll', options.freshnessPollMs ?? 1_000, () => freshness.poll());
        every('tick', config.dlq.replayIntervalMs, () => void replayerActor.tell({ type: 'dlq.tick' }));
        // Positions older than a week (Kafka's default retention) cannot come back: forget them hourly.
        // A singleton: only the failover leader prunes (several daemons share the store).
        every('prune', 3_600_000, async () => void (ctx.leader && !ctx.leader.isLeader() ? undefined : await usage.prune(clock.now() - 7 * 86_400_000)));
      },
      async stop() {
        for (const t of Object.values(timers)) if (t !== null) clock.clearTimeout(t);
        await Promise.all(sinks.map((s) => s.stop(10_000).catch((err: unknown) => logger.warn({ err, sink: s.name }, 'sink stop failed'))));
        abort.abort();
        replayerActor.stop('shutting down');
        for (const { breaker } of breakers) breaker.stop();
        if (!options.usageStore) await usage.close().catch(() => undefined);
      },
      notReady: () => [],
      status: () => ({
        sinks: sinks.map((s) => ({ ...s.status(), freshness: freshness.snapshot(s.name) })),
      }),
    };
  };
}

function registerFaults(ctx: DaemonContext, usage: UsageStore): void {
  const index = ctx.adapters.search.faults;
  if (index) {
    ctx.faults.set('search-down', { name: 'search-down', description: 'The embedded search index stops answering (the indexer breaker opens and pauses its partitions)', inject: async () => index.setAvailable(false), heal: async () => index.setAvailable(true) });
  } else if (ctx.config.profile === 'local') {
    ctx.faults.set('search-down', {
      name: 'search-down',
      description: 'Kill the local Elasticsearch node (SIGKILL); heal starts it again',
      inject: async () => (await import('../../services/index.ts')).killElasticsearch(ctx.config),
      heal: async () => (await import('../../services/index.ts')).startElasticsearch(ctx.config),
    });
  }
  const analytics = usage.faults;
  if (analytics) {
    ctx.faults.set('analytics-down', { name: 'analytics-down', description: 'The embedded analytics store stops answering', inject: async () => analytics.setAvailable(false), heal: async () => analytics.setAvailable(true) });
  }
}

export const indexingFeature: FeatureFactory<IndexingStatus> = createIndexingFeature();
