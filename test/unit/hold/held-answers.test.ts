// Issue 17, what clients and operators see (embedded daemon): a `?wait=applied` write to an entity on a held
// cluster answers 202 at once with x-tagstream-held; reads of it say consistency "held"; /status, /metrics and
// the dashboard's shard map show the hold; entities of the other cluster are answered as usual.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clusterOfShard } from '../../../actors/tree.ts';
import { loadConfig } from '../../../config/index.ts';
import { startDaemon, type Daemon } from '../../../daemon.ts';
import { readsFeature } from '../../../features/reads/index.ts';
import { shardOf } from '../../../lib/command.ts';
import { silentLogger } from '../../../lib/logger.ts';

const config = loadConfig({
  env: {},
  overrides: {
    http: { port: 0 },
    shards: { count: 8 },
    kafka: { partitions: 4 },
    writer: { batchSize: 100, batchWindowMs: 2 },
    reads: { replayPollMs: 20, cacheProbeMs: 20 },
    hold: { pollMs: 20, releaseBelow: 0 },
  },
});
let d: Daemon;
let pg1Down = false;

beforeAll(async () => {
  d = await startDaemon(config, { listen: false, logger: silentLogger(), features: [readsFeature] });
  d.tree.hold.setWritableProbe((c) => (c === 'pg1' && pg1Down ? { ok: false, reason: 'failover machine: degraded' } : { ok: true }));
}, 60_000);
afterAll(async () => d?.stop());

const clusterOf = (entity: string) => clusterOfShard(config, shardOf(entity, config.shards.count));
function entityOn(cluster: string, prefix: string): string {
  for (let i = 0; ; i++) if (clusterOf(`${prefix}-${i}`) === cluster) return `${prefix}-${i}`;
}

describe('answers while a cluster is held (embedded)', () => {
  it('202 + x-tagstream-held at once for the held cluster, 200 for the other; reads say "held"; status and metrics show it; all applied after', async () => {
    const held = entityOn('pg1', 'ha');
    const free = entityOn('pg0', 'ha');
    pg1Down = true;

    const started = Date.now();
    const w = await d.app.inject({ method: 'POST', url: `/v1/entities/${held}/tags/urgent?wait=applied&timeoutMs=20000` });
    expect(w.statusCode).toBe(202);
    expect(w.headers['x-tagstream-held']).toBe('pg1');
    expect(w.json()).toMatchObject({ status: 'accepted', applied: false, held: 'pg1' });
    expect(Date.now() - started).toBeLessThan(10_000); // not the 20 s timeout

    const ok = await d.app.inject({ method: 'POST', url: `/v1/entities/${free}/tags/urgent?wait=applied` });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['x-tagstream-held']).toBeUndefined();

    const r = await d.app.inject({ method: 'GET', url: `/v1/entities/${held}/tags` });
    expect(r.json()).toMatchObject({ consistency: 'held' });
    expect((await d.app.inject({ method: 'GET', url: `/v1/entities/${free}/tags` })).json().consistency).not.toBe('held');

    await vi.waitFor(async () => {
      const status = (await d.app.inject({ method: 'GET', url: '/status' })).json<{ hold: Record<string, { held: boolean; reason: string; depth: number }> }>();
      expect(status.hold.pg1).toMatchObject({ held: true, reason: 'failover machine: degraded' });
      expect(status.hold.pg1!.depth).toBeGreaterThan(0);
      expect(status.hold.pg0!.held).toBe(false);
    }, { timeout: 10_000, interval: 20 });
    const metrics = (await d.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/tagstream_cluster_held\{cluster="pg1"\} 1/);
    expect(metrics).toMatch(/tagstream_held_depth\{cluster="pg1"\} [1-9]/);
    expect(metrics).toMatch(/tagstream_held_commands_total\{cluster="pg1"\} [1-9]/);

    pg1Down = false;
    await vi.waitFor(async () => {
      const g = (await d.app.inject({ method: 'GET', url: `/v1/entities/${held}/tags` })).json<{ tags: string[]; consistency: string }>();
      expect(g.tags).toContain('urgent');
      expect(g.consistency).not.toBe('held');
    }, { timeout: 20_000, interval: 50 });
    const after = await d.app.inject({ method: 'POST', url: `/v1/entities/${held}/tags/later?wait=applied` });
    expect(after.statusCode).toBe(200);
  }, 60_000);
});
