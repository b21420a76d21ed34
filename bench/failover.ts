// Failover benchmark (issue 5): under steady ingest into a daemon on the local profile (real PostgreSQL + Kafka),
// the primary of pg0 is SIGKILLed (node death) or SIGSTOPped (hung) — several runs each — and we measure the
// RTO, from the fault to the first write committed on the new primary, its parts (detection, promotion,
// reroute), and the RPO: commands lost once the log is re-applied (must be 0). Beside it, in the same run, the
// physical limits: a bare pg_promote() on the same kind of cluster, and the detection floors the probe settings
// allow (a refused connection is seen at the next probe; a hung one after N × (interval + timeout)). And the
// same node death under Patroni 3.0 + etcd with its tightest settings that do not flap (ttl 6 / loop_wait 1 /
// retry_timeout 2): death → another node accepts writes. Starts the services it needs; stops Patroni after.
// With `--daemons N` (N ≥ 2, issue 14) also a fleet of N daemons (child processes of one deployment, fed by an
// outside producer): pg0's primary SIGKILLed, and the primary SIGKILLed together with the failover leader
// daemon (goal: RTO ≤ the leader's group session + 2 s); see bench/_failover-fleet.ts for how it is measured.
// Last line of output: one JSON object.
//
//   npx tsx bench/failover.ts [--runs 10] [--frozen-runs 10] [--promote-runs 3] [--patroni-runs 3]
//                             [--daemons 3 [--fleet-runs R] [--leader-runs R]]
//   (npm run bench:failover, or npm run bench -- failover). Probe settings: TAGSTREAM_FAILOVER__* (default 250/500/3).
import { createWriteStream, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { clusterOfShard } from '../actors/tree.ts';
import { loadConfig, type Config } from '../config/index.ts';
import { startDaemon, type Daemon } from '../daemon.ts';
import { commandStream } from '../drill/commands.ts';
import { expectedState, type ModelRecord } from '../drill/model.ts';
import { failoverFeature } from '../features/failover/index.ts';
import { sleep, systemClock } from '../lib/clock.ts';
import { createLogger } from '../lib/logger.ts';
import * as services from '../services/index.ts';
import { DEFAULT_LEADER_SESSION_MS } from '../adapters/kafka/leader-election.ts';
import { fleetFailover, resetCluster, signalNode, type FleetRun } from './_failover-fleet.ts';
import { percentile } from './open-loop.ts';
import { failoverKey } from '../features/keys.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 10);
const FROZEN_RUNS = arg('frozen-runs', 10);
const PROMOTE_RUNS = arg('promote-runs', 3);
const PATRONI_RUNS = arg('patroni-runs', 3);
const DAEMONS = arg('daemons', 1);
const FLEET_RUNS = DAEMONS > 1 ? arg('fleet-runs', RUNS) : 0;
const LEADER_RUNS = DAEMONS > 1 ? arg('leader-runs', RUNS) : 0;
const now = () => systemClock.now();
const log = (line: string) => console.log(line);
const round = (n: number) => Math.round(n);
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: round(percentile(s, 50)), p99: round(percentile(s, 99)), max: round(s.at(-1) ?? NaN), min: round(s[0] ?? NaN) };
};

// The probe settings under test: the environment's when given, else a tighter default than the daemon's.
const env = process.env;
const probe = {
  probeIntervalMs: env.TAGSTREAM_FAILOVER__PROBE_INTERVAL_MS ? Number(env.TAGSTREAM_FAILOVER__PROBE_INTERVAL_MS) : 250,
  probeTimeoutMs: env.TAGSTREAM_FAILOVER__PROBE_TIMEOUT_MS ? Number(env.TAGSTREAM_FAILOVER__PROBE_TIMEOUT_MS) : 500,
  suspectAfterMisses: env.TAGSTREAM_FAILOVER__SUSPECT_AFTER_MISSES ? Number(env.TAGSTREAM_FAILOVER__SUSPECT_AFTER_MISSES) : 3,
};

