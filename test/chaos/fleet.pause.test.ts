// Issue 14: the failover leader paused past its lease (SIGSTOP, as a long GC pause or a frozen VM would) while
// it handles a killed primary. Another daemon takes over and completes the failover; when the old leader wakes
// (SIGCONT) it acts on nothing it decided before: it re-checks leadership and the epoch before any step, stands
// down, and follows. One pg_promote, one timeline bump, every daemon on the same primary, nothing lost.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createCommandLog } from '../../adapters/kafka/index.ts';
import { loadConfig } from '../../config/index.ts';
import type { DaemonProcess } from '../../drill/daemon-process.ts';
import { createLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { allRouteAway, converged, countLines, fleetLines, leaderOf, linesWith, promotionsMetric, startFleet, status, stopFleets } from '../support/fleet.ts';
import { steadyLoad } from '../support/ingest-load.ts';
import { recordedEpoch } from '../support/topology-epoch.ts';

const logger = createLogger({ level: 'silent' });

/** The daemon's process id, from its daemon id (`<host>-<pid>-<random>`): SIGSTOP/SIGCONT go to it directly. */
async function pidOf(d: DaemonProcess): Promise<number> {
  const id = (await status(d)).leadership.daemonId as string;
  const pid = Number(id.split('-').at(-2));
  expect(Number.isInteger(pid) && pid > 0).toBe(true);
  return pid;
}

interface Probe {
  name: string;
  up: boolean;
  role?: string;
  readOnly?: boolean;
  timeline?: number;
}
const probesOf = async (d: DaemonProcess): Promise<Probe[]> => (await status(d)).failover.pg0.lastProbe as Probe[];

afterEach(stopFleets, 60_000);

afterAll(async () => {
  const config = loadConfig({ overrides: { profile: 'local' } });
  for (const n of [0, 1, 2]) services.contNode(config, { cluster: 0, node: n });
  await services.resetCluster(config, 0);
}, 120_000);

describe('the failover leader paused past its lease during a failover (real PostgreSQL + Kafka)', () => {
  it('another daemon completes the failover; the old leader wakes, re-checks, stands down and acts on nothing', async () => {
    const f = await startFleet('fleet-pause');
    const prefix = `${f.topic}-`;
    const first = await leaderOf(f);
    const pids = await Promise.all(f.daemons.map(pidOf));
    await vi.waitFor(async () => expect((await probesOf(first)).find((p) => p.name === 'pg0-n0')).toMatchObject({ up: true, role: 'primary' }), { timeout: 10_000, interval: 100 });
    const timelineBefore = (await probesOf(first)).find((p) => p.name === 'pg0-n0')!.timeline!;
    const log = createCommandLog(f.config, logger);
    const load = steadyLoad(log, f.topic, { prefix, seed: 21 });
    let pid = 0;
    let leader = first;
    try {
      await vi.waitFor(async () => expect((await log.committed(`${f.topic}-w`, f.topic)).size).toBeGreaterThan(0), { timeout: 30_000, interval: 250 });
      await services.killNode(f.config, { cluster: 0, node: 0 });
      // Paused the moment it has started acting on the failure (its own view: pg0-n0 down, a failover to run).
      // Whoever leads then (on a loaded machine a lease may have moved since `first` was asked).
      let i = -1;
      await vi.waitFor(() => {
        i = f.logs.findIndex((l) => countLines(l, 'failover started') > 0);
        expect(i).toBeGreaterThanOrEqual(0);
      }, { timeout: 15_000, interval: 5 });
      pid = pids[i]!;
      process.kill(pid, 'SIGSTOP');
      leader = f.daemons[i]!;
      const leaderLog = f.logs[i]!;
      const rest = f.daemons.filter((d) => d !== leader);
      const before = { promoting: countLines(leaderLog, 'promoting replica'), published: countLines(leaderLog, 'topology decision published'), stoodDown: countLines(leaderLog, 'this daemon is no longer the failover leader') };

      // Past its lease the group moves leadership; the new leader finishes the failover from what the nodes say.
      const next = await leaderOf(f, rest);
      const routed = await allRouteAway(f, 'pg0-n0', 60_000, rest);
      expect(routed.size).toBe(2);
      const primary = [...routed.values()][0]!.primary;
      expect(new Set([...routed.values()].map((r) => r.primary))).toEqual(new Set([primary]));
      await vi.waitFor(async () => expect((await status(next)).failover.pg0).toMatchObject({ state: 'healthy', topology: { primary, fenced: ['pg0-n0'] } }), { timeout: 60_000, interval: 200 });
      const latest = (await status(next)).failover.pg0.leadership.epoch as number;

      // Wake the old leader: it has a stale plan in flight and a lease that lapsed long ago.
      process.kill(pid, 'SIGCONT');
      pid = 0;
      await vi.waitFor(async () => {
        const s = await status(leader);
        expect(s.leadership.leader).toBe(false);
        expect(s.topology.pg0.primary).toBe(primary);
        expect(s.failover.pg0.leadership).toMatchObject({ acting: false });
        expect(s.failover.pg0.leadership.epoch).toBeGreaterThanOrEqual(latest);
      }, { timeout: 30_000, interval: 200 });
      expect(countLines(leaderLog, 'this daemon is no longer the failover leader')).toBeGreaterThan(before.stoodDown);
      const refusals = countLines(leaderLog, 'step not taken');
      process.stdout.write(`fleet.pause: old leader promoted ${before.promoting} before its pause; after waking it refused ${refusals} step(s) and stood down\n`);
      // Nothing after the wake: no promotion, no decision of its own.
      expect(countLines(leaderLog, 'promoting replica')).toBe(before.promoting);
      expect(countLines(leaderLog, 'topology decision published')).toBe(before.published);
      // One promotion across the fleet (the old leader's before its pause, finished by its successor, or the successor's).
      expect(fleetLines(f, 'promoting replica')).toBe(1);
      expect((await Promise.all(f.daemons.map(promotionsMetric))).reduce((a, b) => a + b, 0)).toBe(1);
      // One timeline bump: the new primary is on the next timeline; no other node became a writable primary.
      await vi.waitFor(async () => {
        const probes = (await probesOf(next)).filter((p) => p.up);
        expect(probes.filter((p) => p.role === 'primary' && !p.readOnly).map((p) => p.name)).toEqual([primary]);
        expect(probes.find((p) => p.name === primary)!.timeline).toBe(timelineBefore + 1);
      }, { timeout: 10_000, interval: 200 });
      // Every daemon routes to it; the promoted primary records the epoch of its promotion.
      for (const d of f.daemons) expect((await status(d)).topology.pg0.primary).toBe(primary);
      // The promoted primary records the epoch of the latest decision of the new leader (in the background).
      const ids = new Set(await Promise.all(f.daemons.map(async (d) => (await status(d)).leadership.daemonId as string)));
      await vi.waitFor(async () => {
        const row = await recordedEpoch(f.config, 'pg0', primary);
        expect(row).toMatchObject({ cluster: 'pg0' });
        expect(ids.has(row!.daemonId)).toBe(true);
        expect(row!.epoch).toBe((await status(next)).failover.pg0.leadership.epoch);
      }, { timeout: 10_000, interval: 200 });
      expect(linesWith(f.logs[f.daemons.indexOf(next)]!, 'topology decision published').length).toBeGreaterThan(0);
    } finally {
      if (pid) process.kill(pid, 'SIGCONT');
      await load.stop();
      await log.close();
    }
    await converged(f, prefix, leader);
  }, 480_000);
});
