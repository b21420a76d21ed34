// The indexing slice's operator tools without a daemon (local/production profiles): the DLQ replayer and
// reconcile built straight on Kafka, Elasticsearch and PostgreSQL from the config — what `tagstream dlq` and
// `tagstream reconcile` fall back to when no daemon answers (or with --standalone).
import { createUsageStore } from '../../adapters/analytics/index.ts';
import { createCommandLog } from '../../adapters/kafka/index.ts';
import { leaderGroupOf } from '../../adapters/kafka/leader-election.ts';
import { createShardStores, discoverPrimaries } from '../../adapters/pg/index.ts';
import { createSearchIndex } from '../../adapters/search/index.ts';
import { createAnalyticsTarget } from '../../actors/analytics/analytics-target.ts';
import { createReplicationProof } from '../../actors/analytics/replication-proof.ts';
import { createWritersRedrive, type RedriveTarget } from '../../actors/dlq/redrive.ts';
import { DlqReplayer } from '../../actors/dlq/replayer.ts';
import { createSearchTarget } from '../../actors/indexer/search-target.ts';
import { redriveRecords } from '../../actors/sink/sink.ts';
import type { SinkTarget } from '../../actors/sink/target.ts';
import { clusterOfShard } from '../../actors/tree.ts';
import type { Config } from '../../config/index.ts';
import { systemClock } from '../../lib/clock.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { createBreaker } from '../../machines/index.ts';
import { reconcile, type ReconcileOptions, type ReconcileReport } from './reconcile.ts';

/** The DLQ replayer's consumer group (the daemon and the standalone tools share it). */
export function replayerGroupOf(config: Readonly<Config>): string {
  return `${config.kafka.groupId}-dlq-replayer`;
}

export interface Standalone {
  replayer: DlqReplayer;
  /** Daemons of this deployment running now (members of the failover leader's group): singletons are theirs. */
  daemonsRunning(): Promise<number>;
  reconcile(opts: ReconcileOptions): Promise<ReconcileReport>;
  close(): Promise<void>;
}

export async function openStandalone(config: Readonly<Config>, logger: Logger): Promise<Standalone> {
  if (config.profile === 'embedded') throw new TagstreamError(ErrorCodes.BAD_REQUEST, 'the embedded profile keeps everything inside the daemon: run these commands against a running daemon (npm start), not --standalone');
  const clock = systemClock;
  const abort = new AbortController();
  const log = createCommandLog(config, logger, clock);
  const stores = await createShardStores(config, logger, { clock });
  // The primary is found the way the daemon finds it (probes, newest timeline), never assumed to be nodes[0].
  await discoverPrimaries(stores, logger);
  const index = createSearchIndex(config, logger, clock);
  const clusterOf = (s: number) => clusterOfShard(config, s);
  const usage = createUsageStore(config, { stores, clusterOfShard: clusterOf, logger, clock });
  const asTarget = <I>(target: SinkTarget<I>): RedriveTarget => {
    const breaker = createBreaker(config.breaker, { clock, name: target.name });
    return { name: target.name, redrive: (records, signal) => redriveRecords(records, { target, breaker, clock, policy: config.retry, signal: signal ?? abort.signal }) };
  };
  const targets = new Map<string, RedriveTarget>([
    [config.kafka.groupId, createWritersRedrive({ stores, clusterOfShard: clusterOf, shardCount: config.shards.count, limits: config.commands, clock, retry: config.retry })],
    [config.indexer.groupId, asTarget(createSearchTarget({ index, limits: config.commands, shardCount: config.shards.count }))],
    [config.indexer.analyticsGroupId, asTarget(createAnalyticsTarget({ store: usage, limits: config.commands, replicated: createReplicationProof({ stores, clock, signal: abort.signal }) }))],
  ]);
  const replayer = new DlqReplayer({
    log,
    dlqTopic: config.kafka.dlqTopic,
    parkingTopic: config.kafka.parkingTopic,
    groupId: replayerGroupOf(config),
    routes: { writersGroup: config.kafka.groupId, targets },
    clock,
    logger,
    ratePerSec: config.dlq.replayRatePerSec,
    maxReplays: config.dlq.maxReplays,
    signal: abort.signal,
    alert: (parked) => logger.error({ parked: parked.length }, `ALERT: ${parked.length} dead letter(s) parked after failing their replays`),
  });
  return {
    replayer,
    daemonsRunning: () => log.groupMembers(leaderGroupOf(config)),
    reconcile: (opts) => reconcile({ stores, clusterOfShard: clusterOf, shardCount: config.shards.count, index, clock }, opts),
    async close() {
      abort.abort();
      await Promise.all([log.close(), index.close(), usage.close(), ...[...stores.values()].map((s) => s.close())].map((p) => p.catch(() => undefined)));
    },
  };
}
