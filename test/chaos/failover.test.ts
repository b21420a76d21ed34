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
import { behind } from '../support/settled.ts';
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

async function start(topic: string): Promise<{ d: Daemon; config: ReturnType<typeof configFor>; failover: FailoverApi }> {
  const config = configFor(topic);
  await services.resetCluster(config, 0);
  await services.resetCluster(config, 1);
  mkdirSync('artifacts', { recursive: true });
  const logger = createLogger({ level: 'warn', destination: createWriteStream(`artifacts/${topic}.log`) });
  d = await startDaemon(config, { logger, features: [failoverFeature] });
  return { d, config, failover: d.context.features.api(failoverKey)! };
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

const appliedOn = (d: Daemon, cluster: string) => d.tree.applied.byCluster.get(cluster) ?? 0;

/** Waits until `cluster`'s writers have applied `n` more commands than now: the ingest goes on there. */
async function appliesMore(d: Daemon, cluster: string, n: number, timeoutMs = 60_000): Promise<void> {
  const from = appliedOn(d, cluster);
  await vi.waitFor(() => expect(appliedOn(d, cluster) - from).toBeGreaterThanOrEqual(n), { timeout: timeoutMs, interval: 20 });
}

/** Commands of `cluster` that went to its hold topic: a cluster that stalls (writes failing for a second, mailboxes full) is held. */
async function heldCommands(d: Daemon, cluster: string): Promise<number> {
  return (await d.metrics.heldCommands.get()).values.find((v) => v.labels.cluster === cluster)?.value ?? 0;
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
    // pg1's writers keep applying throughout: while pg0 is down and undecided, and while it is promoted; pg1
    // is never held (it would be if its writes stalled or its mailboxes stayed full).
    const pg1AtKill = appliedOn(d, 'pg1');
    const pg1HeldBefore = await heldCommands(d, 'pg1');
    await services.killNode(d.config, { cluster: 0, node: 0 });
    await vi.waitFor(() => expect(failover.monitors.get('pg0')!.status().lastFailover).not.toBeNull(), { timeout: 30_000, interval: 100 });
    const pg1AtFailover = appliedOn(d, 'pg1');
    expect(pg1AtFailover).toBeGreaterThan(pg1AtKill);
    await appliesMore(d, 'pg0', 200); // pg0's shards on the new primary
    await load.stop();
    expect(appliedOn(d, 'pg1')).toBeGreaterThan(pg1AtFailover);
    expect(await heldCommands(d, 'pg1')).toBe(pg1HeldBefore);
    const s = failover.monitors.get('pg0')!.status();
    expect(s.topology.fenced).toContain('pg0-n0');
    expect(s.lastFailover!.reason).toBe('refused');
    await converged(d, topic, prefix);
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
    await appliesMore(d, 'pg0', 500); // ingest goes on for pg0's shards, on the new primary
    expect(await countRows(old.port, prefix)).toBe(before);
    await load.stop();
    await converged(d, topic, prefix);
    expect(await countRows(old.port, prefix)).toBe(before);
  }, 300_000);

  it('the new primary dies too (one node left): the cluster is held — nothing it applies could be proven replicated — and re-seeding a node drains it; every command ends up applied', async () => {
    const topic = uniqueName('fo-twice');
    const prefix = `${topic}-`;
    const { d, failover } = await start(topic);
    const load = steadyLoad(d.log, topic, { prefix, seed: 3 });
    await vi.waitFor(() => expect(d.tree.applied.count).toBeGreaterThan(500), { timeout: 30_000 });
    await services.killNode(d.config, { cluster: 0, node: 0 });
    await vi.waitFor(() => expect(failover.monitors.get('pg0')!.status().lastFailover).not.toBeNull(), { timeout: 30_000, interval: 100 });
    const first = failover.monitors.get('pg0')!.status().topology.primary;
    await appliesMore(d, 'pg0', 300); // the first new primary takes writes
    await services.killNode(d.config, { cluster: 0, node: Number(first.slice(-1)) });
    await vi.waitFor(() => expect(failover.monitors.get('pg0')!.status().topology.primary).not.toBe(first), { timeout: 30_000, interval: 100 });
    const last = failover.monitors.get('pg0')!.status().topology.primary;
    expect(failover.monitors.get('pg0')!.status().topology.replicas).toEqual([]);
    // Contract 3: a write to the lone primary can never be proven on a replica, so its offset could never commit
    // (nor any later one of its partitions): pg0 is held, its commands wait in its hold topic; pg1 goes on.
    // (Held since the promotion began: `reason` says why it was first held, `writable` why it still is.)
    await vi.waitFor(() => expect(d.tree.hold.status().pg0).toMatchObject({ held: true, writable: { ok: false, reason: expect.stringMatching(/^no replica: /) } }), { timeout: 30_000, interval: 100 });
    await appliesMore(d, 'pg1', 200);
    await load.stop();
    // Every source offset commits while pg0 has no replica (what its writers had went to the hold topic too).
    await vi.waitFor(async () => expect(await behind(d.log, `${topic}-w`, topic, false)).toEqual([]), { timeout: 60_000, interval: 500 });
    expect(await heldCommands(d, 'pg0')).toBeGreaterThan(0);

    // The operator re-seeds a dead node as a replica of the last one: the hold drains, the state is the log's.
    const dead = ['pg0-n0', 'pg0-n1', 'pg0-n2'].find((n) => n !== last)!;
    const r = await failover.reseed('pg0', dead);
    expect(r).toMatchObject({ done: true, primary: last });
    await vi.waitFor(() => expect(d.tree.hold.status().pg0).toMatchObject({ held: false, depth: 0 }), { timeout: 120_000, interval: 500 });
    await converged(d, topic, prefix);
  }, 300_000);

  it('a stall of the primary that the monitor sees but that recovers before it gives up causes no failover', async () => {
    const topic = uniqueName('fo-stall');
    const prefix = `${topic}-`;
    const { d, failover } = await start(topic);
    const load = steadyLoad(d.log, topic, { prefix, seed: 4 });
    await vi.waitFor(() => expect(d.tree.applied.count).toBeGreaterThan(300), { timeout: 30_000 });
    const monitor = failover.monitors.get('pg0')!;
    const n0Up = (probes: ReturnType<typeof monitor.status>['lastProbe']) => probes.find((p) => p.name === 'pg0-n0')?.up;
    services.stopNode(d.config, { cluster: 0, node: 0 });
    try {
      // The stall lasts until a probe round has missed the primary (one miss of suspectAfterMisses).
      await vi.waitFor(() => expect(n0Up(monitor.status().lastProbe)).toBe(false), { timeout: 30_000, interval: 20 });
    } finally {
      services.contNode(d.config, { cluster: 0, node: 0 });
    }
    // Then as many probe rounds as it would take to elect: each sees the primary up again, so none elects.
    const seen = new Set<unknown>();
    await vi.waitFor(
      () => {
        const probes = monitor.status().lastProbe;
        if (n0Up(probes)) seen.add(probes);
        expect(seen.size).toBeGreaterThanOrEqual(d.config.failover.suspectAfterMisses);
      },
      { timeout: 30_000, interval: 20 },
    );
    expect(monitor.status().state).toBe('healthy');
    await appliesMore(d, 'pg0', 200);
    await load.stop();
    const s = failover.monitors.get('pg0')!.status();
    expect(s.lastFailover).toBeNull();
    expect(s.topology.primary).toBe('pg0-n0');
    await converged(d, topic, prefix);
  }, 300_000);
});
