// CommandLog: a partitioned, replayable log with consumer groups and explicitly committed offsets.
// Real: KafkaCommandLog (kafkajs). Embedded: MemoryCommandLog. Offsets are decimal strings (Kafka int64).
import type { OutageHooks } from '../fault-hooks.ts';

export interface LogMessage {
  key: string | null;
  value: string;
  headers?: Record<string, string>;
  /** Explicit partition; otherwise chosen from the key with the Kafka default partitioner (murmur2). */
  partition?: number;
}

export interface LogRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  timestamp: number;
}

export interface ProduceResult {
  topic: string;
  partition: number;
  offset: string;
}

export interface LogBatch {
  topic: string;
  partition: number;
  records: LogRecord[];
  /** Offset of the next record the broker will append (log end offset), never at or below the batch's last record: lag = highWatermark - next offset ≥ 0. */
  highWatermark: string;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read (Kafka convention: last processed + 1). */
  offset: string;
}

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. */
  fromBeginning: boolean;
  /**
   * Called with each fetched batch, in order per partition, one batch in flight per partition. Offsets are
   * never committed automatically. If it throws, the same records are delivered again after a back-off
   * (100 ms doubling to 5 s, per partition); other partitions keep flowing.
   */
  eachBatch: (batch: LogBatch) => Promise<void>;
  /**
   * Called after every rebalance with this member's complete assignment. Rebalances are eager: every
   * assigned partition restarts from the group's committed offset (uncommitted progress is read again).
   */
  onAssign?: (assigned: Array<{ topic: string; partition: number }>) => void;
}

export interface Subscription {
  /** Stops delivery of these partitions (a batch already in the handler finishes) until resume(); kept across rebalances. */
  pause(topic: string, partitions: number[]): void;
  resume(topic: string, partitions: number[]): void;
  paused(): Array<{ topic: string; partition: number }>;
  /**
   * Move the read position of a partition (e.g. back to the committed offset to re-apply a lost window).
   * Ignored for a partition this member is not assigned. A seek made while a batch is in the handler wins
   * over that batch: its completion does not move the position.
   */
  seek(topic: string, partition: number, offset: string): void;
  /** Rejects after stop(), and (retriably) while the member is out of its group. */
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  stop(): Promise<void>;
}

export interface CommandLog {
  ensureTopic(name: string, partitions: number): Promise<void>;
  /** Appends with acks=all; resolves once the log has the messages durably. Topics must exist (ensureTopic). */
  produce(topic: string, messages: LogMessage[]): Promise<ProduceResult[]>;
  /** Joins the group; resolves once the member has its assignment and positions, so later records reach it. */
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  /** Committed offsets of a group (partitions with none are absent). */
  committed(groupId: string, topic: string): Promise<Map<number, string>>;
  /** Log end offset per partition. */
  endOffsets(topic: string): Promise<Map<number, string>>;
  /** Members a consumer group has right now (0 for an empty, dead or unknown group). */
  groupMembers(groupId: string): Promise<number>;
  /** Reads records [from, from+limit) of one partition without a group (checker, DLQ listing). */
  read(topic: string, partition: number, fromOffset: string, limit: number): Promise<LogRecord[]>;
  partitionCount(topic: string): Promise<number>;
  close(): Promise<void>;
  /** Present on the embedded stand-in only: fault injection (adapters/fault-hooks.ts). */
  readonly faults?: OutageHooks;
}
