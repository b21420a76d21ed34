// The one config schema. Parsed once at start; every problem reported with its path; the result frozen.
import { z } from 'zod';

const hostPort = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });
const pgNode = hostPort.extend({ name: z.string().min(1) });

export const pgClusterSchema = z.object({
  name: z.string().min(1),
  /** Initial topology: the first node is the primary; the monitor learns the live one. */
  nodes: z.array(pgNode).min(1),
  database: z.string().min(1),
  user: z.string().min(1),
  password: z.string().optional(),
  /** Local profile only: where the launcher keeps the node's data directory (for promote/fence/re-seed). */
  dataDirs: z.array(z.string()).optional(),
  /** This cluster's failover where it differs from the `failover` section (e.g. the one cluster Patroni manages). */
  failover: z.object({ mode: z.enum(['builtin', 'patroni', 'off']).optional(), patroniUrls: z.array(z.string().url()).min(1).optional() }).optional(),
});

const breakerSchema = z.object({
  windowType: z.enum(['count', 'time']),
  windowSize: z.number().int().positive(),
  minimumCalls: z.number().int().positive(),
  failureRateThreshold: z.number().min(0).max(1),
  slowCallRateThreshold: z.number().min(0).max(1),
  slowCallMs: z.number().int().positive(),
  openMs: z.number().int().positive(),
  openMaxMs: z.number().int().positive(),
  openMultiplier: z.number().min(1),
  halfOpenProbes: z.number().int().positive(),
});

const bulkheadSchema = z.object({ maxConcurrent: z.number().int().min(1), maxQueue: z.number().int().min(0), queueTimeoutMs: z.number().int().positive() });

const backoffSchema = z.object({
  retries: z.number().int().min(0).max(20),
  initialMs: z.number().int().positive(),
  multiplier: z.number().min(1),
  maxMs: z.number().int().positive(),
  jitter: z.number().min(0).max(1),
});

/** A loop's back-off; each field defaults to the loop's own constant, so one field can be set alone. */
const loopBackoff = (d: { initialMs: number; maxMs: number }) => ({
  initialMs: z.number().int().positive().default(d.initialMs),
  multiplier: z.number().min(1).default(2),
  maxMs: z.number().int().positive().default(d.maxMs),
  jitter: z.number().min(0).max(1).default(0.2),
});

/**
 * The retry loops that retry until they succeed (or are stopped) and have a back-off of their own; the others
 * use `retry` (sink writes, DLQ re-drives; the shard writers' apply with `retry`'s back-off and no bound) or
 * `supervision` (restarts). Every one runs through the retry machine (machines/retry/kinds.ts names them).
 */
const retryLoopsSchema = z
  .object({
    /** A sink's target not ready (index template, tables): tried again until it is. */
    sinkPrepare: z.object(loopBackoff({ initialMs: 500, maxMs: 15_000 })).default({}),
    /** A sink consumer re-delivering from its committed offsets after a failed write. */
    sinkRewind: z.object(loopBackoff({ initialMs: 100, maxMs: 5_000 })).default({}),
    /** A command-log partition whose handler threw, delivered again. */
    logRedelivery: z.object(loopBackoff({ initialMs: 100, maxMs: 5_000 })).default({}),
    /** Start-up steps (topics, migrations): transient errors retried for at most `giveUpAfterMs`. */
    startup: z.object({ ...loopBackoff({ initialMs: 200, maxMs: 5_000 }), giveUpAfterMs: z.number().int().positive().default(60_000) }).default({}),
  })
  .default({});