function configFor(topic: string): Readonly<Config> {
  return loadConfig({
    overrides: {
      profile: 'local',
      log: { level: 'warn' },
      http: { port: 0 },
      shards: { count: 8 },
      kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-w`, partitions: 4 },
      writer: { batchSize: 200, batchWindowMs: 10, mailboxCapacity: 2_000 },
      failover: probe,
      postgres: { statementTimeoutMs: 2_000 },
    },
  });
}

/** Produces small batches of commands until stopped (the steady ingest the faults land in). */
function steadyIngest(d: Daemon, topic: string, prefix: string, seed: number) {
  let stopped = false;
  let round = 0;
  const loop = (async () => {
    while (!stopped) {
      await d.log.produce(topic, commandStream(40, seed * 100_000 + round++, { prefix, entities: 400 })).catch(() => undefined);
      await sleep(systemClock, 25);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

async function readAll(d: Daemon, topic: string): Promise<ModelRecord[]> {
  const out: ModelRecord[] = [];
  for (const [p, end] of await d.log.endOffsets(topic)) out.push(...(await d.log.read(topic, p, '0', Number(end))));
  return out;
}

/** Commands whose effect is missing or wrong once the daemon caught up (bounded wait): the RPO. */
async function lostCommands(d: Daemon, topic: string, prefix: string): Promise<number> {
  const deadline = now() + 90_000;
  for (;;) {
    const expected = expectedState(await readAll(d, topic));
    let lost = 0;
    const seen = new Map<string, { attached: boolean; offset: string }>();
    for (let shard = 0; shard < d.config.shards.count; shard++) {
      for (const r of await d.stores.get(clusterOfShard(d.config, shard))!.shardRows(shard)) if (r.entity.startsWith(prefix)) seen.set(`${r.entity}|${r.tag}`, { attached: r.attached, offset: r.offset });
    }
    for (const [k, want] of expected.assoc) {
      const got = seen.get(k);
      if (!got || got.attached !== want.attached || BigInt(got.offset) !== want.offset) lost++;
    }
    if (lost === 0 || now() > deadline) return lost;
    await sleep(systemClock, 1_000);
  }
}

interface RunResult {
  rto: number;
  detect: number;
  promote: number;
  reroute: number;
  detectToWrite: number;
  lost: number;
}

async function oneFailover(kind: 'kill' | 'stop', i: number, artifacts: string): Promise<RunResult> {
  const topic = `bench-fo-${kind}-${process.pid}-${i}-${Math.random().toString(36).slice(2, 7)}`;
  const prefix = `${topic}-`;
  const config = configFor(topic);
  await resetCluster(config, 0);
  await resetCluster(config, 1);
  const d = await startDaemon(config, { logger: createLogger({ level: 'warn', destination: createWriteStream(`${artifacts}/${topic}.log`) }), features: [failoverFeature] });
  const failover = d.context.features.api(failoverKey)!;
  const pg0Writes: number[] = [];
  d.tree.onApplied((items) => {
    if (items.some((it) => clusterOfShard(config, it.shard) === 'pg0')) pg0Writes.push(now());
  });
  const stopIngest = steadyIngest(d, topic, prefix, i + (kind === 'kill' ? 1 : 1_000));
  try {
    const warm = now() + 60_000;
    while ((d.tree.applied.byCluster.get('pg0') ?? 0) < 500) {
      if (now() > warm) throw new Error('no steady ingest into pg0 within 60 s');
      await sleep(systemClock, 50);
    }
    const ref = { cluster: 0, node: 0 };
    const t0 = signalNode(services.pgNodeInfo(config, ref).dataDir, kind === 'kill' ? 'SIGKILL' : 'SIGSTOP');
    if (kind === 'kill') await services.killNode(config, ref); // stragglers (a backend forked meanwhile)
    const monitor = failover.monitors.get('pg0')!;
    let first: number | undefined;
    const until = now() + 60_000;
    for (;;) {
      const s = monitor.status().lastFailover;
      first = s ? pg0Writes.find((t) => t >= s.promotedAt) : undefined;
      if (s && first !== undefined) {
        if (kind === 'stop') services.contNode(config, ref);
        await stopIngest();
        const lost = await lostCommands(d, topic, prefix);
        return { rto: first - t0, detect: s.startedAt - t0, promote: s.promotedAt - s.startedAt, reroute: first - s.promotedAt, detectToWrite: first - s.detectedAt, lost };
      }
      if (now() > until) throw new Error(`${kind}: no write on a new primary within 60 s (state ${monitor.status().state})`);
      await sleep(systemClock, 5);
    }
  } finally {
    services.contNode(config, { cluster: 0, node: 0 });
    await stopIngest();
    await d.stop();
  }
}

/** A bare pg_promote() (wait => true) on a replica of a freshly built cluster, until it accepts writes. */
async function barePromote(): Promise<number> {
  const config = configFor('bench-promote');
  await resetCluster(config, 0);
  const t0 = now();
  await services.promote(config, { cluster: 0, node: 1 });
  return now() - t0;
}

async function tryWrite(port: number): Promise<boolean> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'tagstream', connectionTimeoutMillis: 500, query_timeout: 500 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('INSERT INTO bench_failover_probe VALUES (now())');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Patroni, ttl 6 / loop_wait 1 / retry_timeout 2: the leader (Patroni and PostgreSQL) dies → another member accepts writes. */
async function patroniFailover(): Promise<number> {
  const config = configFor('bench-patroni');
  await services.ensurePatroniCluster(config);
  const leader = services.patroniNodeInfo(config, 0);
  const c = new pg.Client({ host: '127.0.0.1', port: leader.port, user: 'postgres', database: 'tagstream' });
  await c.connect();
  await c.query('CREATE TABLE IF NOT EXISTS bench_failover_probe (at timestamptz)');
  await c.end();
  const others = [1, 2].map((i) => services.patroniNodeInfo(config, i).port);
  const t0 = now();
  await services.killPatroniMember(config, 0);
  const until = now() + 120_000;
  for (;;) {
    const ok = await Promise.all(others.map((p) => tryWrite(p)));
    if (ok.some(Boolean)) return now() - t0;
    if (now() > until) throw new Error('Patroni: no member accepted writes within 120 s');
    await sleep(systemClock, 20);
  }
}

async function main(): Promise<void> {
  const base = configFor('bench-failover');
  const artifacts = 'artifacts/bench-failover';
  mkdirSync(artifacts, { recursive: true });
  log(`failover benchmark: ${RUNS} SIGKILL + ${FROZEN_RUNS} SIGSTOP runs of pg0's primary under steady ingest; probes every ${probe.probeIntervalMs} ms, timeout ${probe.probeTimeoutMs} ms, hung after ${probe.suspectAfterMisses} misses`);
  log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, Node ${process.version}`);
  await services.ensureServices(base, { only: ['pg', 'kafka'], log: () => undefined });

  const promotes: number[] = [];
  for (let i = 0; i < PROMOTE_RUNS; i++) promotes.push(await barePromote());
  log(`bare pg_promote(wait) until writable: ${promotes.length ? `${promotes.map(round).join(', ')} ms` : 'not measured (--promote-runs 0)'}`);

  const results: Record<'kill' | 'stop', RunResult[]> = { kill: [], stop: [] };
  for (const [kind, n] of [['kill', RUNS], ['stop', FROZEN_RUNS]] as const) {
    for (let i = 0; i < n; i++) {
      const r = await oneFailover(kind, i, artifacts);
      results[kind].push(r);
      log(`${kind === 'kill' ? 'SIGKILL' : 'SIGSTOP'} #${i + 1}: fault → first write on the new primary ${round(r.rto)} ms (detect ${round(r.detect)}, promote ${round(r.promote)}, reroute ${round(r.reroute)}; detection → write ${round(r.detectToWrite)}), lost ${r.lost}`);
    }
  }
  const fleet: Record<'kill' | 'leader', FleetRun[]> = { kill: [], leader: [] };
  const fleetDiscarded: string[] = [];
  for (const [kind, n] of [['kill', FLEET_RUNS], ['leader', LEADER_RUNS]] as const) {
    // A run that cannot start clean (on an overloaded machine the fleet once failed over before the fault: its
    // probes timed out) is reported and left out, and another one tried, up to two more.
    for (let i = 0, tries = 0; fleet[kind].length < n && tries < n + 2; i++, tries++) {
      let r: FleetRun;
      try {
        r = await fleetFailover(DAEMONS, kind === 'leader', i, artifacts, probe);
      } catch (err) {
        fleetDiscarded.push(`${kind} #${i + 1}: ${err instanceof Error ? err.message : String(err)}`);
        log(`${DAEMONS} daemons, ${kind} #${i + 1}: left out — ${fleetDiscarded.at(-1)}`);
        continue;
      }
      fleet[kind].push(r);
      log(`${DAEMONS} daemons, ${kind === 'leader' ? 'primary + leader daemon SIGKILL' : 'primary SIGKILL'} #${i + 1}: fault → first write on the new primary ${round(r.rto)} ms (promoted ${r.promoted === null ? '?' : round(r.promoted)}, all daemons routed ${round(r.allRouted)}${r.newLeader !== null ? `, new leader ${round(r.newLeader)}` : ''}; leader ${r.leaderBefore} → ${r.leaderAfter ?? '?'}), pg_promote calls ${r.promotions}, lost ${r.lost}`);
    }
  }
  await resetCluster(base, 0);

  const patroni: number[] = [];
  if (PATRONI_RUNS > 0) {
    try {
      for (let i = 0; i < PATRONI_RUNS; i++) {
        patroni.push(await patroniFailover());
        log(`Patroni #${i + 1}: leader death → another member accepts writes ${round(patroni.at(-1)!)} ms`);
      }
    } finally {
      await services.stopPatroniCluster(base);
    }
  }

  const kill = stats(results.kill.map((r) => r.rto));
  const stop = stats(results.stop.map((r) => r.rto));
  const killParts = { detect: stats(results.kill.map((r) => r.detect)), promote: stats(results.kill.map((r) => r.promote)), reroute: stats(results.kill.map((r) => r.reroute)) };
  const stopParts = { detect: stats(results.stop.map((r) => r.detect)), promote: stats(results.stop.map((r) => r.promote)), reroute: stats(results.stop.map((r) => r.reroute)) };
  const detectToWrite = stats([...results.kill, ...results.stop].map((r) => r.detectToWrite));
  const promote = stats(promotes);
  const lost = [...results.kill, ...results.stop, ...fleet.kill, ...fleet.leader].reduce((n, r) => n + r.lost, 0);
  const fk = stats(fleet.kill.map((r) => r.rto));
  const fkRouted = stats(fleet.kill.map((r) => r.allRouted));
  const fl = stats(fleet.leader.map((r) => r.rto));
  const flLeader = stats(fleet.leader.map((r) => r.newLeader ?? NaN).filter((x) => !Number.isNaN(x)));
  const fleetPromotions = [...fleet.kill, ...fleet.leader].map((r) => r.promotions);
  const leaderGoal = DEFAULT_LEADER_SESSION_MS + 2_000;
  // What the settings allow, on average, plus one bare promotion. A refused connection is seen at the next probe:
  // half an interval. A hung primary is declared after N timed-out probes, one per round (timeout + interval):
  // the first times out within the probe under way (a fault during a probe, p = t/(t+i): t/2 on average) or the
  // next one (a fault during the pause: i/2 + t), then N−1 more rounds.
  const { probeIntervalMs: i, probeTimeoutMs: t, suspectAfterMisses: n } = probe;
  const firstMiss = (t / (t + i)) * (t / 2) + (i / (t + i)) * (i / 2 + t);
  const killFloor = i / 2 + promote.p50;
  const frozenFloor = (n - 1) * (t + i) + firstMiss + promote.p50;
  const pat = stats(patroni);
  log('');
  log(`SIGKILL  RTO p50 ${kill.p50} ms, p99 ${kill.p99} ms, max ${kill.max} ms   (detect p50 ${killParts.detect.p50}, promote p50 ${killParts.promote.p50}, reroute p50 ${killParts.reroute.p50})`);
  // With --promote-runs 0 the bare promotion is not measured, and neither is a floor that includes it.
  const vsFloor = (rto: number, floor: number) => (promotes.length ? `${round(floor)} ms → ${(rto / floor).toFixed(2)}× the floor` : 'not measured (--promote-runs 0)');
  log(`         floor (mean wait for the next probe + bare pg_promote p50) ${vsFloor(kill.p50, killFloor)}`);
  log(`SIGSTOP  RTO p50 ${stop.p50} ms, p99 ${stop.p99} ms, max ${stop.max} ms   (detect p50 ${stopParts.detect.p50}, promote p50 ${stopParts.promote.p50}, reroute p50 ${stopParts.reroute.p50})`);
  log(`         floor (mean time to ${n} timed-out probes + bare pg_promote p50) ${vsFloor(stop.p50, frozenFloor)}`);
  log(`detection → first write on the new primary (both kinds) p50 ${detectToWrite.p50} ms, max ${detectToWrite.max} ms; bare pg_promote p50 ${promotes.length ? `${promote.p50} ms` : 'not measured'}`);
  if (fleet.kill.length) {
    log(`${DAEMONS} daemons, primary SIGKILL: RTO p50 ${fk.p50} ms, p99 ${fk.p99} ms, max ${fk.max} ms (every daemon routed p50 ${fkRouted.p50}, max ${fkRouted.max}) → ${(fk.p50 / kill.p50).toFixed(2)}× the single daemon's p50; goal p99 ≤ 2000 ms: ${fk.p99 <= 2_000 ? 'met' : 'NOT met'}`);
  }
  if (fleet.leader.length) {
    log(`${DAEMONS} daemons, primary + leader daemon SIGKILL: RTO p50 ${fl.p50} ms, p99 ${fl.p99} ms, max ${fl.max} ms (a new leader after p50 ${flLeader.p50} ms); goal ≤ leader session ${DEFAULT_LEADER_SESSION_MS} ms + 2 s = ${leaderGoal} ms: ${fl.max <= leaderGoal ? 'met' : 'NOT met'}`);
  }
  if (fleetPromotions.length) log(`pg_promote calls per fleet failover: ${fleetPromotions.join(', ')} (must each be 1)`);
  if (fleetDiscarded.length) log(`fleet runs left out: ${fleetDiscarded.length} (${fleetDiscarded.join('; ')})`);
  log(`RPO: ${lost} commands lost over ${RUNS + FROZEN_RUNS + FLEET_RUNS + LEADER_RUNS} failovers`);
  if (patroni.length) log(`Patroni (ttl 6 / loop_wait 1 / retry_timeout 2) leader death → writes p50 ${pat.p50} ms, max ${pat.max} ms → tagstream is ${(pat.p50 / kill.p50).toFixed(1)}× faster (p50, SIGKILL)${fleet.kill.length ? `; ${DAEMONS} daemons ${(pat.p50 / fk.p50).toFixed(1)}×` : ''}${fleet.leader.length ? `; ${DAEMONS} daemons losing the leader too ${(pat.p50 / fl.p50).toFixed(1)}×` : ''}`);
  console.log(
    JSON.stringify({
      bench: 'failover',
      runs: RUNS,
      frozen_runs: FROZEN_RUNS,
      probe_interval_ms: probe.probeIntervalMs,
      probe_timeout_ms: probe.probeTimeoutMs,
      suspect_after_misses: probe.suspectAfterMisses,
      rto_p50_ms: kill.p50,
      rto_p99_ms: kill.p99,
      rto_max_ms: kill.max,
      frozen_rto_p50_ms: stop.p50,
      frozen_rto_p99_ms: stop.p99,
      frozen_rto_max_ms: stop.max,
      detect_to_write_p50_ms: detectToWrite.p50,
      lost,
      pg_promote_p50_ms: promotes.length ? promote.p50 : null,
      kill_floor_ms: promotes.length ? round(killFloor) : null,
      frozen_floor_ms: promotes.length ? round(frozenFloor) : null,
      kill_vs_floor: promotes.length ? Number((kill.p50 / killFloor).toFixed(2)) : null,
      frozen_vs_floor: promotes.length ? Number((stop.p50 / frozenFloor).toFixed(2)) : null,
      patroni_runs: patroni.length,
      patroni_rto_p50_ms: patroni.length ? pat.p50 : null,
      speedup: patroni.length ? Number((pat.p50 / kill.p50).toFixed(1)) : null,
      daemons: DAEMONS,
      ...(fleet.kill.length
        ? { fleet_runs: fleet.kill.length, fleet_rto_p50_ms: fk.p50, fleet_rto_p99_ms: fk.p99, fleet_rto_max_ms: fk.max, fleet_all_routed_p50_ms: fkRouted.p50, fleet_vs_single: Number((fk.p50 / kill.p50).toFixed(2)), fleet_speedup_vs_patroni: patroni.length ? Number((pat.p50 / fk.p50).toFixed(1)) : null }
        : {}),
      ...(fleet.leader.length
        ? { leader_runs: fleet.leader.length, leader_rto_p50_ms: fl.p50, leader_rto_p99_ms: fl.p99, leader_rto_max_ms: fl.max, new_leader_p50_ms: flLeader.p50, leader_goal_ms: leaderGoal, leader_goal_met: fl.max <= leaderGoal, leader_speedup_vs_patroni: patroni.length ? Number((pat.p50 / fl.p50).toFixed(1)) : null }
        : {}),
      ...(fleetPromotions.length ? { fleet_promotions: fleetPromotions } : {}),
      ...(fleetDiscarded.length ? { fleet_runs_left_out: fleetDiscarded.length } : {}),
    }),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
