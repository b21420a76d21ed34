// Contract 7 on real services, under read load: SIGKILL one Redis, then SIGSTOP the other. Popular tags answer
// 200 with the "features limited" marker, entity reads keep answering correctly (read-your-writes by token),
// no 5xx at all. After both come back (one empty, one with its pre-outage data), the key epochs have moved on
// and no value older than the last write is served. Redis is restarted and thawed whatever happens.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clusterOfShard } from '../../actors/tree.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { readsFeature } from '../../features/reads/index.ts';
import { shardOf } from '../../lib/command.ts';
import { sleep, systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { compareLsn } from '../../adapters/pg/lsn.ts';
import { verifyToken } from '../../lib/token.ts';
import * as services from '../../services/index.ts';
import { localConfig, uniqueName } from '../support/local.ts';
import { allReplayed, replicas } from '../support/replay.ts';
import { readsKey } from '../../features/keys.ts';

const topic = uniqueName('reads-chaos');
const prefix = `${uniqueName('rx')}-`;
const config = localConfig({
  http: { port: 0 },
  shards: { count: 16 },
  kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-writers`, partitions: 4 },
  writer: { batchSize: 100, batchWindowMs: 2 },
  breaker: { windowSize: 20, minimumCalls: 10, openMs: 300, openMaxMs: 1_000 },
  reads: { replayPollMs: 50, cacheProbeMs: 50, lastKnownGood: { capacity: 16, refreshMs: 200 } },
});
const ENTITIES = Array.from({ length: 40 }, (_, i) => `${prefix}e${i}`);
const TAGS = ['Critical', 'ui', 'backend', 'p1'];

let d: Daemon;
/**
 * Per entity: its tags as of the acknowledged writes, and the token of the highest commit LSN acknowledged so far.
 * Two writers may write one entity at once (the load's writer and the test body), and their answers arrive in
 * any order: each tag keeps the Kafka offset of the command it reflects (one entity, one partition, so the offset
 * orders its commands), an answer older than that changes nothing; `inFlight` counts the writes not yet
 * answered and `started` counts every write begun, so a reader knows whether the model was still during its read.
 */
interface EntityModel {
  tags: Set<string>;
  tagOffsets: Map<string, bigint>;
  token: string;
  tokenLsn: string;
  inFlight: number;
  started: number;
}
const model = new Map<string, EntityModel>();
const stats = { requests: 0, writes: 0, checked: 0, fiveXx: [] as string[], wrong: [] as string[], popular: 0, limited: 0 };

interface Answer {
  tags: string[];
  source: string;
  featuresLimited?: boolean;
}

async function get(path: string, token?: string): Promise<{ status: number; body: Answer; limited: string | null }> {
  const r = await fetch(`${d.url}${path}`, { headers: token ? { 'x-consistency-token': token } : {} });
  const body = (await r.json()) as Answer;
  stats.requests++;
  if (r.status >= 500) stats.fiveXx.push(`${r.status} ${path} ${JSON.stringify(body).slice(0, 200)}`);
  return { status: r.status, body, limited: r.headers.get('x-tagstream-features-limited') };
}

function entityModel(entity: string): EntityModel {
  let m = model.get(entity);
  if (!m) {
    m = { tags: new Set(), tagOffsets: new Map(), token: '', tokenLsn: '0/0', inFlight: 0, started: 0 };
    model.set(entity, m);
  }
  return m;
}

async function write(entity: string, tag: string, attach: boolean): Promise<void> {
  const m = entityModel(entity);
  m.inFlight++;
  m.started++;
  try {
    const r = await fetch(`${d.url}/v1/entities/${entity}/tags/${tag}?wait=applied&timeoutMs=20000`, { method: attach ? 'POST' : 'DELETE' });
    const body = (await r.json()) as { token?: string; offset?: string };
    expect(r.status, JSON.stringify(body)).toBe(200);
    const offset = BigInt(body.offset!);
    if (offset > (m.tagOffsets.get(tag) ?? -1n)) {
      m.tagOffsets.set(tag, offset);
      if (attach) m.tags.add(tag);
      else m.tags.delete(tag);
    }
    const { lsn } = verifyToken(body.token!, config.http.tokenSecret, config.shards.count);
    if (!m.token || compareLsn(lsn, m.tokenLsn) > 0) {
      m.token = body.token!;
      m.tokenLsn = lsn;
    }
    stats.writes++;
  } finally {
    m.inFlight--;
  }
}

const sorted = (s: Iterable<string>) => [...s].sort();
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** Readers: tokenless and token reads of entities, and popular tags; token reads are checked against the model. */
async function reader(stop: AbortSignal): Promise<void> {
  while (!stop.aborted) {
    const roll = Math.random();
    if (roll < 0.25) {
      const p = await get('/v1/tags/popular?limit=5');
      stats.popular++;
      if (p.body.featuresLimited) stats.limited++;
      if (p.status !== 200) stats.wrong.push(`popular answered ${p.status}`);
      continue;
    }
    const e = pick(ENTITIES);
    const m = model.get(e)!;
    const withToken = roll < 0.6;
    // The model says what a token read must answer only if no write of this entity was in flight when the read
    // began and none began before it ended.
    const still = m.inFlight === 0;
    const started = m.started;
    const expected = sorted(m.tags);
    const r = await get(`/v1/entities/${e}/tags`, withToken ? m.token : undefined);
    if (r.status !== 200) stats.wrong.push(`${e}: ${r.status}`);
    else if (withToken && still && m.started === started) {
      stats.checked++;
      if (JSON.stringify(sorted(r.body.tags)) !== JSON.stringify(expected)) stats.wrong.push(`${e}: token read ${JSON.stringify(r.body)} expected ${JSON.stringify(expected)}`);
    }
  }
}

async function writer(stop: AbortSignal): Promise<void> {
  while (!stop.aborted) {
    const e = pick(ENTITIES);
    const tag = pick(TAGS);
    await write(e, tag, !model.get(e)!.tags.has(tag));
    await sleep(systemClock, 20); // paces the load (about one write per read burst); nothing waits on it

  }
}

/** Waits until the load has made progress — reads, acknowledged writes, token reads checked — not for a time. */
async function loadProgress(want: { requests: number; writes: number; checked: number }): Promise<void> {
  const from = { ...stats };
  await vi.waitFor(
    () => {
      expect(stats.requests - from.requests).toBeGreaterThanOrEqual(want.requests);
      expect(stats.writes - from.writes).toBeGreaterThanOrEqual(want.writes);
      expect(stats.checked - from.checked).toBeGreaterThanOrEqual(want.checked);
    },
    { timeout: 60_000, interval: 20 },
  );
}

const caches = () => d.context.features.api(readsKey)!.caches();

beforeAll(async () => {
  await services.resetCluster(config, 0);
  await services.resetCluster(config, 1);
  for (let i = 0; i < config.redis.instances.length; i++) {
    if (services.redisState(config, i) === 'frozen') services.contRedis(config, i);
    if (services.redisState(config, i) === 'down') await services.startRedis(config, i);
  }
  d = await startDaemon(config, { logger: silentLogger(), features: [readsFeature] });
  await vi.waitFor(() => expect(caches().every((c) => c.usable)).toBe(true), { timeout: 15_000, interval: 20 });
  for (const e of ENTITIES) await write(e, pick(TAGS), true);
}, 180_000);

afterAll(async () => {
  for (let i = 0; i < config.redis.instances.length; i++) {
    if (services.redisState(config, i) === 'frozen') services.contRedis(config, i);
    if (services.redisState(config, i) === 'down') await services.startRedis(config, i);
  }
  await d?.stop();
});

describe('reads through a Redis outage (real services)', () => {
  it('SIGKILL one Redis, SIGSTOP the other: 200 + marker for popular tags, correct entity reads, zero 5xx; afterwards nothing stale', async () => {
    // Warm the caches: every entity cached (tokenless reads, twice), popular tags known good.
    for (const e of ENTITIES) await get(`/v1/entities/${e}/tags`);
    await vi.waitFor(async () => expect((await get(`/v1/entities/${ENTITIES[0]}/tags`)).body.source).toBe('cache'), { timeout: 5_000, interval: 20 });
    for (const e of ENTITIES) await get(`/v1/entities/${e}/tags`);
    expect((await get('/v1/tags/popular?limit=5')).status).toBe(200);
    const epochsBefore = caches().map((c) => c.epoch);

    const stop = new AbortController();
    const load = Promise.all([...Array.from({ length: 10 }, () => reader(stop.signal)), writer(stop.signal)]);
    try {
      await loadProgress({ requests: 300, writes: 5, checked: 50 });
      await services.killRedis(config, 0);
      await vi.waitFor(() => expect(caches()[0]!.usable).toBe(false), { timeout: 10_000, interval: 20 });
      await loadProgress({ requests: 300, writes: 5, checked: 50 });
      services.stopRedis(config, 1);
      await vi.waitFor(() => expect(caches()[1]!.usable).toBe(false), { timeout: 10_000, interval: 20 });

      // Both down: every popular answer is a 200 with the marker (header and body).
      for (let i = 0; i < 20; i++) {
        const p = await get('/v1/tags/popular?limit=5');
        expect(p.status).toBe(200);
        expect(p.body.featuresLimited).toBe(true);
        expect(p.limited).toBe('cache-unavailable');
      }
      // Writes to entities that sit in the frozen Redis's pre-outage entries.
      const frozenOnes = ENTITIES.filter((e) => shardOf(e, config.redis.instances.length) === 1).slice(0, 8);
      for (const e of frozenOnes) {
        const t = TAGS.find((x) => !model.get(e)!.tags.has(x)) ?? TAGS[0]!;
        await write(e, t, !model.get(e)!.tags.has(t));
      }
      await loadProgress({ requests: 300, writes: 5, checked: 50 });
    } finally {
      await services.startRedis(config, 0);
      services.contRedis(config, 1);
    }
    await vi.waitFor(() => expect(caches().every((c) => c.usable)).toBe(true), { timeout: 20_000, interval: 20 });
    await loadProgress({ requests: 300, writes: 5, checked: 50 });
    stop.abort();
    await load;

    expect(stats.fiveXx).toEqual([]);
    expect(stats.wrong).toEqual([]);
    expect(stats.limited).toBeGreaterThan(0);
    expect(caches().map((c) => c.epoch).every((e, i) => e !== epochsBefore[i])).toBe(true);

    // Nothing older than the last write: once the replicas have replayed every write, every tokenless read —
    // from the cache or not — equals the model (twice: the second read is the cached one).
    const reps = await replicas(config);
    for (const cluster of config.postgres.clusters.map((c) => c.name)) {
      const lsns = [...model].filter(([e]) => clusterOfShard(config, shardOf(e, config.shards.count)) === cluster).map(([, m]) => verifyToken(m.token, config.http.tokenSecret, config.shards.count).lsn);
      const last = lsns.sort(compareLsn).at(-1)!;
      await vi.waitFor(async () => expect(await allReplayed(reps.filter((r) => r.cluster === cluster), last)).toBe(true), { timeout: 10_000, interval: 20 });
    }
    for (let round = 0; round < 2; round++) {
      for (const e of ENTITIES) {
        const r = await get(`/v1/entities/${e}/tags`);
        expect(r.status).toBe(200);
        expect(sorted(r.body.tags), `${e} (round ${round}, ${r.body.source})`).toEqual(sorted(model.get(e)!.tags));
      }
    }
    expect(stats.fiveXx).toEqual([]);
    console.log(`[reads chaos] ${stats.requests} requests (${stats.checked} token reads checked), ${stats.writes} writes, 0 5xx, popular ${stats.popular} (${stats.limited} features-limited)`);
  }, 180_000);
});
