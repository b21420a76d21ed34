// Issue 14's first finding, as the user saw it: the pg0 primary SIGKILLed, daemon A fails over; a daemon
// restarted while the old primary is still down; the old primary's host reboots (writable, old timeline, a
// third of the rows). The restarted daemon must never serve a read from it; the leader lists it as diverged.
// (That a follower's /status lists it too is the failover monitor's part: see .scratch/topology-api.md.)
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { clusterOfShard } from '../../actors/tree.ts';
import { startDaemon, type Daemon } from '../../daemon.ts';
import { failoverFeature } from '../../features/failover/index.ts';
import { createWriteStream, mkdirSync } from 'node:fs';
import { shardOf } from '../../lib/command.ts';
import { createLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { localConfig, uniqueName } from '../support/local.ts';
import { commandStream } from '../support/reference-model.ts';
import { failoverKey } from '../../features/keys.ts';

const daemons: Daemon[] = [];
const n0 = { cluster: 0, node: 0 };

function configFor(topic: string) {
  return localConfig({
    http: { port: 0 },
    shards: { count: 8 },
    kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-w`, partitions: 4 },
    failover: { probeIntervalMs: 500, probeTimeoutMs: 1_000, suspectAfterMisses: 3 },
    postgres: { statementTimeoutMs: 2_000 },
  });
}

async function start(config: ReturnType<typeof configFor>, name: string): Promise<Daemon> {
  mkdirSync('artifacts', { recursive: true });
  const logger = createLogger({ level: 'warn', destination: createWriteStream(`artifacts/${config.kafka.topic}-${name}.log`) });
  const d = await startDaemon(config, { logger, features: [failoverFeature] });
  daemons.push(d);
  return d;
}

afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop().catch(() => undefined);
}, 60_000);

afterAll(async () => {
  const config = configFor('cleanup');
  for (const n of [0, 1, 2]) services.contNode(config, { cluster: 0, node: n });
  await services.resetCluster(config, 0);
}, 120_000);

describe('a daemon restarted while the old primary is down (real PostgreSQL + Kafka)', () => {
  it('never reads from the old primary once it is back on its old timeline, and lists it as diverged', async () => {
    const topic = uniqueName('restart');
    const config = configFor(topic);
    await services.resetCluster(config, 0);
    await services.resetCluster(config, 1);
    const prefix = `${topic}-`;
    const msgs = commandStream(600, 11, { entities: 120, prefix });
    const a = await start(config, 'a');
    await a.log.produce(topic, msgs.slice(0, 200));
    const storeA = a.stores.get('pg0')!;
    await vi.waitFor(() => expect(a.tree.applied.byCluster.get('pg0') ?? 0).toBeGreaterThan(50), { timeout: 30_000, interval: 200 });

    await services.killNode(config, n0);
    const failoverA = a.context.features.api(failoverKey)!;
    await vi.waitFor(() => expect(failoverA.monitors.get('pg0')!.status()).toMatchObject({ state: 'healthy', topology: { fenced: ['pg0-n0'] } }), { timeout: 60_000, interval: 200 });
    await a.log.produce(topic, msgs.slice(200, 400));

    // Daemon B starts while pg0-n0 is still down (A keeps running, as in the report).
    const b = await start(config, 'b');
    const storeB = b.stores.get('pg0')!;
    const failoverB = b.context.features.api(failoverKey)!;
    const newPrimary = storeB.topology().primary;
    expect(newPrimary).not.toBe('pg0-n0');
    await b.log.produce(topic, msgs.slice(400));

    // The host of the old primary reboots: writable again, on its old timeline, with part of the rows.
    await services.startNode(config, n0);
    const entities = [...new Set(msgs.map((m) => m.key))].filter((k): k is string => typeof k === 'string' && k.startsWith(prefix));
    // Both list it as diverged (B, a follower, reports it without fencing); B has it out of routing.
    await vi.waitFor(() => expect(failoverA.monitors.get('pg0')!.status().diverged).toContain('pg0-n0'), { timeout: 10_000, interval: 100 });
    await vi.waitFor(() => expect(failoverB.monitors.get('pg0')!.status().diverged).toContain('pg0-n0'), { timeout: 10_000, interval: 100 });
    await vi.waitFor(() => expect([...(storeB.routing()?.fenced ?? []), ...(storeB.routing()?.diverged ?? [])]).toContain('pg0-n0'), { timeout: 5_000, interval: 100 });
    // …and from then on no read of B's is ever served by it.
    const servedBy = new Map<string, number>();
    for (let round = 0; round < 3; round++) {
      for (const e of entities.filter((x) => clusterOfShard(config, shardOf(x, 8)) === 'pg0')) {
        const r = await storeB.entityTags(shardOf(e, 8), e);
        servedBy.set(r.servedBy, (servedBy.get(r.servedBy) ?? 0) + 1);
      }
    }
    expect(servedBy.get('pg0-n0') ?? 0).toBe(0);
    expect([...servedBy.keys()].length).toBeGreaterThan(0);
    expect(storeB.routing()).toMatchObject({ primary: newPrimary });
    expect(storeB.routing()?.readable).not.toContain('pg0-n0');
  }, 300_000);
});
