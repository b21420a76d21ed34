// One kafkajs consumer as a Subscription: eachBatch with autoCommit off and eachBatchAutoResolve off. A
// batch is resolved only after our handler returns, so a handler that throws gets the batch again (the
// partition is paused for a back-off, then fetched again from the unresolved position; the back-off is the
// Redelivery given, in the daemon the retry machine's). Pause state is kept here too, because kafkajs forgets
// it when a crashed consumer restarts.
import type { Consumer, ConsumerConfig, EachBatchPayload } from 'kafkajs';
import type { Clock } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { KafkaClient } from './kafka-client.ts';
import { toLogRecord } from './kafka-client.ts';
import { deadline, LogError, parseOffset, subscriptionStopped, timerRedelivery, tpKey, type Redelivery, type RedeliveryFactory } from './delivery.ts';
import type { SubscribeOptions, Subscription, TopicPartitionOffset } from './port.ts';

/**
 * The high watermark to report for a fetched batch: the broker's, raised to just past the batch's last record.
 * A broker takes a partition's high watermark *before* it reads the log for a fetch (Kafka's Partition.readRecords
 * keeps "the log end offset prior to the read"), and the read itself bounds by the watermark at read time: a fetch
 * racing an append can return records at or above the watermark it reports (seen here: offsets 4..7, watermark 4).
 * The records prove the log reached lastOffset + 1, so the port's promise (lag = highWatermark - next offset ≥ 0)
 * holds without the race.
 */
export function batchHighWatermark(reported: string, lastOffset: string): string {
  const next = BigInt(lastOffset) + 1n;
  return BigInt(reported) >= next ? reported : String(next);
}

export interface KafkaSubscriptionDeps {
  kafka: KafkaClient;
  logger: Logger;
  clock: Clock;
  random: () => number;
  consumer: Omit<ConsumerConfig, 'groupId'>;
  /** Partitions whose batches are handled at the same time (each partition stays in order). */
  concurrency: number;
  /** How long subscribe() waits for the first assignment. */
  joinTimeoutMs: number;
  /** Bound of one commit, retries included (a frozen coordinator would otherwise hold it for a minute). */
  commitTimeoutMs: number;
  onStop?: (sub: KafkaSubscription) => void;
  /** The back-off before a batch whose handler threw is delivered again (default: timerRedelivery). */
  redelivery?: RedeliveryFactory;
}

type TP = { topic: string; partition: number };

export class KafkaSubscription implements Subscription {
  private readonly consumer: Consumer;
  private readonly logger: Logger;
  private userPaused = new Map<string, TP>();
  private readonly redelivery: Redelivery;
  private assigned = new Set<string>();
  private joined = false;
  private stopped = false;
  private onJoin: (() => void) | null = null;
  private onFirstFetch: (() => void) | null = null;

