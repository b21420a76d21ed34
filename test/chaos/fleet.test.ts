// Issue 14 on real services: three daemons (child processes, the same consumer groups) run one deployment.
// One failover leader, elected by Kafka group membership, promotes; the others follow its decisions. A primary
// SIGKILLed → exactly one pg_promote across the fleet and all three route to the new primary (how soon after the
// leader is bench/failover.ts's figure); the leader SIGKILLed right after it started an election → another daemon leads and finishes.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createCommandLog } from '../../adapters/kafka/index.ts';
import { loadConfig } from '../../config/index.ts';
import { createLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { allRouteAway, converged, countLines, FLEET_PROBE_MS as PROBE_MS, leaderOf, linesWith, promotionsMetric, startFleet, status, stopFleets } from '../support/fleet.ts';
import { steadyLoad } from '../support/ingest-load.ts';

const logger = createLogger({ level: 'silent' });

/**
 * When each daemon had rerouted pg0's writers to the new primary, from its own log (warn level, as in CI): its
 * rewind to the committed offsets for the promotion ("cluster pg0 promoted"; one that joined a rewind already under
 * way says so with `joined`).
 */
const switchedAt = (file: string): number | null => {
  const l = linesWith(file, 'rewound to committed offsets').find((x) => x.includes('"reason":"cluster pg0 promoted"'));
  return l ? (JSON.parse(l) as { time: number }).time : null;
};

afterEach(stopFleets, 60_000);

afterAll(async () => {
  const config = loadConfig({ overrides: { profile: 'local' } });
  for (const n of [0, 1, 2]) services.contNode(config, { cluster: 0, node: n });
  await services.resetCluster(config, 0);
}, 120_000);

describe('three daemons, one failover leader (real PostgreSQL + Kafka)', () => {
  it('a primary SIGKILLed: exactly one pg_promote across the fleet, and all three route to the new primary', async () => {
    const f = await startFleet('fleet-kill');
    const prefix = `${f.topic}-`;
    const leader = await leaderOf(f);
    const log = createCommandLog(f.config, logger);
    const load = steadyLoad(log, f.topic, { prefix, seed: 11 });
    try {
      await vi.waitFor(async () => expect((await log.committed(`${f.topic}-w`, f.topic)).size).toBeGreaterThan(0), { timeout: 30_000, interval: 250 });
      await services.killNode(f.config, { cluster: 0, node: 0 });
      const routed = await allRouteAway(f, 'pg0-n0', 30_000);
      expect(routed.size).toBe(3);
      const primaries = new Set([...routed.values()].map((r) => r.primary));
      expect(primaries.size).toBe(1);
      // Exactly one promotion, by the leader.
      const counts = await Promise.all(f.daemons.map(promotionsMetric));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
      expect(counts[f.daemons.indexOf(leader)]).toBe(1);
      expect(f.logs.reduce((n, l) => n + countLines(l, 'promoting replica'), 0)).toBe(1);
      // Followers switch within one probe interval after the leader did: they apply its decision as soon as they read it.
      // (a daemon's log reaches its file through a pipe: wait for the lines, not for the clock)
      await vi.waitFor(() => expect(f.logs.map(switchedAt).every((t) => t !== null)).toBe(true), { timeout: 15_000, interval: 100 });
      const times = f.logs.map(switchedAt);
      const promotedAt = times[f.daemons.indexOf(leader)]!;
      const lag = Math.max(...(times as number[]).map((t) => t - promotedAt));
      // How far behind is a figure for bench/failover.ts (--daemons 3), not a bound here: on a loaded machine it is
      // the machine's (0.4-1.1 s quiet, 1.9 s with two busy loops beside it). What this test holds: every daemon did
      // switch, to the one promoted node.
      process.stdout.write(`fleet: followers switched pg0 to ${[...primaries][0]} at most ${lag} ms after the leader (their logs; probe interval ${PROBE_MS} ms)\n`);
    } finally {
      await load.stop();
      await log.close();
    }
    await converged(f, prefix, leader);
  }, 480_000);

  it('the leader SIGKILLed right after it started an election: another daemon leads and completes the failover, nothing lost', async () => {
    const f = await startFleet('fleet-leader');
    const prefix = `${f.topic}-`;
    const leader = await leaderOf(f);
    const log = createCommandLog(f.config, logger);
    const load = steadyLoad(log, f.topic, { prefix, seed: 12 });
    try {
      await vi.waitFor(async () => expect((await log.committed(`${f.topic}-w`, f.topic)).size).toBeGreaterThan(0), { timeout: 30_000, interval: 250 });
      const leaderLog = f.logs[f.daemons.indexOf(leader)]!;
      await services.killNode(f.config, { cluster: 0, node: 0 });
      await vi.waitFor(() => expect(countLines(leaderLog, 'failover started')).toBeGreaterThan(0), { timeout: 10_000, interval: 5 });
      await leader.kill('SIGKILL');
      const rest = f.daemons.filter((d) => d !== leader);
      const next = await leaderOf(f, rest);
      expect(next).not.toBe(leader);
      const routed = await allRouteAway(f, 'pg0-n0', 60_000);
      expect(routed.size).toBe(2);
      expect(new Set([...routed.values()].map((r) => r.primary)).size).toBe(1);
      // One node promoted in all: the dead leader's choice (finished by its successor) or the successor's. A leader
      // killed between its `promoting replica` line and pg_promote leaves the successor to promote that same node.
      const promoted = f.logs.flatMap((l) => linesWith(l, 'promoting replica').map((x) => (JSON.parse(x) as { node: string }).node));
      expect(promoted.length).toBeGreaterThan(0);
      expect(new Set(promoted).size).toBe(1);
      expect(new Set([...routed.values()].map((r) => r.primary))).toEqual(new Set(promoted));
      await vi.waitFor(async () => expect((await status(next)).failover.pg0.topology.fenced).toContain('pg0-n0'), { timeout: 30_000, interval: 200 });
    } finally {
      await load.stop();
      await log.close();
    }
    await converged(f, prefix, f.daemons.find((d) => d.running())!);
  }, 480_000);
});
