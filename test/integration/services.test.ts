// The launcher's promise to every other integration and chaos test: real PostgreSQL clusters (primary + 2
// streaming replicas), Redis, Kafka and Elasticsearch answer on loopback, and the fault helpers really fault.
import { Client as EsClient } from '@elastic/elasticsearch';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  contNode,
  contRedis,
  killNode,
  nodeRole,
  pgClusterHealth,
  pgNodeInfo,
  redisState,
  replicaLsns,
  startNode,
  stopNode,
  stopRedis,
  waitStreaming,
} from '../../services/index.ts';
import { localConfig, uniqueName } from '../support/local.ts';

const config = localConfig();
const clients: Array<{ end(): Promise<void> }> = [];

async function pgClient(port: number): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'tagstream', connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

/** Polls until fn returns a value (the test timeout bounds it): asserting on state, not on a sleep. */
async function eventually<T>(fn: () => Promise<T | undefined>, intervalMs = 25): Promise<T> {
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
});

describe('PostgreSQL clusters', () => {
  it.each(config.postgres.clusters.map((c, i) => [c.name, i] as const))('%s: n0 is primary, every other node a streaming replica catching up', async (_name, cluster) => {
    const health = await pgClusterHealth(config, cluster);
    expect(health.roles).toEqual(['primary', ...Array(config.services.replicasPerCluster).fill('replica')]);
    const primary = await pgClient(pgNodeInfo(config, { cluster, node: 0 }).port);
    const rows = (await primary.query<{ application_name: string; state: string }>(`SELECT application_name, state FROM pg_stat_replication ORDER BY application_name`)).rows;
    const replicas = Array.from({ length: config.services.replicasPerCluster }, (_, i) => `pg${cluster}-n${i + 1}`);
    expect(rows).toEqual(replicas.map((application_name) => ({ application_name, state: 'streaming' })));
    // Replay LSN catches up with a position taken on the primary after a write.
    await primary.query(`CREATE TABLE IF NOT EXISTS services_probe (id text PRIMARY KEY, at timestamptz DEFAULT now())`);
    await primary.query(`INSERT INTO services_probe (id) VALUES ($1)`, [uniqueName('lsn')]);
    const target = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
    for (let node = 1; node <= config.services.replicasPerCluster; node++) {
      const replica = await pgClient(pgNodeInfo(config, { cluster, node }).port);
      await eventually(async () => ((await replica.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [target])).rows[0]!.ok ? true : undefined));
      const lsns = await replicaLsns(config, { cluster, node });
      expect(lsns.replay).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    }
  });

  it('a row written on a primary appears on a replica', async () => {
    const primary = await pgClient(pgNodeInfo(config, { cluster: 0, node: 0 }).port);
    const replica = await pgClient(pgNodeInfo(config, { cluster: 0, node: 2 }).port);
    await primary.query(`CREATE TABLE IF NOT EXISTS services_probe (id text PRIMARY KEY, at timestamptz DEFAULT now())`);
    const id = uniqueName('row');
    await primary.query(`INSERT INTO services_probe (id) VALUES ($1)`, [id]);
    const seen = await eventually(async () => ((await replica.query('SELECT id FROM services_probe WHERE id = $1', [id])).rowCount === 1 ? true : undefined));
    expect(seen).toBe(true);
    await expect(replica.query(`INSERT INTO services_probe (id) VALUES ('x')`)).rejects.toMatchObject({ code: '25006' });
  });

  it('a killed replica is down, starts again from its data directory and streams again', async () => {
    const ref = { cluster: 1, node: 2 };
    const { port } = pgNodeInfo(config, ref);
    await killNode(config, ref);
    expect(await nodeRole(config, ref)).toBe('down');
    await expect(pgClient(port)).rejects.toThrow();
    const primary = await pgClient(pgNodeInfo(config, { cluster: 1, node: 0 }).port);
    await primary.query(`CREATE TABLE IF NOT EXISTS services_probe (id text PRIMARY KEY, at timestamptz DEFAULT now())`);
    const id = uniqueName('while-down');
    await primary.query(`INSERT INTO services_probe (id) VALUES ($1)`, [id]);
    await startNode(config, ref);
    expect(await nodeRole(config, ref)).toBe('replica');
    await waitStreaming(config, { cluster: 1, node: 0 });
    const replica = await pgClient(port);
    await eventually(async () => ((await replica.query('SELECT 1 FROM services_probe WHERE id = $1', [id])).rowCount === 1 ? true : undefined));
  });

  it('a frozen (SIGSTOPped) node reports frozen and resumes on SIGCONT', async () => {
    const ref = { cluster: 0, node: 1 };
    stopNode(config, ref);
    try {
      expect(await nodeRole(config, ref)).toBe('frozen');
    } finally {
      contNode(config, ref);
    }
    expect(await nodeRole(config, ref)).toBe('replica');
    await waitStreaming(config, { cluster: 0, node: 0 });
  });
});

