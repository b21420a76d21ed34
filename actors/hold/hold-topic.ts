// The hold topic of a cluster: where the ingest parks the commands of a cluster that cannot take writes.
// A held record keeps the original bytes as its value and its source position in headers, so the re-feeder
// applies it with its original (partition, offset): last writer wins by that position (contract 2).
import type { LogMessage, LogRecord } from '../../adapters/kafka/port.ts';

export const HoldHeaders = {
  sourceTopic: 'x-hold-source-topic',
  sourcePartition: 'x-hold-source-partition',
  sourceOffset: 'x-hold-source-offset',
  cluster: 'x-hold-cluster',
  reason: 'x-hold-reason',
  heldAt: 'x-hold-at',
} as const;

export function holdTopicName(commandTopic: string, cluster: string): string {
  return `${commandTopic}.hold.${cluster}`;
}

export function holdGroupId(writersGroup: string, cluster: string): string {
  return `${writersGroup}.hold.${cluster}`;
}

export interface HeldSource {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string;
}

export function heldMessage(src: HeldSource, cluster: string, reason: string, at: number): LogMessage {
  return {
    key: src.key,
    value: src.value,
    headers: {
      [HoldHeaders.sourceTopic]: src.topic,
      [HoldHeaders.sourcePartition]: String(src.partition),
      [HoldHeaders.sourceOffset]: src.offset,
      [HoldHeaders.cluster]: cluster,
      [HoldHeaders.reason]: reason.slice(0, 200),
      [HoldHeaders.heldAt]: String(at),
    },
  };
}

/** The original position of a held record; null if its headers are not a hold's (it is dead-lettered). */
export function heldPosition(rec: LogRecord): { topic: string; partition: number; offset: string; heldAt: number } | null {
  const h = rec.headers;
  const partition = Number(h[HoldHeaders.sourcePartition]);
  const offset = h[HoldHeaders.sourceOffset];
  if (!Number.isInteger(partition) || partition < 0 || !offset || !/^\d+$/.test(offset)) return null;
  const heldAt = Number(h[HoldHeaders.heldAt]);
  return { topic: h[HoldHeaders.sourceTopic] ?? '', partition, offset, heldAt: Number.isFinite(heldAt) ? heldAt : rec.timestamp };
}
