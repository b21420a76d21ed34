// Issue 17 on real services: every node of cluster pg1 is SIGSTOPped (a partitioned or lost cluster: nothing to
// promote) under steady ingest. pg0 keeps applying ≥ 0.9 of what an open-loop load offers it (its rate before, printed), its `wait=applied`
// writes keep answering 200 (pg1's answer 202 at once with x-tagstream-held), the writers group keeps its member
// (no "removing member" for it in the broker's log), and afterwards the hold drains: 0 missing, extra or drift.
// The outage lasts ISOLATION_OUTAGE_S seconds (default 60 to keep the suite fast; the issue's
// scenario is 180).
import { readFileSync, existsSync, createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { clusterOfShard } from '../../actors/tree.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { failoverFeature } from '../../features/failover/index.ts';
import { failoverKey } from '../../features/keys.ts';
import { shardOf } from '../../lib/command.ts';
import { createLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { compareWithModel, type Drift } from '../support/db-state.ts';
import { steadyLoad } from '../support/ingest-load.ts';
import { expectKeptUp, keepsUp, OUTAGE_S, outageWindows, rateOver, type Rates } from '../support/isolation-outage.ts';
import { localConfig, uniqueName } from '../support/local.ts';
import { expectedState, type ModelRecord } from '../support/reference-model.ts';

const NO_DRIFT: Drift = { missing: [], extra: [], wrong: [], wrongCounts: [] };
let d: Daemon | undefined;

function configFor(topic: string) {
  return localConfig({
    http: { port: 0 },
    shards: { count: 8 },
    kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-w`, partitions: 4 },
    writer: { batchSize: 200, batchWindowMs: 10, mailboxCapacity: 500 },
    failover: { probeIntervalMs: 500, probeTimeoutMs: 1_000, suspectAfterMisses: 3 },
    postgres: { statementTimeoutMs: 2_000 },
  });
}

async function readAll(d: Daemon, topic: string): Promise<ModelRecord[]> {
  const out: ModelRecord[] = [];
  for (const [p, end] of await d.log.endOffsets(topic)) out.push(...(await d.log.read(topic, p, '0', Number(end))));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const applied = (d: Daemon, cluster: string) => d.tree.applied.byCluster.get(cluster) ?? 0;

function brokerLogLines(config: ReturnType<typeof configFor>, needle: string): string[] {
  const file = path.join(config.services.runDir, 'kafka', 'logs', 'server.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.includes(needle) && l.includes('removing member'));
}

afterEach(async () => {
  await d?.stop();
  d = undefined;
}, 60_000);

afterAll(async () => {
  const config = configFor('cleanup');
  for (const n of [0, 1, 2]) services.contNode(config, { cluster: 1, node: n });
  await services.resetCluster(config, 1);
}, 120_000);

describe('a lost cluster costs only its own shards (real PostgreSQL + Kafka)', () => {
  it(`all of pg1 SIGSTOPped for ${OUTAGE_S} s: pg0 keeps its rate and its 200s, the group keeps its member, the hold drains exactly`, async () => {
    const topic = uniqueName('iso');
    const prefix = `${topic}-`;
    const config = configFor(topic);
    await services.resetCluster(config, 0);
    await services.resetCluster(config, 1);
    mkdirSync('artifacts', { recursive: true });
    const logger = createLogger({ level: 'warn', destination: createWriteStream(`artifacts/${topic}.log`) });
    d = await startDaemon(config, { logger, features: [failoverFeature] });
    const daemon = d;
    const monitor = daemon.context.features.api(failoverKey)!.monitors.get('pg1')!;
    const entityOn = (cluster: string, tag: string) => {
      for (let i = 0; ; i++) if (clusterOfShard(config, shardOf(`${prefix}http-${tag}-${i}`, config.shards.count)) === cluster) return `${prefix}http-${tag}-${i}`;
    };

    const load = steadyLoad(daemon.log, topic, { prefix, seed: 17, batch: 20, everyMs: 40, openLoop: true, clusterOf: (e) => clusterOfShard(config, shardOf(e, config.shards.count)) });
    const pg0 = (): Rates => ({ applied: applied(daemon, 'pg0'), offered: load.producedOn('pg0') });
    await vi.waitFor(() => expect(applied(daemon, 'pg0')).toBeGreaterThan(500), { timeout: 30_000 });
    const before = await rateOver(pg0);
    expect(before.applied).toBeGreaterThan(50);

    // The outage, with HTTP writes to both clusters every 2 s.
    const http: Array<{ cluster: string; status: number; held?: string }> = [];
    let outage = true;
    const writer = (async () => {
      for (let i = 0; outage; i++) {
        for (const cluster of ['pg0', 'pg1']) {
          const r = await daemon.app.inject({ method: 'POST', url: `/v1/entities/${entityOn(cluster, String(i))}/tags/${prefix}h?wait=applied&timeoutMs=5000` });
          const held = r.headers['x-tagstream-held'];
          http.push({ cluster, status: r.statusCode, ...(typeof held === 'string' ? { held } : {}) });
        }
        await sleep(2_000);
      }
    })();
    for (const n of [0, 1, 2]) services.stopNode(config, { cluster: 1, node: n });
    const stoppedAt = Date.now();
    let windows: Rates[] = [];
    try {
      // Detection: the hold begins within the ingest's bounded wait; the windows measure pg0 while pg1 is held.
      await vi.waitFor(() => expect(daemon.tree.hold.status().pg1?.held).toBe(true), { timeout: 30_000, interval: 100 });
      windows = await outageWindows(pg0, (Date.now() - stoppedAt) / 1000);
      const holdStatus = daemon.tree.hold.status().pg1!;
      expect(holdStatus.held).toBe(true);
      expect(holdStatus.depth).toBeGreaterThan(0);
    } finally {
      // The primary first, until the monitor's probe reaches it: it answers before any replica can be elected.
      services.contNode(config, { cluster: 1, node: 0 });
      await vi.waitFor(() => expect(monitor.status().lastProbe.find((p) => p.name === 'pg1-n0')?.up).toBe(true), { timeout: 30_000, interval: 50 });
      services.contNode(config, { cluster: 1, node: 1 });
      services.contNode(config, { cluster: 1, node: 2 });
    }
    outage = false;
    await writer;
    const { keptUp, vsBefore, offeredVsBefore } = keepsUp(before, windows);
    console.log(JSON.stringify({ outageS: OUTAGE_S, pg0Before: before, pg0Windows: windows, keptUp, vsBefore, offeredVsBefore }));
    expectKeptUp(before, windows);
    const pg0Writes = http.filter((h) => h.cluster === 'pg0');
    const pg1 = http.filter((h) => h.cluster === 'pg1');
    expect(pg0Writes.length).toBeGreaterThan(5);
    expect(pg0Writes.filter((h) => h.status !== 200)).toEqual([]);
    // pg1's writes after detection: 202 saying which cluster holds them (the header proves the held path: no timeout wait).
    const heldAnswers = pg1.slice(3);
    expect(heldAnswers.every((h) => h.status === 202 && h.held === 'pg1')).toBe(true);

    // Drained: the hold topic empties once pg1 answers; the load keeps going meanwhile.
    const thawedAt = Date.now();
    await vi.waitFor(() => expect(daemon.tree.hold.status().pg1).toMatchObject({ held: false, depth: 0 }), { timeout: 180_000, interval: 500 });
    console.log(JSON.stringify({ catchUpS: (Date.now() - thawedAt) / 1000 }));
    await load.stop();
    expect(brokerLogLines(config, `group ${config.kafka.groupId} `)).toEqual([]);
    await vi.waitFor(
      async () => {
        const drift = await compareWithModel(daemon.stores.values(), config.shards.count, (s) => clusterOfShard(config, s), expectedState(await readAll(daemon, topic)), prefix);
        expect(drift).toEqual(NO_DRIFT);
      },
      { timeout: 120_000, interval: 1_000 },
    );
  }, 600_000);
});