describe('Redis', () => {
  it.each(config.redis.instances.map((r) => [r.name, r.port] as const))('%s answers PING', async (_name, port) => {
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it('SIGSTOP freezes an instance (commands time out), SIGCONT brings it back', async () => {
    const port = config.redis.instances[0]!.port;
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, commandTimeout: 300, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    try {
      await redis.connect();
      const key = uniqueName('k');
      await redis.set(key, 'v', 'EX', 60);
      stopRedis(config, 0);
      try {
        expect(redisState(config, 0)).toBe('frozen');
        await expect(redis.get(key)).rejects.toThrow(/timed out/i);
      } finally {
        contRedis(config, 0);
      }
      expect(redisState(config, 0)).toBe('up');
      expect(await eventually(async () => (await redis.get(key)) ?? undefined)).toBe('v');
    } finally {
      redis.disconnect();
    }
  });
});

describe('Kafka', () => {
  it('kafkajs creates a topic, produces with acks=-1, consumes with a group and commits offsets', async () => {
    const kafka = new Kafka({ clientId: uniqueName('svc-test'), brokers: config.kafka.brokers, logLevel: logLevel.WARN });
    const topic = uniqueName('svc-topic');
    const groupId = uniqueName('svc-group');
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    // A short fetch wait: disconnect() waits for the fetch in flight (kafkajs' default is 5 s).
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);
      await producer.connect();
      const messages = Array.from({ length: 30 }, (_, i) => ({ key: `entity-${i % 7}`, value: `m${i}` }));
      const acks = await producer.send({ topic, acks: -1, messages });
      expect(acks.every((a) => a.errorCode === 0)).toBe(true);

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const seen: string[] = [];
      const all = new Promise<void>((resolve) => {
        void consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            seen.push(message.value!.toString());
            await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
            if (seen.length === messages.length) resolve();
          },
        });
      });
      await all;
      expect(seen.sort()).toEqual(messages.map((m) => m.value).sort());
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      const total = committed[0]!.partitions.reduce((n, p) => n + Number(p.offset), 0);
      expect(total).toBe(messages.length);
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});

describe('Elasticsearch', () => {
  it('the 8.19 client indexes a document with an external version, refreshes and finds it', async () => {
    const es = new EsClient({ node: config.elasticsearch.node });
    const index = uniqueName('svc-index').toLowerCase();
    try {
      await es.indices.create({ index, settings: { number_of_replicas: 0 }, mappings: { properties: { entity: { type: 'keyword' }, tag: { type: 'keyword' } } } });
      await es.index({ index, id: 'bug-123:Critical', document: { entity: 'bug-123', tag: 'Critical' }, version: 7, version_type: 'external' });
      await es.indices.refresh({ index });
      const res = await es.search<{ entity: string; tag: string }>({ index, query: { term: { tag: 'Critical' } } });
      expect(res.hits.hits.map((h) => h._source)).toEqual([{ entity: 'bug-123', tag: 'Critical' }]);
      expect((await es.cluster.health({ index, wait_for_status: 'green', timeout: '10s' })).status).toBe('green');
    } finally {
      await es.indices.delete({ index }).catch(() => undefined);
      await es.close();
    }
  });
});
