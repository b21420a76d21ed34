// A group-less read of one partition for KafkaCommandLog.read: kafkajs has no assign(), so a throwaway
// group of one member seeks to the start, reads up to the high watermark known beforehand, commits nothing,
// and is deleted afterwards.
import type { Admin } from 'kafkajs';
import type { Clock } from '../../lib/clock.ts';
import { deadline, parseOffset, unknownTopic } from './delivery.ts';
import { defaultKafkaRetry, toLogRecord, type KafkaClient } from './kafka-client.ts';
import type { LogRecord } from './port.ts';
import { fetchTopicOffsets } from './topic-offsets.ts';

export interface ReadDeps {
  kafka: KafkaClient;
  clock: Clock;
  groupId: string;
  timeoutMs: number;
  admin<T>(what: string, fn: (admin: Admin) => Promise<T>): Promise<T>;
}

export async function readPartition(deps: ReadDeps, topic: string, partition: number, fromOffset: string, limit: number): Promise<LogRecord[]> {
  const from = BigInt(parseOffset(fromOffset));
  if (limit <= 0) return [];
  const offsets = (await deps.admin(`read ${topic}`, (admin) => fetchTopicOffsets(admin, topic))).find((p) => p.partition === partition);
  if (!offsets) throw unknownTopic(`${topic}[${partition}]`);
  const start = from > BigInt(offsets.low) ? from : BigInt(offsets.low);
  const end = BigInt(offsets.high) < from + BigInt(limit) ? BigInt(offsets.high) : from + BigInt(limit);
  if (start >= end) return [];

  const { groupId } = deps;
  const consumer = deps.kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 100, allowAutoTopicCreation: false, retry: { ...defaultKafkaRetry, retries: 2 } });
  const out = new Map<bigint, LogRecord>();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  // The listener runs inside the join, before the first fetch: the seek is in place when fetching starts.
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const others = (e.payload.memberAssignment[topic] ?? []).filter((p) => p !== partition);
    if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
    consumer.seek({ topic, partition, offset: String(start) });
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        if (batch.partition !== partition) return;
        for (const m of batch.messages) {
          const o = BigInt(m.offset);
          if (o >= start && o < end) out.set(o, toLogRecord(topic, partition, m));
        }
        resolveOffset(batch.lastOffset());
        if (BigInt(batch.lastOffset()) >= end - 1n) finish();
      },
    });
    await deadline(deps.clock, finished, deps.timeoutMs, `read of ${topic}[${partition}] from ${fromOffset}`);
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await deps.admin(`delete group ${groupId}`, (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
  }
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r).slice(0, limit);
}
