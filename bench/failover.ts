// Failover benchmark (issue 5): under steady ingest into a daemon on the local profile (real PostgreSQL + Kafka),
// the primary of pg0 is SIGKILLed (node death) or SIGSTOPped (hung) — several runs each — and we measure the
// RTO, from the fault to the first write committed on the new primary, its parts (detection, promotion,
// reroute), and the RPO: commands lost once the log is re-applied (must be 0). Beside it, in the same run, the
// physical limits: a bare pg_promote() on the same kind of cluster, and the detection floors the probe settings
// allow (a refused connection is seen at the next probe; a hung one after N × (interval + timeout)). And the
// same node death under Patroni 3.0 + etcd with its tightest settings that do not flap (ttl 6 / loop_wait 1 /
// retry_timeout 2): death → another node accepts writes. Starts the services it needs; stops Patroni after.
// Last line of output: one JSON object.
//
//   npx tsx bench/failover.ts [--runs 10] [--frozen-runs 10] [--promote-runs 3] [--patroni-runs 3]
//   (npm run bench:failover, or npm run bench -- failover). Probe settings: TAGSTREAM_FAILOVER__* (default 250/500/3).
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { clusterOfShard } from '../actors/tree.ts';
import { loadConfig, type Config } from '../config/index.ts';
import { startDaemon, type Daemon } from '../daemon.ts';
import { commandStream } from '../drill/commands.ts';
import { expectedState, type ModelRecord } from '../drill/model.ts';
import { failoverFeature, type FailoverApi } from '../features/failover/index.ts';
import { sleep, systemClock } from '../lib/clock.ts';
import { createLogger } from '../lib/logger.ts';
import * as services from '../services/index.ts';
import { childrenOf, readPid } from '../services/proc.ts';
import { percentile } from './open-loop.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 10);
const FROZEN_RUNS = arg('frozen-runs', 10);
const PROMOTE_RUNS = arg('promote-runs', 3);
const PATRONI_RUNS = arg('patroni-runs', 3);
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
  await services.resetCluster(config, 0);
  await services.resetCluster(config, 1);
  const d = await startDaemon(config, { logger: createLogger({ level: 'warn', destination: createWriteStream(`${artifacts}/${topic}.log`) }), features: [failoverFeature] });
  const failover = d.context.features.get('failover')!.api as FailoverApi;
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

/**
 * The fault, timed: the postmaster's processes are listed first (walking /proc takes a while on a busy machine),
 * then signalled at once — postmaster first, so it forks nothing more. Returns when the signals went out.
 */
function signalNode(dataDir: string, signal: 'SIGKILL' | 'SIGSTOP'): number {
  const pm = readPid(path.join(dataDir, 'postmaster.pid'));
  if (pm === undefined) throw new Error(`no postmaster in ${dataDir}`);
  const all = [pm, ...childrenOf(pm)];
  const t0 = now();
  for (const pid of all) {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
  return t0;
}

/** A bare pg_promote() (wait => true) on a replica of a freshly built cluster, until it accepts writes. */
async function barePromote(): Promise<number> {
  const config = configFor('bench-promote');
  await services.resetCluster(config, 0);
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
  log(`bare pg_promote(wait) until writable: ${promotes.map(round).join(', ')} ms`);

  const results: Record<'kill' | 'stop', RunResult[]> = { kill: [], stop: [] };
  for (const [kind, n] of [['kill', RUNS], ['stop', FROZEN_RUNS]] as const) {
    for (let i = 0; i < n; i++) {
      const r = await oneFailover(kind, i, artifacts);
      results[kind].push(r);
      log(`${kind === 'kill' ? 'SIGKILL' : 'SIGSTOP'} #${i + 1}: fault → first write on the new primary ${round(r.rto)} ms (detect ${round(r.detect)}, promote ${round(r.promote)}, reroute ${round(r.reroute)}; detection → write ${round(r.detectToWrite)}), lost ${r.lost}`);
    }
  }
  await services.resetCluster(base, 0);

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
  const lost = [...results.kill, ...results.stop].reduce((n, r) => n + r.lost, 0);
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
  log(`         floor (mean wait for the next probe + bare pg_promote p50) ${round(killFloor)} ms → ${(kill.p50 / killFloor).toFixed(2)}× the floor`);
  log(`SIGSTOP  RTO p50 ${stop.p50} ms, p99 ${stop.p99} ms, max ${stop.max} ms   (detect p50 ${stopParts.detect.p50}, promote p50 ${stopParts.promote.p50}, reroute p50 ${stopParts.reroute.p50})`);
  log(`         floor (mean time to ${n} timed-out probes + bare pg_promote p50) ${round(frozenFloor)} ms → ${(stop.p50 / frozenFloor).toFixed(2)}× the floor`);
  log(`detection → first write on the new primary (both kinds) p50 ${detectToWrite.p50} ms, max ${detectToWrite.max} ms; bare pg_promote p50 ${promote.p50} ms`);
  log(`RPO: ${lost} commands lost over ${RUNS + FROZEN_RUNS} failovers`);
  if (patroni.length) log(`Patroni (ttl 6 / loop_wait 1 / retry_timeout 2) leader death → writes p50 ${pat.p50} ms, max ${pat.max} ms → tagstream is ${(pat.p50 / kill.p50).toFixed(1)}× faster (p50, SIGKILL)`);
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
      pg_promote_p50_ms: promote.p50,
      kill_floor_ms: round(killFloor),
      frozen_floor_ms: round(frozenFloor),
      kill_vs_floor: Number((kill.p50 / killFloor).toFixed(2)),
      frozen_vs_floor: Number((stop.p50 / frozenFloor).toFixed(2)),
      patroni_runs: patroni.length,
      patroni_rto_p50_ms: patroni.length ? pat.p50 : null,
      speedup: patroni.length ? Number((pat.p50 / kill.p50).toFixed(1)) : null,
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
