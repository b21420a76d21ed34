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

/** Messages sent in one request at most when callers' sends are put together (one caller's send is never split). */
const MAX_COALESCED = 5_000;

/**
 * Bytes (keys, values, headers, with a per-record allowance) of one produce request at most. The broker refuses a
 * partition's record batch above its message.max.bytes (1 MiB by default) whole, and again on every retry: a hold
 * diverting thousands of stuck commands at once looped on MESSAGE_TOO_LARGE (the soak bench, 2026-12-06). A larger
 * send goes out as several requests, one after another, so each partition keeps its order.
 */
export const MAX_REQUEST_BYTES = 512 * 1024;

interface Waiting {
  topic: string;
  messages: LogMessage[];
  resolve: (r: ProduceResult[]) => void;
  reject: (err: unknown) => void;
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
  private readonly waiting: Waiting[] = [];
  private sending = false;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly opts: KafkaProducerOptions,
  ) {}

  /**
   * Sends `messages` (in order) and resolves with each one's position. Sends that arrive while one is in flight
   * wait and then go out together as one request (the idempotent producer allows one in flight per broker, so
   * sending them one by one capped HTTP writes at one round trip each); each caller gets its own results.
   */
  send(topic: string, messages: LogMessage[]): Promise<ProduceResult[]> {
    if (messages.length === 0) return Promise.resolve([]);
    if (this.closed) return Promise.reject(new TagstreamError(ErrorCodes.SHUTTING_DOWN, 'command log is closed'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ topic, messages, resolve, reject });
      if (!this.sending) void this.pump();
    });
  }

  /** Sends everything waiting, a topic's run of callers at a time, until nothing waits. */
  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (this.waiting.length > 0) {
        const group = this.takeGroup();
        try {
          const results = await this.sendSplit(group[0]!.topic, group.length === 1 ? group[0]!.messages : group.flatMap((g) => g.messages));
          let at = 0;
          for (const g of group) {
            g.resolve(results.slice(at, at + g.messages.length));
            at += g.messages.length;
          }
        } catch (err) {
          for (const g of group) g.reject(err);
        }
      }
    } finally {
      this.sending = false;
    }
  }

  /** The oldest waiting send and every later one to the same topic, up to MAX_COALESCED messages in all. */
  private takeGroup(): Waiting[] {
    const first = this.waiting.shift()!;
    const group = [first];
    let n = first.messages.length;
    for (let i = 0; i < this.waiting.length && n < MAX_COALESCED; ) {
      const w = this.waiting[i]!;
      if (w.topic === first.topic && n + w.messages.length <= MAX_COALESCED) {
        group.push(w);
        n += w.messages.length;
        this.waiting.splice(i, 1);
      } else if (w.topic === first.topic) break; // keeps the order of one topic's sends
      else i++;
    }
    return group;
  }

  /**
   * `messages` in requests of at most MAX_REQUEST_BYTES (a single larger message goes alone: the broker decides).
   * If a later request fails, the earlier ones are in the log and the caller's retry produces them again: at least
   * once, as for any failed send.
   */
  private async sendSplit(topic: string, messages: LogMessage[]): Promise<ProduceResult[]> {
    const chunks: LogMessage[][] = [];
    let start = 0;
    let size = 0;
    for (let i = 0; i < messages.length; i++) {
      const b = messageBytes(messages[i]!);
      if (i > start && size + b > MAX_REQUEST_BYTES) {
        chunks.push(messages.slice(start, i));
        start = i;
        size = 0;
      }
      size += b;
    }
    if (start === 0) return this.sendNow(topic, messages);
    chunks.push(messages.slice(start));
    const results: ProduceResult[] = [];
    for (const chunk of chunks) for (const r of await this.sendNow(topic, chunk)) results.push(r);
    return results;
  }

  private async sendNow(topic: string, messages: LogMessage[]): Promise<ProduceResult[]> {
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

/** A record's size in a batch, roughly: key, value and headers in UTF-8, plus a record's fixed overhead. */
function messageBytes(m: LogMessage): number {
  let n = 32 + Buffer.byteLength(m.value) + (m.key === null ? 0 : Buffer.byteLength(m.key));
  if (m.headers) for (const k in m.headers) n += 8 + Buffer.byteLength(k) + Buffer.byteLength(m.headers[k]!);
  return n;
}
