// Issue 5 on real services: under steady ingest, the primary of cluster pg0 dies (SIGKILL), hangs (SIGSTOP),
// or stalls briefly; the monitor promotes (or not), reroutes, and every command of the log ends up applied
// exactly once in effect — counters exact — while cluster pg1's writers keep applying throughout.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { clusterOfShard } from '../../actors/tree.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { failoverFeature, type FailoverApi } from '../../features/failover/index.ts';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { compareWithModel, type Drift } from '../support/db-state.ts';
import { steadyLoad } from '../support/ingest-load.ts';
import { localConfig, uniqueName } from '../support/local.ts';
import { countRows } from '../support/pg-faults.ts';
import { expectedState, type ModelRecord } from '../support/reference-model.ts';

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

async function start(topic: string): Promise<{ d: Daemon; config: ReturnType<typeof configFor>; failover: FailoverApi }> {
  const config = configFor(topic);
  await services.resetCluster(config, 0);
  await services.resetCluster(config, 1);
  mkdirSync('artifacts', { recursive: true });
  const logger = createLogger({ level: 'warn', destination: createWriteStream(`artifacts/${topic}.log`) });
  d = await startDaemon(config, { logger, features: [failoverFeature] });
  return { d, config, failover: d.context.features.get('failover')!.api as FailoverApi };
}

async function readAll(d: Daemon, topic: string): Promise<ModelRecord[]> {
  const out: ModelRecord[] = [];
  for (const [p, end] of await d.log.endOffsets(topic)) out.push(...(await d.log.read(topic, p, '0', Number(end))));
  return out;
}

/** Waits until the database holds exactly what the log says (polling the state, bounded). */
async function converged(d: Daemon, topic: string, prefix: string, timeoutMs = 120_000): Promise<Drift> {
  const cfg = d.config;
  let drift: Drift = NO_DRIFT;
  await vi.waitFor(
    async () => {
      drift = await compareWithModel(d.stores.values(), cfg.shards.count, (s) => clusterOfShard(cfg, s), expectedState(await readAll(d, topic)), prefix);
      expect(drift).toEqual(NO_DRIFT);
    },
    { timeout: timeoutMs, interval: 1_000 },
  );
  return drift;
}

/** Samples pg1's applied count while `during` runs: its writers must never stall for long. */
async function watchOtherCluster(d: Daemon, during: () => Promise<void>): Promise<number> {
  let longestGapMs = 0;
  let last = d.tree.applied.byCluster.get('pg1') ?? 0;
  let lastMove = Date.now();
  let done = false;
  const sampler = (async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, 100));
      const now = d.tree.applied.byCluster.get('pg1') ?? 0;
      if (now > last) {
        longestGapMs = Math.max(longestGapMs, Date.now() - lastMove);
        last = now;
        lastMove = Date.now();
      }
    }
  })();
  await during();
  done = true;
  await sampler;
  return longestGapMs;
}

afterEach(async () => {
  await d?.stop();
  d = undefined;
}, 60_000);

afterAll(async () => {
  const config = configFor('cleanup');
  for (const n of [0, 1, 2]) services.contNode(config, { cluster: 0, node: n });
  await services.resetCluster(config, 0);
}, 120_000);

