// Prometheus metrics, all prefixed tagstream_. One registry per daemon (tests create their own).
import client from 'prom-client';

export function createMetrics() {
  const registry = new client.Registry();
  const m = {
    registry,
    commandsIngested: new client.Counter({ name: 'tagstream_commands_ingested_total', help: 'Commands read from the command topic', registers: [registry] }),
    commandsInvalid: new client.Counter({ name: 'tagstream_commands_invalid_total', help: 'Commands rejected at the edge, by error code', labelNames: ['code'], registers: [registry] }),
    batchSize: new client.Histogram({ name: 'tagstream_writer_batch_size', help: 'Commands per applied shard batch', buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 5000], registers: [registry] }),
    batchSeconds: new client.Histogram({ name: 'tagstream_writer_batch_seconds', help: 'Time to apply one shard batch', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5], registers: [registry] }),
    groupCommitBatches: new client.Histogram({ name: 'tagstream_writer_group_commit_batches', help: 'Shard batches applied in one cluster transaction (group commit)', labelNames: ['cluster'], buckets: [1, 2, 4, 8, 16, 32, 64], registers: [registry] }),
    counterFolds: new client.Counter({ name: 'tagstream_counter_folds_total', help: 'Folds of a cluster\'s appended counter deltas into its counters, by outcome (ok, failed)', labelNames: ['cluster', 'outcome'], registers: [registry] }),
    counterFoldRows: new client.Counter({ name: 'tagstream_counter_fold_rows_total', help: 'Appended counter-delta rows (one per write batch that changed a count) folded into the counters', labelNames: ['cluster'], registers: [registry] }),
    associationsChanged: new client.Counter({ name: 'tagstream_associations_changed_total', help: 'Associations whose state really changed', registers: [registry] }),
    committedOffset: new client.Gauge({ name: 'tagstream_consumer_committed_offset', help: 'Committed offset per partition (writers group)', labelNames: ['partition'], registers: [registry] }),
    consumerLag: new client.Gauge({ name: 'tagstream_consumer_lag', help: 'Log end offset minus committed offset, per consumer group and partition', labelNames: ['group', 'partition'], registers: [registry] }),
    dlqRecords: new client.Counter({ name: 'tagstream_dlq_records_total', help: 'Records sent to the dead letter topic', registers: [registry] }),
    dlqDepth: new client.Gauge({ name: 'tagstream_dlq_depth', help: 'Records in the dead letter topic not yet replayed', registers: [registry] }),
    parkingDepth: new client.Gauge({ name: 'tagstream_parking_depth', help: 'Records in the parking topic', registers: [registry] }),
    retries: new client.Counter({ name: 'tagstream_retries_total', help: 'Retries by component and error class', labelNames: ['component', 'class'], registers: [registry] }),
    breakerState: new client.Gauge({ name: 'tagstream_breaker_state', help: '1 for the current state of each breaker', labelNames: ['breaker', 'state'], registers: [registry] }),
    breakerTransitions: new client.Counter({ name: 'tagstream_breaker_transitions_total', help: 'Breaker state transitions', labelNames: ['breaker', 'from', 'to'], registers: [registry] }),
    actorRestarts: new client.Counter({ name: 'tagstream_actor_restarts_total', help: 'Actor restarts', labelNames: ['kind'], registers: [registry] }),
    actorDeadLetters: new client.Counter({ name: 'tagstream_actor_dead_letters_total', help: 'Messages sent to stopped actors', registers: [registry] }),
    operatorAlerts: new client.Counter({ name: 'tagstream_operator_alerts_total', help: 'Alerts raised for an actor stopped by an error only an operator can fix (privileges, credentials)', labelNames: ['kind', 'source'], registers: [registry] }),
    mailboxDepth: new client.Gauge({ name: 'tagstream_actor_mailbox_depth', help: 'Messages waiting in an actor mailbox', labelNames: ['actor'], registers: [registry] }),
    failovers: new client.Counter({ name: 'tagstream_failovers_total', help: 'Cluster failovers by outcome', labelNames: ['cluster', 'outcome'], registers: [registry] }),
    failoverSeconds: new client.Histogram({ name: 'tagstream_failover_seconds', help: 'Time from primary loss detected to writes flowing on the new primary', labelNames: ['cluster'], buckets: [0.5, 1, 2, 5, 10, 20, 30, 60], registers: [registry] }),
    backendSeconds: new client.Histogram({ name: 'tagstream_backend_seconds', help: 'Backend call latency by backend (postgres, redis, kafka, search), target (cluster, instance), operation and outcome', labelNames: ['backend', 'target', 'op', 'outcome'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry] }),
    searchLagSeconds: new client.Histogram({ name: 'tagstream_write_to_searchable_seconds', help: 'Command time to searchable in the index', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300], registers: [registry] }),
    replicaLagBytes: new client.Gauge({ name: 'tagstream_replica_lag_bytes', help: 'WAL bytes a replica has not replayed yet (primary current LSN minus replica replay LSN)', labelNames: ['cluster', 'node'], registers: [registry] }),
    nodeUp: new client.Gauge({ name: 'tagstream_pg_node_up', help: '1 when the PostgreSQL node answered its last probe, by role', labelNames: ['cluster', 'node', 'role'], registers: [registry] }),
    failoverLeader: new client.Gauge({ name: 'tagstream_failover_leader', help: '1 while this daemon is the failover leader of the deployment (elected by Kafka group membership), else 0', registers: [registry] }),
    failoverLeaderTerm: new client.Gauge({ name: 'tagstream_failover_leader_term', help: 'Latest leadership term in the control log', registers: [registry] }),
    promotions: new client.Counter({ name: 'tagstream_failover_promotions_total', help: 'pg_promote calls this daemon made, by cluster and node', labelNames: ['cluster', 'node'], registers: [registry] }),
    topologyEpoch: new client.Gauge({ name: 'tagstream_topology_epoch', help: 'Latest topology decision epoch this daemon applied, per cluster', labelNames: ['cluster'], registers: [registry] }),
    failoverState: new client.Gauge({ name: 'tagstream_failover_state', help: '1 for the current state of each cluster failover machine', labelNames: ['cluster', 'state'], registers: [registry] }),
    actors: new client.Gauge({ name: 'tagstream_actors', help: 'Actors in the supervision tree by status', labelNames: ['status'], registers: [registry] }),
    operatorActions: new client.Counter({ name: 'tagstream_operator_actions_total', help: 'Operator actions (dashboard, CLI) by action and outcome', labelNames: ['action', 'outcome'], registers: [registry] }),
    readRequests: new client.Counter({ name: 'tagstream_read_requests_total', help: 'Read API answers by endpoint and source (cache, replica, primary, database, last-known-good, none)', labelNames: ['endpoint', 'source'], registers: [registry] }),
    readSeconds: new client.Histogram({ name: 'tagstream_read_seconds', help: 'Read API latency inside the daemon, by endpoint', labelNames: ['endpoint'], buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry] }),
    featuresLimited: new client.Counter({ name: 'tagstream_features_limited_total', help: 'Non-critical answers degraded to last-known-good or empty, by endpoint and reason', labelNames: ['endpoint', 'reason'], registers: [registry] }),
    cacheLookups: new client.Counter({ name: 'tagstream_cache_lookups_total', help: 'Cache shard lookups by cache and result (hit, miss, stale, error, bypass)', labelNames: ['cache', 'result'], registers: [registry] }),
    cacheEpochAdvances: new client.Counter({ name: 'tagstream_cache_epoch_advances_total', help: 'Key epochs a cache shard moved on to (after an outage, a lost invalidation, a restart) or adopted', labelNames: ['cache', 'reason'], registers: [registry] }),
    bulkheadInFlight: new client.Gauge({ name: 'tagstream_bulkhead_in_flight', help: 'Calls running inside each bulkhead', labelNames: ['bulkhead'], registers: [registry] }),
    bulkheadRejected: new client.Counter({ name: 'tagstream_bulkhead_rejected_total', help: 'Calls a bulkhead refused (queue full or waited too long)', labelNames: ['bulkhead'], registers: [registry] }),
    clusterHeld: new client.Gauge({ name: 'tagstream_cluster_held', help: '1 while a cluster is held: its commands go to its hold topic (it cannot take writes, or its hold is not drained)', labelNames: ['cluster'], registers: [registry] }),
    heldDepth: new client.Gauge({ name: 'tagstream_held_depth', help: 'Commands in a cluster\'s hold topic not yet re-fed and replicated', labelNames: ['cluster'], registers: [registry] }),
    heldAgeSeconds: new client.Gauge({ name: 'tagstream_held_age_seconds', help: 'Age of the oldest command still in a cluster\'s hold topic (approximate; 0 when empty)', labelNames: ['cluster'], registers: [registry] }),
    heldCommands: new client.Counter({ name: 'tagstream_held_commands_total', help: 'Commands produced to a cluster\'s hold topic', labelNames: ['cluster'], registers: [registry] }),
    refedCommands: new client.Counter({ name: 'tagstream_refed_commands_total', help: 'Held commands handed back to a cluster\'s shard writers by its re-feeder', labelNames: ['cluster'], registers: [registry] }),
    appliedCommands: new client.Counter({ name: 'tagstream_applied_commands_total', help: 'Commands applied on a cluster\'s primary (per-cluster write rate)', labelNames: ['cluster'], registers: [registry] }),
    eventLoopDelay: new client.Gauge({ name: 'tagstream_event_loop_delay_seconds', help: 'Event-loop delay over the last 10 s window (quantile 0.5, 0.99, or max): how long a ready callback waited for the daemon\'s one thread', labelNames: ['quantile'], registers: [registry] }),
    httpRequests: new client.Counter({ name: 'tagstream_http_requests_total', help: 'HTTP requests by route and status class', labelNames: ['route', 'status'], registers: [registry] }),
  };
  client.collectDefaultMetrics({ register: registry, prefix: 'tagstream_' });
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
