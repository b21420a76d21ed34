// The fleet cases of the failover benchmark (issue 14): N daemons as child processes (drill/fleet.ts) of one
// deployment, fed by an outside Kafka producer; pg0's primary SIGKILLed — alone, or together with the failover
// leader daemon. Measured from outside the daemons, on the database itself: the RTO is the fault → the first
// write committed on the new primary (a poller on each replica sees it leave recovery, then the sum of the
// rows' Kafka offsets grow: offsets only grow, so any applied command shows). Also: when every surviving daemon
// routes to the new primary (its /status), pg_promote calls across the fleet (their logs: must be 1), and the
// commands lost once the log is re-applied (must be 0). (`_` keeps bench/run.ts from running this file alone.)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createCommandLog } from '../adapters/kafka/index.ts';
import { createShardStores } from '../adapters/pg/index.ts';
import type { Topology } from '../adapters/pg/port.ts';
import { clusterOfShard } from '../actors/tree.ts';
import { loadConfig, type Config } from '../config/index.ts';
import { commandStream } from '../drill/commands.ts';
import { startFleet, type Fleet, type FleetMember } from '../drill/fleet.ts';
import { expectedState, type ModelRecord } from '../drill/model.ts';
import { parseApplied } from '../drill/cluster-rates.ts';
import { sleep, systemClock } from '../lib/clock.ts';
import { createLogger } from '../lib/logger.ts';
import * as services from '../services/index.ts';
import { childrenOf, readPid } from '../services/proc.ts';

const now = () => systemClock.now();
const root = path.resolve(import.meta.dirname, '..');

/**
 * The fault, timed: the postmaster's processes are listed first (walking /proc takes a while on a busy machine),
 * then signalled at once — postmaster first, so it forks nothing more. Returns when the signals went out.
 */
export function signalNode(dataDir: string, signal: 'SIGKILL' | 'SIGSTOP'): number {
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

/**
 * services.resetCluster, tried again when it fails: on this shared machine a rebuild once failed with ENOTEMPTY
 * (a node's data directory written to while it was removed) between two runs; one failed rebuild must not end
 * the whole benchmark.
 */
export async function resetCluster(config: Readonly<Config>, cluster: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await services.resetCluster(config, cluster);
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
      console.log(`(rebuilding pg${cluster} failed: ${err instanceof Error ? err.message : String(err)}; again)`);
      await sleep(systemClock, 2_000);
    }
  }
}

export interface FleetRun {
  /** Fault → first write committed on the new primary. */
  rto: number;
  /** Fault → every surviving daemon's /status routes pg0 to the new primary. */
  allRouted: number;
  /** Fault → the daemon that failed over logged its promotion (from its /status: lastFailover.promotedAt). */
  promoted: number | null;
  /** Fault → a surviving daemon claimed leadership (leader+primary case; from its log). */
  newLeader: number | null;
  /** pg_promote calls across the fleet (each daemon's 'promoting replica' lines: logged after its leader check passed). */
  promotions: number;
  lost: number;
  /** Who led before the fault and who after. */
  leaderBefore: string;
  leaderAfter: string | null;
}

export interface FleetProbe {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  suspectAfterMisses: number;
}

function envFor(topic: string, probe: FleetProbe): Record<string, string> {
  return {
    TAGSTREAM_PROFILE: 'local',
    TAGSTREAM_LOG__LEVEL: process.env.BENCH_FLEET_LOG_LEVEL ?? 'info', // info: a failover's steps and the holds are in the artifacts
    TAGSTREAM_SHARDS__COUNT: '8',
    TAGSTREAM_KAFKA__TOPIC: topic,
    TAGSTREAM_KAFKA__DLQ_TOPIC: `${topic}.dlq`,
    TAGSTREAM_KAFKA__PARKING_TOPIC: `${topic}.parking`,
    TAGSTREAM_KAFKA__GROUP_ID: `${topic}-w`,
    TAGSTREAM_KAFKA__PARTITIONS: '4',
    TAGSTREAM_INDEXER__GROUP_ID: `${topic}-i`,
    TAGSTREAM_INDEXER__ANALYTICS_GROUP_ID: `${topic}-a`,
    TAGSTREAM_ELASTICSEARCH__INDEX: topic,
    TAGSTREAM_WRITER__BATCH_SIZE: '200',
    TAGSTREAM_WRITER__BATCH_WINDOW_MS: '10',
    TAGSTREAM_POSTGRES__STATEMENT_TIMEOUT_MS: '2000',
    TAGSTREAM_FAILOVER__PROBE_INTERVAL_MS: String(probe.probeIntervalMs),
    TAGSTREAM_FAILOVER__PROBE_TIMEOUT_MS: String(probe.probeTimeoutMs),
    TAGSTREAM_FAILOVER__SUSPECT_AFTER_MISSES: String(probe.suspectAfterMisses),
  };
}