describe('automated failover under steady ingest (real PostgreSQL + Kafka)', () => {
  it('SIGKILL of the primary: a replica is promoted, nothing is lost, the other cluster keeps applying', async () => {
    const topic = uniqueName('fo-kill');
    const prefix = `${topic}-`;
    const { d, failover } = await start(topic);
    const load = steadyLoad(d.log, topic, { prefix, seed: 1 });
    await vi.waitFor(() => expect(d.tree.applied.count).toBeGreaterThan(500), { timeout: 30_000 });
    const gap = await watchOtherCluster(d, async () => {
      await services.killNode(d.config, { cluster: 0, node: 0 });
      await vi.waitFor(() => expect(failover.monitors.get('pg0')!.status().lastFailover).not.toBeNull(), { timeout: 30_000, interval: 100 });
      await new Promise((r) => setTimeout(r, 1_000));
    });
    await load.stop();
    const s = failover.monitors.get('pg0')!.status();
    expect(s.topology.fenced).toContain('pg0-n0');
    expect(s.lastFailover!.reason).toBe('refused');
    await converged(d, topic, prefix);
    expect(gap).toBeLessThan(2_000);
    expect(failover.monitors.get('pg1')!.status().lastFailover).toBeNull();
  }, 300_000);

  it('SIGSTOP of the primary: promoted after the probes time out; after SIGCONT the old primary receives no write', async () => {
    const topic = uniqueName('fo-stop');
    const prefix = `${topic}-`;
    const { d, failover } = await start(topic);
    const load = steadyLoad(d.log, topic, { prefix, seed: 2 });
    await vi.waitFor(() => expect(d.tree.applied.count).toBeGreaterThan(500), { timeout: 30_000 });
    const old = services.pgNodeInfo(d.config, { cluster: 0, node: 0 });
    services.stopNode(d.config, { cluster: 0, node: 0 });
    try {
      await vi.waitFor(() => expect(failover.monitors.get('pg0')!.status().lastFailover).not.toBeNull(), { timeout: 60_000, interval: 100 });
      expect(failover.monitors.get('pg0')!.status().lastFailover!.reason).toBe('timeouts');
    } finally {
      services.contNode(d.config, { cluster: 0, node: 0 });
    }
    const before = await countRows(old.port, prefix);
    await new Promise((r) => setTimeout(r, 3_000)); // ingest goes on for pg0's shards, on the new primary
    expect(await countRows(old.port, prefix)).toBe(before);
    await load.stop();
    await converged(d, topic, prefix);
    expect(await countRows(old.port, prefix)).toBe(before);
  }, 300_000);

  it('the new primary dies too (one node left): every command still ends up applied', async () => {
    const topic = uniqueName('fo-twice');
    const prefix = `${topic}-`;
    const { d, failover } = await start(topic);
    const load = steadyLoad(d.log, topic, { prefix, seed: 3 });
    await vi.waitFor(() => expect(d.tree.applied.count).toBeGreaterThan(500), { timeout: 30_000 });
    await services.killNode(d.config, { cluster: 0, node: 0 });
    await vi.waitFor(() => expect(failover.monitors.get('pg0')!.status().lastFailover).not.toBeNull(), { timeout: 30_000, interval: 100 });
    const first = failover.monitors.get('pg0')!.status().topology.primary;
    await vi.waitFor(() => expect(d.tree.applied.byCluster.get('pg0') ?? 0).toBeGreaterThan(0), { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 1_500));
    await services.killNode(d.config, { cluster: 0, node: Number(first.slice(-1)) });
    await vi.waitFor(() => expect(failover.monitors.get('pg0')!.status().topology.primary).not.toBe(first), { timeout: 30_000, interval: 100 });
    expect(failover.monitors.get('pg0')!.status().topology.replicas).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_000));
    await load.stop();
    await converged(d, topic, prefix);
  }, 300_000);

  it('a 2-second stall of the primary that recovers causes no failover', async () => {
    const topic = uniqueName('fo-stall');
    const prefix = `${topic}-`;
    const { d, failover } = await start(topic);
    const load = steadyLoad(d.log, topic, { prefix, seed: 4 });
    await vi.waitFor(() => expect(d.tree.applied.count).toBeGreaterThan(300), { timeout: 30_000 });
    services.stopNode(d.config, { cluster: 0, node: 0 });
    await new Promise((r) => setTimeout(r, 2_000));
    services.contNode(d.config, { cluster: 0, node: 0 });
    await new Promise((r) => setTimeout(r, 3_000));
    await load.stop();
    const s = failover.monitors.get('pg0')!.status();
    expect(s.lastFailover).toBeNull();
    expect(s.topology.primary).toBe('pg0-n0');
    await converged(d, topic, prefix);
  }, 300_000);
});
