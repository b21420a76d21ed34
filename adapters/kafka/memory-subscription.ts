// One member of a consumer group of MemoryCommandLog: delivers batches of its assigned partitions, one
// batch in flight per partition, in offset order; pause, resume, seek, explicit commits, redelivery.
import type { Logger } from '../../lib/logger.ts';
import type { Clock } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import { parseOffset, subscriptionStopped, tpKey, type Redelivery } from './delivery.ts';
import { toKafkaError } from './errors.ts';
import type { LogRecord, SubscribeOptions, Subscription, TopicPartitionOffset } from './port.ts';

/** What a member needs from the log it belongs to. */
export interface MemberHost {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random: () => number;
  readonly maxBatchRecords: number;
  available(): boolean;
  records(topic: string, partition: number, from: number, limit: number): LogRecord[];
  endOffset(topic: string, partition: number): number;
  committedOffset(groupId: string, topic: string, partition: number): number | undefined;
  commit(groupId: string, offsets: TopicPartitionOffset[]): Promise<void>;
  leave(member: MemorySubscription): Promise<void>;
  deliveryStarted(): void;
  deliveryEnded(): void;
  /** The back-off before a batch whose handler threw is delivered again, one per member and assignment. */
  redelivery(groupId: string): Redelivery;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  position: number;
  /** Bumped by seek(): a batch in flight when it changes does not move the position. */
  seekEpoch: number;
  inFlight: Promise<void> | null;
}

export class MemorySubscription implements Subscription {
  private parts = new Map<string, PartitionState>();
  private userPaused = new Map<string, { topic: string; partition: number }>();
  private stopped = false;
  /** Set while the group rebalances: nothing new is delivered until the new assignment. */
  private frozen = true;
  private redelivery: Redelivery;

  constructor(
    private readonly host: MemberHost,
    readonly opts: SubscribeOptions,
    readonly memberId: string,
  ) {
    this.redelivery = host.redelivery(opts.groupId);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Stops new deliveries and resolves once the batches in flight are done (a rebalance barrier). */
  async freeze(): Promise<void> {
    this.frozen = true;
    await Promise.all([...this.parts.values()].map((s) => s.inFlight));
  }

  /** A new assignment, as after an eager rebalance: every position restarts from the committed offset. */
  assign(assigned: Array<{ topic: string; partition: number }>): void {
    // Every position restarts from the committed offset: no back-off carries over.
    this.redelivery.stop();
    this.redelivery = this.host.redelivery(this.opts.groupId);
    this.parts.clear();
    for (const { topic, partition } of assigned) {
      const committed = this.host.committedOffset(this.opts.groupId, topic, partition);
      const position = committed ?? (this.opts.fromBeginning ? 0 : this.host.endOffset(topic, partition));
      this.parts.set(tpKey(topic, partition), { topic, partition, position, seekEpoch: 0, inFlight: null });
    }
    this.frozen = false;
    try {
      this.opts.onAssign?.(assigned.map((a) => ({ ...a })));
    } catch (err) {
      this.host.logger.error({ err, groupId: this.opts.groupId }, 'onAssign handler threw');
    }
    this.kickAll();
  }

  assignment(): Array<{ topic: string; partition: number }> {
    return [...this.parts.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /** True when some partition has records it could deliver right now. */
  hasDeliverable(): boolean {
    for (const s of this.parts.values()) if (s.inFlight === null && this.deliverable(s)) return true;
    return false;
  }

  kickAll(): void {
    for (const s of this.parts.values()) this.kick(s);
  }

  pause(topic: string, partitions: number[]): void {
    for (const partition of partitions) this.userPaused.set(tpKey(topic, partition), { topic, partition });
  }

  resume(topic: string, partitions: number[]): void {
    for (const partition of partitions) {
      this.userPaused.delete(tpKey(topic, partition));
      const s = this.parts.get(tpKey(topic, partition));
      if (s) this.kick(s);
    }
  }

  paused(): Array<{ topic: string; partition: number }> {
    return [...this.userPaused.values()].map((p) => ({ ...p }));
  }

  seek(topic: string, partition: number, offset: string): void {
    if (this.stopped) throw toKafkaError(subscriptionStopped(this.opts.groupId));
    const s = this.parts.get(tpKey(topic, partition));
    if (!s) return; // like kafkajs: a seek on a partition this member does not own is ignored
    s.position = parseOffset(offset);
    s.seekEpoch++;
    this.kick(s);
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    if (this.stopped) throw toKafkaError(subscriptionStopped(this.opts.groupId));
    for (const o of offsets) parseOffset(o.offset);
    await this.host.commit(this.opts.groupId, offsets);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.freeze();
    this.redelivery.stop();
    this.parts.clear();
    await this.host.leave(this);
  }

  private deliverable(s: PartitionState): boolean {
    return (
      !this.stopped &&
      !this.frozen &&
      !this.redelivery.holding(s) &&
      !this.userPaused.has(tpKey(s.topic, s.partition)) &&
      this.host.available() &&
      s.position < this.host.endOffset(s.topic, s.partition)
    );
  }

  private kick(s: PartitionState): void {
    if (s.inFlight !== null || !this.deliverable(s)) return;
    this.host.deliveryStarted();
    s.inFlight = this.deliver(s).finally(() => {
      s.inFlight = null;
      this.kick(s);
      this.host.deliveryEnded();
    });
  }

  private async deliver(s: PartitionState): Promise<void> {
    await Promise.resolve(); // always asynchronous, never inside the caller's produce()
    if (!this.current(s) || !this.deliverable(s)) return; // paused, stopped or unavailable meanwhile: no "fetch"
    const records = this.host.records(s.topic, s.partition, s.position, this.host.maxBatchRecords);
    if (records.length === 0) return;
    const epoch = s.seekEpoch;
    const batch = { topic: s.topic, partition: s.partition, records, highWatermark: String(this.host.endOffset(s.topic, s.partition)) };
    try {
      await this.opts.eachBatch(batch);
      this.redelivery.succeeded(s);
      if (this.current(s) && s.seekEpoch === epoch) s.position = parseOffset(records[records.length - 1]!.offset) + 1;
    } catch (err) {
      if (!this.current(s)) return;
      this.host.logger.error({ err, errMessage: errorMessage(err), topic: s.topic, partition: s.partition, offset: records[0]!.offset }, 'eachBatch handler threw; the batch will be delivered again');
      this.redelivery.failed(s, err, () => this.kick(s));
    }
  }

  private current(s: PartitionState): boolean {
    return !this.stopped && this.parts.get(tpKey(s.topic, s.partition)) === s;
  }
}