/** Watches the replicas of pg0: when one leaves recovery and, after that, when its rows first change. */
function watchNewPrimary(config: Readonly<Config>, nodes: number[]) {
  let stopped = false;
  const seen = new Map<number, { promotedAt: number; baseline: bigint; firstWriteAt: number | null }>();
  const loop = (async () => {
    const clients = new Map<number, pg.Client>();
    try {
      for (const n of nodes) {
        const c = new pg.Client({ host: '127.0.0.1', port: services.pgNodeInfo(config, { cluster: 0, node: n }).port, user: 'postgres', database: 'tagstream', query_timeout: 2_000 });
        c.on('error', () => undefined);
        await c.connect();
        clients.set(n, c);
      }
      while (!stopped) {
        await Promise.all(
          [...clients].map(async ([n, c]) => {
            const s = seen.get(n);
            if (s?.firstWriteAt) return;
            const r = await c.query<{ r: boolean; s: string }>('SELECT pg_is_in_recovery() AS r, coalesce(sum(kafka_offset), 0)::text AS s FROM tag_assoc').catch(() => null);
            const row = r?.rows[0];
            if (!row || row.r) return;
            const t = now();
            if (!s) seen.set(n, { promotedAt: t, baseline: BigInt(row.s), firstWriteAt: null });
            else if (BigInt(row.s) > s.baseline) s.firstWriteAt = t;
          }),
        );
        await sleep(systemClock, 5);
      }
    } finally {
      for (const c of clients.values()) await c.end().catch(() => undefined);
    }
  })();
  return {
    firstWrite: () => [...seen.values()].find((s) => s.firstWriteAt !== null)?.firstWriteAt ?? null,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

async function statusOf(fleet: Fleet, m: FleetMember): Promise<any> {
  return fleet.status(m, 2_000);
}

async function appliedPg0(fleet: Fleet): Promise<number> {
  let sum = 0;
  for (const m of fleet.members.filter((x) => x.available())) {
    const text = await fetch(`${m.url}/metrics`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.text(), () => '');
    sum += parseApplied(text).pg0 ?? 0;
  }
  return sum;
}

const linesWith = (file: string, what: string) => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l.includes(what));
  } catch {
    return [];
  }
};

async function waitFor<T>(what: string, timeoutMs: number, f: () => Promise<T | null | undefined | false>, everyMs = 50): Promise<T> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(systemClock, everyMs);
  }
}

/** Commands whose effect is missing or wrong once the fleet caught up (bounded wait), read through `topology`. */
async function lostCommands(config: Readonly<Config>, topic: string, prefix: string, topology: Record<string, Topology>): Promise<number> {
  const logger = createLogger({ level: 'silent' });
  const log = createCommandLog(config, logger);
  const stores = await createShardStores(config, logger);
  for (const [name, store] of stores) if (topology[name]) await store.setTopology(topology[name]);
  try {
    const deadline = now() + 90_000;
    for (;;) {
      const records: ModelRecord[] = [];
      for (const [p, end] of await log.endOffsets(topic)) records.push(...(await log.read(topic, p, '0', Number(end))));
      const expected = expectedState(records);
      const seen = new Map<string, { attached: boolean; offset: string }>();
      for (let shard = 0; shard < config.shards.count; shard++) {
        for (const r of await stores.get(clusterOfShard(config, shard))!.shardRows(shard)) if (r.entity.startsWith(prefix)) seen.set(`${r.entity}|${r.tag}`, { attached: r.attached, offset: r.offset });
      }
      let lost = 0;
      for (const [k, want] of expected.assoc) {
        const got = seen.get(k);
        if (!got || got.attached !== want.attached || BigInt(got.offset) !== want.offset) lost++;
      }
      if (lost === 0 || now() > deadline) return lost;
      await sleep(systemClock, 1_000);
    }
  } finally {
    for (const s of stores.values()) await s.close().catch(() => undefined);
    await log.close();
  }
}