  constructor(
    private readonly deps: KafkaSubscriptionDeps,
    private readonly opts: SubscribeOptions,
  ) {
    this.logger = deps.logger.child({ groupId: opts.groupId });
    this.consumer = deps.kafka.consumer({ ...deps.consumer, groupId: opts.groupId });
    this.redelivery = deps.redelivery?.(opts.groupId) ?? timerRedelivery(deps.clock, deps.random);
    const { GROUP_JOIN, FETCH, CRASH, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => this.joinedGroup(e.payload.memberAssignment));
    this.consumer.on(FETCH, () => {
      if (!this.joined) return;
      this.onFirstFetch?.();
      this.onFirstFetch = null;
    });
    this.consumer.on(CRASH, (e) => {
      this.joined = false;
      this.logger.warn({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
    });
    this.consumer.on(STOP, () => void (this.joined = false));
  }

  /**
   * Connects, joins the group and resolves once the member is positioned: kafkajs resolves a partition
   * without a committed offset (to the log start or end) in its first fetch, so we wait for that fetch.
   * Then a record produced after subscribe() resolves is delivered even to a new group reading from the end
   * (exactly so with one broker; with several, the first fetch covers the partitions led by one of them).
   */
  async start(): Promise<void> {
    const joined = new Promise<void>((resolve) => (this.onJoin = resolve));
    const positioned = new Promise<void>((resolve) => (this.onFirstFetch = resolve));
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: [...this.opts.topics], fromBeginning: this.opts.fromBeginning });
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.deps.concurrency,
        eachBatch: (payload) => this.handle(payload),
      });
      await deadline(this.deps.clock, joined.then(() => positioned), this.deps.joinTimeoutMs, `joining group "${this.opts.groupId}"`);
    } catch (err) {
      this.stopped = true;
      await this.consumer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  pause(topic: string, partitions: number[]): void {
    for (const partition of partitions) this.userPaused.set(tpKey(topic, partition), { topic, partition });
    if (partitions.length > 0 && !this.stopped) this.consumer.pause([{ topic, partitions }]);
  }

  resume(topic: string, partitions: number[]): void {
    for (const partition of partitions) this.userPaused.delete(tpKey(topic, partition));
    const ready = partitions.filter((partition) => !this.redelivery.holding({ topic, partition }));
    if (ready.length > 0 && !this.stopped) this.consumer.resume([{ topic, partitions: ready }]);
  }

  paused(): TP[] {
    return [...this.userPaused.values()].map((p) => ({ ...p }));
  }

  seek(topic: string, partition: number, offset: string): void {
    if (this.stopped) throw subscriptionStopped(this.opts.groupId);
    parseOffset(offset);
    if (!this.assigned.has(tpKey(topic, partition))) return; // not ours: a seek would linger until assigned
    this.consumer.seek({ topic, partition, offset });
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    if (this.stopped) throw subscriptionStopped(this.opts.groupId);
    for (const o of offsets) parseOffset(o.offset);
    // kafkajs silently drops a commit while its consumer restarts after a crash: refuse it instead.
    if (!this.joined) throw new LogError('KafkaJSError', `consumer of group "${this.opts.groupId}" is not in the group right now`, { retriable: true, type: 'REBALANCE_IN_PROGRESS' });
    const commit = this.consumer.commitOffsets(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
    await deadline(this.deps.clock, commit, this.deps.commitTimeoutMs, `commit of group "${this.opts.groupId}"`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.deps.onStop?.(this);
    this.redelivery.stop();
    await this.consumer.disconnect();
  }

  private joinedGroup(assignment: Record<string, number[]>): void {
    this.joined = true;
    this.assigned = new Set(Object.entries(assignment).flatMap(([topic, ps]) => ps.map((p) => tpKey(topic, p))));
    const held = [...this.userPaused.values(), ...this.redelivery.held()];
    for (const { topic, partition } of held) this.consumer.pause([{ topic, partitions: [partition] }]);
    this.onJoin?.();
    this.onJoin = null;
    try {
      this.opts.onAssign?.(Object.entries(assignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition }))));
    } catch (err) {
      this.logger.error({ err }, 'onAssign handler threw');
    }
  }

  private async handle({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const key = tpKey(topic, partition);
    // Not resolved, so fetched again from the same position once resumed.
    if (this.stopped || !isRunning() || isStale() || this.userPaused.has(key) || this.redelivery.holding({ topic, partition })) return;
    const records = batch.messages.map((m) => toLogRecord(topic, partition, m));
    if (records.length === 0) {
      resolveOffset(batch.lastOffset()); // only control records (transaction markers)
      return;
    }
    try {
      await this.opts.eachBatch({ topic, partition, records, highWatermark: batchHighWatermark(batch.highWatermark, records[records.length - 1]!.offset) });
    } catch (err) {
      this.redeliverLater(topic, partition, records[0]!.offset, err);
      return;
    }
    this.redelivery.succeeded({ topic, partition });
    if (!isStale()) resolveOffset(batch.lastOffset());
    await heartbeat().catch((err: unknown) => this.logger.debug({ err }, 'heartbeat after batch failed'));
  }

  private redeliverLater(topic: string, partition: number, offset: string, err: unknown): void {
    const key = tpKey(topic, partition);
    this.logger.error({ err, errMessage: errorMessage(err), topic, partition, offset }, 'eachBatch handler threw; the batch will be delivered again');
    if (this.stopped) return;
    this.consumer.pause([{ topic, partitions: [partition] }]);
    this.redelivery.failed({ topic, partition }, err, () => {
      if (!this.stopped && !this.userPaused.has(key)) this.consumer.resume([{ topic, partitions: [partition] }]);
    });
  }
}
