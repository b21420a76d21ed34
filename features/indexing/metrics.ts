// The indexing slice's own series, registered on the daemon's registry next to the shared ones of lib/metrics.ts
// (consumer lag, write→searchable, DLQ/parking depth, retries, breaker state) that it also feeds.
import client from 'prom-client';
import type { Metrics } from '../../lib/metrics.ts';

export function createIndexingMetrics(metrics: Metrics) {
  const registers = [metrics.registry];
  return {
    records: new client.Counter({ name: 'tagstream_sink_records_total', help: 'Records finished by each sink, by outcome (written, stale, superseded, dead-lettered, skipped)', labelNames: ['sink', 'outcome'], registers }),
    writeSeconds: new client.Histogram({ name: 'tagstream_sink_write_seconds', help: 'One sink write (a bulk request with its retries)', labelNames: ['sink'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    writeToIndexed: new client.Histogram({ name: 'tagstream_write_to_indexed_seconds', help: 'From the command appended to Kafka to its write acknowledged by the sink', labelNames: ['sink'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300], registers }),
    paused: new client.Gauge({ name: 'tagstream_sink_paused', help: '1 while a sink has its partitions paused (breaker open or re-delivery back-off)', labelNames: ['sink'], registers }),
    replayed: new client.Counter({ name: 'tagstream_dlq_replay_records_total', help: 'Dead letters handled by the replayer, by outcome (replayed, failed, parked, held, skipped)', labelNames: ['outcome'], registers }),
    alerts: new client.Counter({ name: 'tagstream_dlq_alerts_total', help: 'Alerts raised for parked dead letters', registers }),
    drift: new client.Gauge({ name: 'tagstream_reconcile_drift', help: 'Drift found by the last reconcile run in this daemon, by kind', labelNames: ['kind'], registers }),
  };
}

export type IndexingMetrics = ReturnType<typeof createIndexingMetrics>;
