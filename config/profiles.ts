// Defaults per profile. embedded: in-process stand-ins; local: the real services of services/ on loopback;
// production: addresses must come from the config file or TAGSTREAM_* environment.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { esPort, kafkaPort, pgPort, redisPort, type LocalLayout } from './local-layout.ts';

export type Profile = 'embedded' | 'local' | 'production';
type Json = Record<string, unknown>;

/** The directory of package.json: one level up from config/ in the source tree, two from dist/config/. */
function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..');
  }
}

const projectRoot = findProjectRoot(import.meta.dirname);

export const common: Json = {
  log: { level: 'info', format: 'auto' },
  http: { host: '127.0.0.1', port: 8080 },
  shards: { count: 64, map: {} },
  postgres: { statementTimeoutMs: 5_000, poolSize: 4 },
  redis: { commandTimeoutMs: 250, ttlSeconds: 300 },
  kafka: { clientId: 'tagstream', topic: 'tag-commands', dlqTopic: 'tag-commands.dlq', parkingTopic: 'tag-commands.parking', partitions: 16, groupId: 'tagstream-writers', ssl: false },
  elasticsearch: { index: 'tags', refreshIntervalMs: 1_000 },
  writer: { batchSize: 500, batchWindowMs: 20, mailboxCapacity: 500, groupCommit: { maxRows: 5_000, maxInFlight: 2 }, counterFoldMs: 1_000 },
  hold: { enabled: true, maxSendWaitMs: 1_000, drainRatePerSec: 2_000, pollMs: 500, releaseBelow: 500, unreplicatedMs: 5_000 },
  commands: { maxBytes: 4_096, maxTagLength: 64, maxEntityLength: 128 },
  indexer: { poolSize: 2, groupId: 'tagstream-indexer', analyticsGroupId: 'tagstream-analytics' },
  retry: { retries: 3, initialMs: 200, multiplier: 2, maxMs: 5_000, jitter: 0.2 },
  breaker: { windowType: 'count', windowSize: 20, minimumCalls: 10, failureRateThreshold: 0.5, slowCallRateThreshold: 0.8, slowCallMs: 500, openMs: 2_000, openMaxMs: 30_000, openMultiplier: 2, halfOpenProbes: 3 },
  supervision: { restartInitialMs: 100, restartMaxMs: 10_000, maxRestarts: 5, withinMs: 30_000 },
  failover: { mode: 'builtin', probeIntervalMs: 500, probeTimeoutMs: 1_000, suspectAfterMisses: 3, patroniUrls: [] },
  dlq: { replayIntervalMs: 60_000, replayRatePerSec: 50, maxReplays: 3 },
  reads: {
    replayPollMs: 500,
    cacheTimeoutMs: 50,
    cacheProbeMs: 200,
    cacheBreakerWindow: { seconds: 2, minimumCalls: 5 },
    popularTtlSeconds: 5,
    popularMaxLimit: 100,
    lastKnownGood: { capacity: 128, refreshMs: 1_000 },
    dbSlowCallMs: 150,
    bulkhead: { critical: { maxConcurrent: 16, maxQueue: 2_000, queueTimeoutMs: 2_000 }, nonCritical: { maxConcurrent: 2, maxQueue: 16, queueTimeoutMs: 250 } },
    maxInFlight: 256,
  },
  flightRecorder: { capacity: 5_000, dir: path.join(projectRoot, '.run', 'flight') },
  services: { basePort: 25400, pgClusters: 2, replicasPerCluster: 2, redisInstances: 2, runDir: path.join(projectRoot, '.run'), cacheDir: path.join(projectRoot, '.cache'), pgBin: '/usr/lib/postgresql/15/bin', kafkaVersion: '3.9.1', esVersion: '8.19.21', esUser: 'tagstream-es', takeOver: true, kafkaHeapMb: 512, esHeapMb: 1024 },
};

const devSecrets = { adminToken: 'dev-admin-token-change-me', tokenSecret: 'dev-token-secret-change-me' };

export function profileDefaults(profile: Profile, layout: LocalLayout): Json {
  switch (profile) {
    case 'embedded':
      return {
        profile,
        http: devSecrets,
        shards: { count: 16 },
        postgres: { clusters: [0, 1].map((c) => ({ name: `pg${c}`, nodes: [0, 1, 2].map((n) => ({ name: `pg${c}-n${n}`, host: 'embedded', port: 5432 })), database: 'tagstream', user: 'tagstream' })) },
        redis: { instances: [0, 1].map((i) => ({ name: `redis${i}`, host: 'embedded', port: 6379 })) },
        kafka: { brokers: ['embedded:9092'], partitions: 8 },
        elasticsearch: { node: 'http://embedded.invalid:9200' },
        faultInjection: true,
      };
    case 'local':
      return {
        profile,
        http: devSecrets,
        postgres: {
          clusters: Array.from({ length: layout.pgClusters }, (_, c) => ({
            name: `pg${c}`,
            nodes: Array.from({ length: layout.replicasPerCluster + 1 }, (_, n) => ({ name: `pg${c}-n${n}`, host: '127.0.0.1', port: pgPort(layout, c, n) })),
            dataDirs: Array.from({ length: layout.replicasPerCluster + 1 }, (_, n) => path.join(layout.runDir, 'pg', `c${c}`, `n${n}`)),
            database: 'tagstream',
            user: 'postgres',
          })),
        },
        redis: { instances: Array.from({ length: layout.redisInstances }, (_, i) => ({ name: `redis${i}`, host: '127.0.0.1', port: redisPort(layout, i) })) },
        kafka: { brokers: [`127.0.0.1:${kafkaPort(layout)}`] },
        elasticsearch: { node: `http://127.0.0.1:${esPort(layout)}` },
        faultInjection: true,
      };
    case 'production':
      return { profile, faultInjection: false, log: { level: 'info' } };
  }
}
