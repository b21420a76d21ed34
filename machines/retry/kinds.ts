// Every loop in the daemon that retries, by kind. A retry machine's id is `retry:<kind>[:<detail>]`: the
// dashboard's retry card lists these kinds, and tagstream_retries_total{component} counts by kind.
export const RETRY_KINDS = [
  /** A sink's batch write (search index, analytics) — actors/sink/write-with-retry.ts. */
  'sink-write',
  /** A dead letter re-driven into the shards — actors/dlq/redrive.ts. */
  'dlq-redrive',
  /** A shard writer's batch on its cluster's primary — actors/shard-writer/apply.ts. */
  'shard-apply',
  /** A sink's target being prepared (index template, tables) — actors/sink/sink.ts. */
  'sink-prepare',
  /** A sink consumer re-delivering from its committed offsets after a failed write — actors/sink/sink-consumer.ts. */
  'sink-rewind',
  /** A command-log partition whose handler threw, delivered again — adapters/kafka/kafka-subscription.ts. */
  'log-redelivery',
  /** A start-up step (topics, migrations) — machines/retry/startup.ts. */
  'startup',
  /** A crashed actor restarted by its supervisor — actors/runtime/policy.ts. */
  'supervision-restart',
  /** The ingest reading its committed offsets to rewind to them — actors/ingest/ingest.ts. */
  'ingest-rewind',
  /** A cluster's re-feeder reading its hold topic's committed offsets to rewind to them — actors/hold/refeeder.ts. */
  'refeeder-rewind',
] as const;

export type RetryKind = (typeof RETRY_KINDS)[number];

export function retryMachineId(kind: RetryKind, detail?: string): string {
  return detail ? `retry:${kind}:${detail}` : `retry:${kind}`;
}
