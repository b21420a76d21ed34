// The producing half of KafkaCommandLog: acks=all, idempotent, keys placed by partitionForKey, and the
// offset of every message worked out from the per-partition base offsets kafkajs reports.
import kafkajs, { type Message, type Producer, type RetryOptions } from 'kafkajs';
import type { Clock } from '../../lib/clock.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';
import { deadline } from './delivery.ts';
import type { KafkaClient } from './kafka-client.ts';
import { partitionForKey } from './partitioner.ts';
import type { LogMessage, ProduceResult } from './port.ts';

const { Partitioners } = kafkajs;

export interface KafkaProducerOptions {
  clock: Clock;
  retry: RetryOptions;
  idempotent: boolean;
  requestTimeoutMs: number;
  /** Bound of one send, kafkajs' own retries included. */
  operationTimeoutMs: number;
}

interface Slot {
  producer: Producer;
  ready: Promise<void>;
  inFlight: number;
  retired: boolean;
}

export class KafkaProducer {
  /** Which partition the partitioner picked for each message object of a send. */
  private readonly decided = new WeakMap<object, number>();
  private slot: Slot | null = null;
  private closed = false;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly opts: KafkaProducerOptions,
  ) {}

  async send(topic: string, messages: LogMessage[]): Promise<ProduceResult[]> {
    if (messages.length === 0) return [];
    const slot = this.current();
    slot.inFlight++;
    const sent: Message[] = messages.map((m) => ({ key: m.key, value: m.value, ...(m.headers ? { headers: { ...m.headers } } : {}), ...(m.partition !== undefined ? { partition: m.partition } : {}) }));
    try {
      const send = slot.ready.then(() => slot.producer.send({ topic, messages: sent, acks: -1, timeout: this.opts.requestTimeoutMs }));
      const meta = await deadline(this.opts.clock, send, this.opts.operationTimeoutMs, `produce to ${topic}`);
      const base = new Map(meta.map((r) => [r.partition, BigInt(r.baseOffset ?? r.offset ?? '0')]));
      const seen = new Map<number, bigint>();
      // kafkajs groups a send per partition in message order, so the i-th message of a partition is base + i.
      return sent.map((m) => {
        const partition = this.decided.get(m);
        const first = partition === undefined ? undefined : base.get(partition);
        if (partition === undefined || first === undefined) throw new TagstreamError(ErrorCodes.TIMEOUT, `no produce result for a message to ${topic}`, { retriable: true });
        const i = seen.get(partition) ?? 0n;
        seen.set(partition, i + 1n);
        return { topic, partition, offset: String(first + i) };
      });
    } catch (err) {
      // After a failed (or timed-out) send the broker may or may not hold it; kafkajs rewinds its sequence
      // numbers, so a different next batch could be mistaken for a duplicate. A fresh producer (new PID)
      // cannot be. The caller retries: at least once, which idempotent apply downstream absorbs.
      this.retire(slot);
      throw err;
    } finally {
      slot.inFlight--;
      if (slot.retired && slot.inFlight === 0) void slot.producer.disconnect().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const slot = this.slot;
    this.slot = null;
    if (slot) await slot.producer.disconnect().catch(() => undefined);
  }

  private current(): Slot {
    if (this.closed) throw new TagstreamError(ErrorCodes.SHUTTING_DOWN, 'command log is closed');
    if (this.slot && !this.slot.retired) return this.slot;
    const decided = this.decided;
    const producer = this.kafka.producer({
      idempotent: this.opts.idempotent,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: this.opts.retry,
      createPartitioner: () => {
        const fallback = Partitioners.DefaultPartitioner(); // keyless records: kafkajs' round-robin
        return (args) => {
          const { message, partitionMetadata } = args;
          const key = message.key;
          const p = message.partition ?? (key !== null && key !== undefined ? partitionForKey(typeof key === 'string' ? key : new Uint8Array(key), partitionMetadata.length) : fallback(args));
          decided.set(message, p);
          return p;
        };
      },
    });
    const slot: Slot = { producer, ready: producer.connect(), inFlight: 0, retired: false };
    slot.ready.catch(() => this.retire(slot));
    this.slot = slot;
    return slot;
  }

  private retire(slot: Slot): void {
    slot.retired = true;
    if (this.slot === slot) this.slot = null;
  }
}