export const configSchema = z.object({
    profile: z.enum(['embedded', 'local', 'production']),
    log: z.object({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
      /** auto: readable lines on a terminal, JSON lines otherwise (`npm start -- --log-format json` forces JSON). */
      format: z.enum(['auto', 'json', 'pretty']),
    }),
    http: z.object({
      host: z.string().min(1),
      port: z.number().int().min(0).max(65535),
      adminToken: z.string().min(16, 'must be at least 16 characters'),
      tokenSecret: z.string().min(16, 'must be at least 16 characters'),
      /** How other daemons and operators reach this one (named in NOT_LEADER answers and the leader record); default: the address it listens on. */
      advertisedUrl: z
        .string()
        .regex(/^https?:\/\/[^/\s]+/, 'must be an absolute http:// or https:// URL, e.g. http://tagstream-2.zone-b.internal:8080')
        .optional(),
    }),
    shards: z.object({
      count: z.number().int().min(1).max(4096),
      /** Logical shard → cluster name; shards not listed go round-robin over the clusters. */
      map: z.record(z.string(), z.string()).default({}),
    }),
    postgres: z.object({ clusters: z.array(pgClusterSchema).min(1), statementTimeoutMs: z.number().int().positive(), poolSize: z.number().int().positive() }),
    redis: z.object({ instances: z.array(hostPort.extend({ name: z.string() })).min(1), commandTimeoutMs: z.number().int().positive(), ttlSeconds: z.number().int().positive() }),
    kafka: z.object({
      brokers: z.array(z.string().regex(/^[^:]+:\d+$/, 'must be host:port')).min(1),
      clientId: z.string().min(1),
      topic: z.string().min(1),
      dlqTopic: z.string().min(1),
      parkingTopic: z.string().min(1),
      partitions: z.number().int().min(1),
      groupId: z.string().min(1),
      ssl: z.boolean(),
      sasl: z.object({ mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']), username: z.string(), password: z.string() }).optional(),
    }),
    elasticsearch: z.object({ node: z.string().url(), index: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be a lowercase index name'), refreshIntervalMs: z.number().int().positive(), username: z.string().optional(), password: z.string().optional() }),
    writer: z.object({
      batchSize: z.number().int().min(1).max(50_000),
      batchWindowMs: z.number().int().min(0),
      mailboxCapacity: z.number().int().min(1),
      /** The shard writers of one cluster share transactions: at most `maxInFlight` at once, each up to `maxRows` writes. */
      groupCommit: z.object({ maxRows: z.number().int().min(1).max(100_000), maxInFlight: z.number().int().min(1).max(64) }),
      /** Every this often each cluster's appended counter deltas are folded into its counters (reads sum the rest). */
      counterFoldMs: z.number().int().min(50).max(600_000),
    }),
    /**
     * Cluster isolation (issue 17): a cluster that cannot take writes gets its commands parked on its own hold
     * topic (`<kafka.topic>.hold.<cluster>`) instead of stalling every cluster; a re-feeder drains it once the
     * cluster is writable again.
     */
    hold: z
      .object({
        /** Off: the ingest waits for a full mailbox as before (every cluster stalls with the slowest). */
        enabled: z.boolean().default(true),
        /** Longest the ingest waits for a writer's mailbox space before holding the cluster (a fraction of the 10 s session timeout). */
        maxSendWaitMs: z.number().int().min(1).max(5_000).default(1_000),
        /** Commands per second the re-feeder of one cluster applies while draining its hold topic. */
        drainRatePerSec: z.number().positive().default(2_000),
        /** How often the hold topics' depth and age are measured (also what ends a hold). */
        pollMs: z.number().int().positive().default(500),
        /** The hold ends (new commands go straight to the writers again) once its depth is at most this. */
        releaseBelow: z.number().int().min(0).default(500),
        /**
         * A write no replica has replayed for this long holds its cluster (contract 3: its offset cannot commit,
         * and every later offset of its partitions waits behind it): the writers' unproven commands go to the
         * hold topic, whose offsets do commit, until a replica replays again.
         */
        unreplicatedMs: z.number().int().min(100).max(600_000).default(5_000),
      })
      .default({}),
    commands: z.object({ maxBytes: z.number().int().min(256), maxTagLength: z.number().int().min(1).max(256), maxEntityLength: z.number().int().min(1).max(512) }),
    indexer: z.object({ poolSize: z.number().int().min(1), groupId: z.string().min(1), analyticsGroupId: z.string().min(1) }),
    retry: backoffSchema,
    retryLoops: retryLoopsSchema,
    breaker: breakerSchema,
    supervision: z.object({ restartInitialMs: z.number().int().positive(), restartMaxMs: z.number().int().positive(), maxRestarts: z.number().int().positive(), withinMs: z.number().int().positive() }),
    failover: z.object({
      mode: z.enum(['builtin', 'patroni', 'off']),
      probeIntervalMs: z.number().int().positive(),
      probeTimeoutMs: z.number().int().positive(),
      suspectAfterMisses: z.number().int().min(1),
      patroniUrls: z.array(z.string().url()).default([]),
    }),
    dlq: z.object({ replayIntervalMs: z.number().int().positive(), replayRatePerSec: z.number().positive(), maxReplays: z.number().int().min(1), alertWebhook: z.string().url().optional() }),
    /** The read side (features/reads): replay tracking, cache shards, degradation. */
    reads: z.object({
      /** Each cluster's nodes are probed this often for their replay positions (routing, cache freshness). */
      replayPollMs: z.number().int().positive(),
      /** Deadline of one cache call on the read path (tighter than redis.commandTimeoutMs). */
      cacheTimeoutMs: z.number().int().positive(),
      /** Health and key-epoch check of each cache shard. */
      cacheProbeMs: z.number().int().positive(),
      /**
       * The cache breakers' window: time-based, this many seconds, at least `minimumCalls` calls. A count window
       * of 20 calls is 10 ms of traffic at 2,000 reads/s, and one late pipelined batch of replies filled it.
       */
      cacheBreakerWindow: z.object({ seconds: z.number().int().min(1).max(60), minimumCalls: z.number().int().min(1) }),
      popularTtlSeconds: z.number().int().positive(),
      popularMaxLimit: z.number().int().min(1).max(1000),
      /** Non-critical answers kept in memory to serve, marked "features limited", while degraded. */
      lastKnownGood: z.object({ capacity: z.number().int().min(1), refreshMs: z.number().int().positive() }),
      /** A database read slower than this counts as slow for the reads' database breakers. */
      dbSlowCallMs: z.number().int().positive(),
      /** Per cluster: database reads of critical (entity tags) and non-critical (popular tags) endpoints. */
      bulkhead: z.object({ critical: bulkheadSchema, nonCritical: bulkheadSchema }),
      /** Read requests in progress in this daemon; beyond it they are shed at once (503, or last-known-good). */
      maxInFlight: z.number().int().min(1),
    }),
    faultInjection: z.boolean(),
    /** Layout of the real services that services/ launches on loopback (local profile, tests, benchmarks). */
    services: z.object({
      basePort: z.number().int().min(1024).max(60000),
      pgClusters: z.number().int().min(1).max(8),
      replicasPerCluster: z.number().int().min(1).max(4),
      redisInstances: z.number().int().min(1).max(8),
      runDir: z.string().min(1),
      cacheDir: z.string().min(1),
      /** PostgreSQL server binaries (Debian's postgresql-15). */
      pgBin: z.string().min(1),
      /** Kafka broker version fetched from Maven Central (kafkajs 2.2.4 needs the 3.x protocol versions). */
      kafkaVersion: z.string().regex(/^\d+\.\d+\.\d+$/),
      /** Elasticsearch integ-test-zip version from Maven Central; its major must match @elastic/elasticsearch. */
      esVersion: z.string().regex(/^\d+\.\d+\.\d+$/),
      /** Unprivileged user that runs Elasticsearch (it refuses root); created if absent. */
      esUser: z.string().min(1),
      /** JDK for Kafka and Elasticsearch; unset: the default `java` on PATH. */
      javaHome: z.string().min(1).optional(),
      /** Stop tagstream services of another checkout that hold our ports (e.g. a stack left running where CI runs). */
      takeOver: z.boolean(),
      kafkaHeapMb: z.number().int().min(128),
      esHeapMb: z.number().int().min(256),
    }),
    flightRecorder: z.object({ capacity: z.number().int().min(100), dir: z.string().min(1) }),
  });

export type Config = z.infer<typeof configSchema>;
export type PgClusterConfig = z.infer<typeof pgClusterSchema>;
export type BreakerConfig = Config['breaker'];
export type RetryConfig = Config['retry'];
export type RetryLoopsConfig = Config['retryLoops'];
