// KafkaCommandLog: CommandLog over kafkajs 2.2. acks=all and an idempotent producer, the Java-compatible
// murmur2 partitioner (partitionForKey, shared with MemoryCommandLog), consumers with explicit commits,
// admin calls for offsets, and a group-less read through a throwaway consumer. Every call is bounded, and every
// public method's errors (the subscription's too) leave classified (toKafkaError).
import type { Admin } from 'kafkajs';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { converting } from '../driver-errors.ts';
import { deadline, unknownTopic, type RedeliveryFactory } from './delivery.ts';
import { toKafkaError } from './errors.ts';
import { createKafkaClient, defaultKafkaRetry, type KafkaClient, type KafkaClientOptions } from './kafka-client.ts';
import { KafkaProducer } from './kafka-producer.ts';
import { readPartition } from './kafka-read.ts';
import { KafkaSubscription, type KafkaSubscriptionDeps } from './kafka-subscription.ts';
import { fetchTopicOffsets } from './topic-offsets.ts';
import type { CommandLog, LogMessage, LogRecord, ProduceResult, SubscribeOptions, Subscription, TopicPartitionOffset } from './port.ts';

export interface KafkaCommandLogOptions extends KafkaClientOptions {
  logger: Logger;
  clock?: Clock;
  random?: () => number;
  /** Idempotent producer (PID + sequence numbers): the broker drops duplicates of its own retries. */
  idempotent?: boolean;
  /** Partitions of one consumer handled at the same time. */
  concurrency?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Longest wait of a fetch for new records: the floor of consume latency when idle. */
  maxWaitMs?: number;
  joinTimeoutMs?: number;
  readTimeoutMs?: number;
  /**
   * Bound of one produce or admin call, retries included. kafkajs nests its retriers (send → metadata →
   * connect), so against a dead broker a call can otherwise take a minute; past this it fails retriably.
   */
  operationTimeoutMs?: number;
  /** The back-off before a batch whose handler threw is delivered again (default: timerRedelivery). */
  redelivery?: RedeliveryFactory;
}

export class KafkaCommandLog implements CommandLog {
  private readonly kafka: KafkaClient;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly subscriptions = new Set<KafkaSubscription>();
  private readonly producer: KafkaProducer;
  private admin: { client: Admin; ready: Promise<void> } | null = null;
  private closed = false;

  constructor(private readonly opts: KafkaCommandLogOptions) {
    this.logger = opts.logger.child({ component: 'kafka-command-log' });
    this.kafka = createKafkaClient(opts, opts.logger);
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.producer = new KafkaProducer(this.kafka, {
      clock: this.clock,
      retry: { ...defaultKafkaRetry, ...opts.retry },
      idempotent: opts.idempotent ?? true,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      operationTimeoutMs: this.operationTimeoutMs,
    });
  }

  async ensureTopic(name: string, partitions: number): Promise<void> {
    await this.withAdmin(`ensureTopic ${name}`, async (admin) => {
      try {
        await admin.createTopics({ topics: [{ topic: name, numPartitions: partitions }], waitForLeaders: true, timeout: this.opts.requestTimeoutMs ?? 10_000 });
      } catch (err) {
        if (!isTopicExists(err)) throw err;
      }
    });
  }

  produce(topic: string, messages: LogMessage[]): Promise<ProduceResult[]> {
    return converting(this.producer.send(topic, messages), toKafkaError);
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    if (this.closed) throw new TagstreamError(ErrorCodes.SHUTTING_DOWN, 'command log is closed');
    const deps: KafkaSubscriptionDeps = {
      kafka: this.kafka,
      logger: this.logger,
      clock: this.clock,
      random: this.random,
      concurrency: this.opts.concurrency ?? 4,
      joinTimeoutMs: this.opts.joinTimeoutMs ?? 60_000,
      commitTimeoutMs: this.operationTimeoutMs,
      onStop: (s) => this.subscriptions.delete(s),
      ...(this.opts.redelivery ? { redelivery: this.opts.redelivery } : {}),
      consumer: {
        sessionTimeout: this.opts.sessionTimeoutMs ?? 10_000,
        rebalanceTimeout: 30_000,
        heartbeatInterval: this.opts.heartbeatIntervalMs ?? 1_000,
        maxWaitTimeInMs: this.opts.maxWaitMs ?? 250,
        allowAutoTopicCreation: false,
        retry: { ...defaultKafkaRetry, ...this.opts.retry },
      },
    };
    const sub = new KafkaSubscription(deps, opts);
    await converting(sub.start(), toKafkaError);
    this.subscriptions.add(sub);
    return new ClassifiedSubscription(sub);
  }

