// Contract 5 on real PostgreSQL replicas, Redis and Kafka: read-your-writes holds while replicas lag (replay
// paused with pg_wal_replay_pause), reads without a token still go to replicas, and tampered or foreign tokens
// are refused with 400. Replay is resumed whatever happens (the services stay healthy for the next suite).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clusterOfShard } from '../../actors/tree.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { readsFeature } from '../../features/reads/index.ts';
import { shardOf } from '../../lib/command.ts';
import { silentLogger } from '../../lib/logger.ts';
import { signToken, verifyToken } from '../../lib/token.ts';
import * as services from '../../services/index.ts';
import { localConfig, uniqueName } from '../support/local.ts';
import { allReplayed, pauseReplay, replicas, resumeReplay, type NodeAddr } from '../support/replay.ts';

const topic = uniqueName('reads-cmds');
const prefix = `${uniqueName('rc')}-`;
const config = localConfig({
  http: { port: 0 },
  shards: { count: 16 },
  kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-writers`, partitions: 4 },
  writer: { batchSize: 100, batchWindowMs: 2 },
  reads: { replayPollMs: 50, cacheProbeMs: 50 },
});
let d: Daemon;
let replicaNodes: NodeAddr[] = [];

interface Answer {
  tags: string[];
  source: string;
  servedBy: string;
  consistency: string;
}

async function write(entity: string, tag: string): Promise<string> {
  const r = await d.app.inject({ method: 'POST', url: `/v1/entities/${entity}/tags/${tag}?wait=applied&timeoutMs=20000` });
  expect(r.statusCode, r.body).toBe(200);
  return r.json<{ token: string }>().token;
}

async function read(entity: string, token?: string): Promise<{ status: number; body: Answer }> {
  const r = await d.app.inject({ method: 'GET', url: `/v1/entities/${entity}/tags`, headers: token ? { 'x-consistency-token': token } : {} });
  return { status: r.statusCode, body: r.json<Answer>() };
}

const clusterOf = (entity: string) => clusterOfShard(config, shardOf(entity, config.shards.count));
const lsnOf = (token: string) => verifyToken(token, config.http.tokenSecret, config.shards.count).lsn;

beforeAll(async () => {
  await services.resetCluster(config, 0);
  await services.resetCluster(config, 1);
  d = await startDaemon(config, { logger: silentLogger(), features: [readsFeature] });
  replicaNodes = await replicas(config);
  expect(replicaNodes.length).toBe(config.postgres.clusters.length * config.services.replicasPerCluster);
}, 120_000);

afterAll(async () => {
  await resumeReplay(replicaNodes);
  await d?.stop();
});

describe('read-your-writes on real replicas', () => {
  it('holds while every replica has replay paused: token reads come from the primary; tokenless reads still from replicas', async () => {
    await pauseReplay(replicaNodes);
    try {
      const entities = Array.from({ length: 8 }, (_, i) => `${prefix}lag-${i}`);
      const tokens = new Map<string, string>();
      for (const e of entities) tokens.set(e, await write(e, 'Critical'));
      for (const e of entities) {
        const r = await read(e, tokens.get(e));
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ tags: ['Critical'], source: 'primary', consistency: 'token' });
      }
      // Without a token: a replica answers, and it has not replayed the write (so the routing is real).
      const unread = `${prefix}lag-unread`;
      await write(unread, 'Critical');
      const r = await read(unread);
      expect(r.body.source).toBe('replica');
      expect(r.body.tags).toEqual([]);
      expect(replicaNodes.map((n) => n.name)).toContain(r.body.servedBy);
      // Concurrent token reads while replicas stay behind: every one sees its write.
      const answers = await Promise.all(entities.flatMap((e) => [read(e, tokens.get(e)), read(e, tokens.get(e))]));
      for (const a of answers) expect(a.body.tags).toEqual(['Critical']);
    } finally {
      await resumeReplay(replicaNodes);
    }
  });

  it('once a replica has replayed the token, the read goes to a replica', async () => {
    const entity = `${prefix}caught-up`;
    const token = await write(entity, 'p1');
    const cluster = clusterOf(entity);
    const mine = replicaNodes.filter((n) => n.cluster === cluster);
    await vi.waitFor(async () => expect(await allReplayed(mine, lsnOf(token))).toBe(true), { timeout: 10_000, interval: 20 });
    const r = await read(entity, token);
    expect(r.body).toMatchObject({ tags: ['p1'], source: 'replica', consistency: 'token' });
    expect(mine.map((n) => n.name)).toContain(r.body.servedBy);
  });

  it('reads without a token are spread over the replicas', async () => {
    const served = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = await read(`${prefix}spread-${i}`);
      expect(r.status).toBe(200);
      expect(r.body.source).toBe('replica');
      served.add(r.body.servedBy);
    }
    expect(served.size).toBeGreaterThanOrEqual(2);
  });

  it('a tampered or foreign token is refused with 400; a token of another cluster is not applied', async () => {
    const entity = `${prefix}tok`;
    const token = await write(entity, 'x');
    const [body, mac] = token.split('.') as [string, string];
    const forged = Buffer.from(Buffer.from(body, 'base64url').toString().replace(/\/[0-9A-F]+$/, '/1')).toString('base64url');
    for (const bad of [`${forged}.${mac}`, `${body}.${mac.slice(1)}A`, signToken({ shard: 0, lsn: '0/1' }, 'a-secret-of-another-deployment')]) {
      const r = await d.app.inject({ method: 'GET', url: `/v1/entities/${entity}/tags?token=${encodeURIComponent(bad)}` });
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ error: { code: 'TS_ERR_TOKEN_INVALID' } });
    }
    const otherShard = Array.from({ length: config.shards.count }, (_, s) => s).find((s) => clusterOfShard(config, s) !== clusterOf(entity))!;
    const other = await read(entity, signToken({ shard: otherShard, lsn: 'FF/0' }, config.http.tokenSecret));
    expect(other.status).toBe(200);
    expect(other.body.consistency).toBe('token-other-cluster');
  });
});
