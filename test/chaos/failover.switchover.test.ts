// Planned switchover and re-seed on real PostgreSQL + Kafka, under steady ingest with a reference model:
// the primary of pg0 is fenced first (it still answers probes, read-only), a replica catches up and is promoted;
// nothing is lost and the old primary gets no write of ours. Then `tagstream reseed` (CLI → admin API → pg_rewind
// by services/ → adopt) makes it a replica that serves reads again, and a switchover back to it works.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import { runCli } from '../../cli.ts';
import { clusterOfShard } from '../../actors/tree.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { failoverFeature } from '../../features/failover/index.ts';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { compareWithModel, type Drift } from '../support/db-state.ts';
import { steadyLoad } from '../support/ingest-load.ts';
import { localConfig, uniqueName } from '../support/local.ts';
import { expectedState, type ModelRecord } from '../support/reference-model.ts';
import { failoverKey } from '../../features/keys.ts';

const NO_DRIFT: Drift = { missing: [], extra: [], wrong: [], wrongCounts: [] };
let d: Daemon | undefined;

function configFor(topic: string) {
  return localConfig({
    http: { port: 0 },
    shards: { count: 8 },
    kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-w`, partitions: 4 },
    writer: { batchSize: 200, batchWindowMs: 10, mailboxCapacity: 2_000 },
    failover: { probeIntervalMs: 500, probeTimeoutMs: 1_000, suspectAfterMisses: 3 },
    postgres: { statementTimeoutMs: 2_000 },
  });
}

async function readAll(d: Daemon, topic: string): Promise<ModelRecord[]> {
  const out: ModelRecord[] = [];
  for (const [p, end] of await d.log.endOffsets(topic)) out.push(...(await d.log.read(topic, p, '0', Number(end))));
  return out;
}

async function converged(d: Daemon, topic: string, prefix: string): Promise<void> {
  await vi.waitFor(
    async () => expect(await compareWithModel(d.stores.values(), d.config.shards.count, (s) => clusterOfShard(d.config, s), expectedState(await readAll(d, topic)), prefix)).toEqual(NO_DRIFT),
    { timeout: 120_000, interval: 1_000 },
  );
}

async function sql<R extends Record<string, unknown>>(port: number, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'tagstream', connectionTimeoutMillis: 2_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end();
  }
}

const versions = async (port: number, prefix: string) => (await sql<{ n: string; v: string }>(port, 'SELECT count(*)::text AS n, coalesce(sum(kafka_offset), 0)::text AS v FROM tag_assoc WHERE entity LIKE $1', [`${prefix}%`]))[0];

afterEach(async () => {
  await d?.stop();
  d = undefined;
}, 60_000);

afterAll(async () => {
  await services.resetCluster(configFor('cleanup'), 0);
}, 120_000);

describe('planned switchover and re-seed (real PostgreSQL + Kafka)', () => {
  it('switchover under ingest, nothing lost; reseed via the CLI; switchover back to the re-seeded node', async () => {
    const topic = uniqueName('fo-switch');
    const prefix = `${topic}-`;
    const config = configFor(topic);
    await services.resetCluster(config, 0);
    await services.resetCluster(config, 1);
    mkdirSync('artifacts', { recursive: true });
    d = await startDaemon(config, { logger: createLogger({ level: 'warn', destination: createWriteStream(`artifacts/${topic}.log`) }), features: [failoverFeature] });
    const failover = d.context.features.api(failoverKey)!;
    const old = services.pgNodeInfo(config, { cluster: 0, node: 0 });
    const load = steadyLoad(d.log, topic, { prefix, seed: 21 });
    await vi.waitFor(() => expect(d!.tree.applied.byCluster.get('pg0') ?? 0).toBeGreaterThan(500), { timeout: 30_000 });

    // 1. Switchover to the most caught-up replica, through the same API the dashboard and the CLI use.
    const r = await failover.switchover('pg0');
    expect(r.from).toBe('pg0-n0');
    expect(['pg0-n1', 'pg0-n2']).toContain(r.to);
    const status = failover.monitors.get('pg0')!.status();
    expect(status.lastFailover).toMatchObject({ reason: 'switchover', from: 'pg0-n0', to: r.to, fenceConfirmed: true });
    expect(status.topology.fenced).toEqual(['pg0-n0']);
    // The old primary is still up, read-only, and gets no write of ours from now on.
    expect((await sql<{ ro: string }>(old.port, "SELECT current_setting('default_transaction_read_only') AS ro"))[0]!.ro).toBe('on');
    const atSwitch = await versions(old.port, prefix);
    const applied = d.tree.applied.byCluster.get('pg0') ?? 0;
    await vi.waitFor(() => expect(d!.tree.applied.byCluster.get('pg0') ?? 0).toBeGreaterThan(applied + 300), { timeout: 30_000, interval: 100 });
    expect(await versions(old.port, prefix)).toEqual(atSwitch);

    // 2. Re-seed it through the CLI → admin API → pg_rewind → adopt; reads may use it again.
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['reseed', 'pg0', 'pg0-n0', '--url', d.url, '--token', config.http.adminToken], (s) => out.push(s), (s) => err.push(s));
    expect({ code, err }).toEqual({ code: 0, err: [] });
    expect(out.join('\n')).toMatch(/pg0-n0 re-seeded from pg0-n\d with (pg_rewind|basebackup)/);
    const topo = d.stores.get('pg0')!.topology();
    expect(topo.fenced).toEqual([]);
    expect(topo.replicas).toContain('pg0-n0');
    expect((await sql<{ r: boolean }>(old.port, 'SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(true);
    expect((await sql<{ ro: string }>(old.port, "SELECT current_setting('default_transaction_read_only') AS ro"))[0]!.ro).toBe('off'); // the fence went with the rewind
    const servedBy = new Set<string>();
    for (let i = 0; i < 8; i++) servedBy.add((await d.stores.get('pg0')!.entityTags(0, `${prefix}bug-1`)).servedBy);
    expect(servedBy).toContain('pg0-n0');

    // 3. Switch back to the re-seeded node, still under ingest.
    const back = await failover.switchover('pg0', { target: 'pg0-n0' });
    expect(back).toEqual({ cluster: 'pg0', from: r.to, to: 'pg0-n0' });
    await load.stop();
    await converged(d, topic, prefix);
    expect(failover.monitors.get('pg1')!.status().lastFailover).toBeNull();
    const metrics = await d.metrics.registry.getSingleMetricAsString('tagstream_failovers_total');
    expect(metrics).toMatch(/cluster="pg0",outcome="switchover"} 2/);
  }, 300_000);
});