  async committed(groupId: string, topic: string): Promise<Map<number, string>> {
    const res = await this.withAdmin(`committed ${groupId}`, (admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
    const out = new Map<number, string>();
    for (const t of res) for (const p of t.partitions) if (p.offset !== '-1' && p.offset !== '') out.set(p.partition, p.offset);
    return out;
  }

  async endOffsets(topic: string): Promise<Map<number, string>> {
    const res = await this.withAdmin(`endOffsets ${topic}`, (admin) => fetchTopicOffsets(admin, topic));
    return new Map(res.map((p) => [p.partition, p.high]));
  }

  async groupMembers(groupId: string): Promise<number> {
    const { groups } = await this.withAdmin(`describeGroups ${groupId}`, (admin) => admin.describeGroups([groupId]));
    return groups.find((g) => g.groupId === groupId)?.members.length ?? 0;
  }

  async partitionCount(topic: string): Promise<number> {
    const { topics } = await this.withAdmin(`partitionCount ${topic}`, (admin) => admin.fetchTopicMetadata({ topics: [topic] }));
    const t = topics.find((x) => x.name === topic);
    if (!t) throw toKafkaError(unknownTopic(topic));
    return t.partitions.length;
  }

  read(topic: string, partition: number, fromOffset: string, limit: number): Promise<LogRecord[]> {
    const groupId = `${this.opts.clientId}-read-${this.clock.now().toString(36)}-${this.random().toString(36).slice(2, 10)}`;
    const deps = { kafka: this.kafka, clock: this.clock, groupId, timeoutMs: this.opts.readTimeoutMs ?? 60_000, admin: this.withAdmin.bind(this) };
    return converting(readPartition(deps, topic, partition, fromOffset, limit), toKafkaError);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop().catch((err: unknown) => this.logger.warn({ err }, 'stopping a subscription failed'))));
    await this.producer.close();
    if (this.admin) {
      const a = this.admin.client;
      this.admin = null;
      await a.disconnect().catch(() => undefined);
    }
  }

  private get operationTimeoutMs(): number {
    return this.opts.operationTimeoutMs ?? 10_000;
  }

  /**
   * Runs an admin call within the operation bound; a call that overran drops the client (it may be stuck). Its
   * errors leave classified (every admin call of the public methods goes through here).
   */
  private async withAdmin<T>(what: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
    const entry = this.admin;
    try {
      return await deadline(this.clock, this.adminClient().then(fn), this.operationTimeoutMs, what);
    } catch (err) {
      if ((err as { code?: unknown }).code === ErrorCodes.TIMEOUT && this.admin && (entry === null || this.admin === entry)) {
        const stuck = this.admin.client;
        this.admin = null;
        void stuck.disconnect().catch(() => undefined);
      }
      throw toKafkaError(err);
    }
  }

  private async adminClient(): Promise<Admin> {
    if (this.closed) throw new TagstreamError(ErrorCodes.SHUTTING_DOWN, 'command log is closed');
    if (!this.admin) {
      const client = this.kafka.admin({ retry: { ...defaultKafkaRetry, ...this.opts.retry } });
      const entry = { client, ready: client.connect() };
      this.admin = entry;
      entry.ready.catch(() => {
        if (this.admin === entry) this.admin = null; // the next call connects again
      });
    }
    await this.admin.ready;
    return this.admin.client;
  }
}

/** The subscription as callers see it: what its calls throw leaves classified, like the log's own calls. */
class ClassifiedSubscription implements Subscription {
  constructor(private readonly inner: KafkaSubscription) {}
  pause(topic: string, partitions: number[]): void {
    this.inner.pause(topic, partitions);
  }
  resume(topic: string, partitions: number[]): void {
    this.inner.resume(topic, partitions);
  }
  paused(): Array<{ topic: string; partition: number }> {
    return this.inner.paused();
  }
  seek(topic: string, partition: number, offset: string): void {
    try {
      this.inner.seek(topic, partition, offset);
    } catch (err) {
      throw toKafkaError(err);
    }
  }
  commit(offsets: TopicPartitionOffset[]): Promise<void> {
    return converting(this.inner.commit(offsets), toKafkaError);
  }
  stop(): Promise<void> {
    return converting(this.inner.stop(), toKafkaError);
  }
}

function isTopicExists(err: unknown): boolean {
  const e = err as { type?: unknown; errors?: unknown[]; cause?: unknown };
  if (e?.type === 'TOPIC_ALREADY_EXISTS') return true;
  if (Array.isArray(e?.errors) && e.errors.length > 0) return e.errors.every(isTopicExists);
  return false;
}