/** One failover of pg0 under steady ingest into a fleet of `n` daemons; `withLeader`: the leader daemon dies too. */
export async function fleetFailover(n: number, withLeader: boolean, i: number, artifacts: string, probe: FleetProbe): Promise<FleetRun> {
  const topic = `bench-fleet${n}-${withLeader ? 'lead' : 'kill'}-${process.pid}-${i}-${Math.random().toString(36).slice(2, 7)}`;
  const prefix = `${topic}-`;
  const env = envFor(topic, probe);
  const config = loadConfig({ env: { ...process.env, ...env } });
  await resetCluster(config, 0);
  await resetCluster(config, 1);
  const fleet = await startFleet({ root, n, env, logPrefix: path.join(artifacts, topic) });
  const log = createCommandLog(config, createLogger({ level: 'silent' }));
  let stopped = false;
  let round = 0;
  const ingest = (async () => {
    while (!stopped) {
      await log.produce(topic, commandStream(40, (i + 1) * 100_000 + round++, { prefix, entities: 400 })).catch(() => undefined);
      await sleep(systemClock, 25);
    }
  })();
  const stopIngest = async () => {
    stopped = true;
    await ingest;
  };
  const watcher = watchNewPrimary(config, [1, 2]);
  try {
    const leader = await waitFor('a failover leader', 60_000, () => fleet.leader(), 200);
    await waitFor('steady ingest into pg0', 90_000, async () => (await appliedPg0(fleet)) >= 500, 200);
    await waitFor('every daemon routing pg0 to pg0-n0', 30_000, async () => (await Promise.all(fleet.members.map((m) => statusOf(fleet, m)))).every((s) => s?.topology?.pg0?.primary === 'pg0-n0'), 200);
    const ref = { cluster: 0, node: 0 };
    const t0 = signalNode(services.pgNodeInfo(config, ref).dataDir, 'SIGKILL');
    if (withLeader) {
      const pid = leader.pid();
      if (pid) process.kill(pid, 'SIGKILL');
      await leader.kill('SIGKILL');
    }
    await services.killNode(config, ref); // stragglers (a backend forked meanwhile)
    const survivors = fleet.members.filter((m) => m.running());
    const firstWrite = await waitFor('a write on a new primary', 90_000, async () => watcher.firstWrite(), 20);
    let allRouted = 0;
    await waitFor('every surviving daemon routing away from pg0-n0', 60_000, async () => {
      const views = await Promise.all(survivors.map((m) => statusOf(fleet, m)));
      const ok = views.every((s) => typeof s?.topology?.pg0?.primary === 'string' && s.topology.pg0.primary !== 'pg0-n0');
      if (ok) allRouted = now();
      return ok;
    });
    // The daemon that failed over records it once the failover completed (after the first write, often).
    const summary = await waitFor('the failover summary', 15_000, async () => {
      const views = await Promise.all(survivors.map((m) => statusOf(fleet, m)));
      return views.map((s) => s?.failover?.pg0?.lastFailover).find((f) => f && f.promotedAt >= t0) as { promotedAt: number } | undefined;
    }, 200).catch(() => undefined);
    const after = await waitFor('a leader after the failover', 30_000, () => fleet.leader(), 200).catch(() => null);
    let newLeader: number | null = null;
    if (withLeader && after) {
      const claims = linesWith(after.logFile, 'this daemon is the failover leader').map((l) => (JSON.parse(l) as { time: number }).time).filter((t) => t >= t0);
      newLeader = claims.length ? Math.min(...claims) - t0 : null;
    }
    await stopIngest();
    const via = after ?? survivors[0]!;
    const topology = ((await statusOf(fleet, via))?.topology ?? {}) as Record<string, Topology>;
    const lost = await lostCommands(config, topic, prefix, topology);
    // Each daemon logs 'promoting replica' right before its pg_promote, after its leadership check passed.
    const promotions = fleet.members.reduce((k, m) => k + linesWith(m.logFile, 'promoting replica').length, 0);
    return { rto: firstWrite - t0, allRouted: allRouted - t0, promoted: summary ? summary.promotedAt - t0 : null, newLeader, promotions, lost, leaderBefore: leader.name, leaderAfter: after?.name ?? null };
  } finally {
    await stopIngest();
    await watcher.stop();
    await log.close();
    await fleet.stopAll('SIGKILL');
    services.contNode(config, { cluster: 0, node: 0 });
  }
}
