// A fleet of tagstream daemons for chaos tests: child processes (drill/daemon-process.ts) of one deployment
// (same topic, consumer groups and control topic) on fresh PostgreSQL clusters, and what tests ask of them:
// who leads, where each routes pg0, what their logs and metrics say, and whether the databases hold the log.
import { readFileSync } from 'node:fs';
import { freePort } from '../../lib/free-port.ts';
import path from 'node:path';
import { expect, vi } from 'vitest';
import { createCommandLog } from '../../adapters/kafka/index.ts';
import { leaderGroupOf } from '../../adapters/kafka/leader-election.ts';
import { createShardStores } from '../../adapters/pg/index.ts';
import type { Topology } from '../../adapters/pg/port.ts';
import { clusterOfShard } from '../../actors/tree.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import { daemonProcess, type DaemonProcess } from '../../drill/daemon-process.ts';
import { createLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { compareWithModel, type Drift } from './db-state.ts';
import { traceRows } from './row-trace.ts';
import { uniqueName } from './local.ts';
import { unsettled } from './settled.ts';
import { expectedState, type ModelRecord } from './reference-model.ts';

const root = path.resolve(import.meta.dirname, '../..');
const logger = createLogger({ level: 'silent' });
/** Every daemon started by startFleet and not yet stopped (stopFleets). */
const started: DaemonProcess[] = [];

export const FLEET_PROBE_MS = 500;

export interface Fleet {
  config: Readonly<Config>;
  daemons: DaemonProcess[];
  logs: string[];
  topic: string;
  /** Each daemon's environment (its TAGSTREAM_* settings). */
  envs: Array<Record<string, string>>;
}

export interface FleetOptions {
  n?: number;
  /** More settings for daemon i (TAGSTREAM_* variables), e.g. another address for a node. */
  env?: (i: number) => Record<string, string>;
  /** Start daemon 0 alone, wait until it leads, then the others (the sticky assigner keeps it leading). */
  firstLeads?: boolean;
}

/** Settings of every daemon of a fleet on `topic`. */
export function fleetEnv(topic: string, port: number): Record<string, string> {
  return {
    TAGSTREAM_PROFILE: 'local',
    TAGSTREAM_LOG__LEVEL: process.env.FLEET_LOG_LEVEL ?? 'warn', // FLEET_LOG_LEVEL=info keeps more in artifacts/*.d<i>.log
    TAGSTREAM_HTTP__PORT: String(port),
    TAGSTREAM_SHARDS__COUNT: '8',
    TAGSTREAM_KAFKA__TOPIC: topic,
    TAGSTREAM_KAFKA__DLQ_TOPIC: `${topic}.dlq`,
    TAGSTREAM_KAFKA__PARKING_TOPIC: `${topic}.parking`,
    TAGSTREAM_KAFKA__GROUP_ID: `${topic}-w`,
    TAGSTREAM_KAFKA__PARTITIONS: '4',
    TAGSTREAM_INDEXER__GROUP_ID: `${topic}-i`,
    TAGSTREAM_INDEXER__ANALYTICS_GROUP_ID: `${topic}-a`,
    TAGSTREAM_ELASTICSEARCH__INDEX: topic,
    TAGSTREAM_FAILOVER__PROBE_INTERVAL_MS: String(FLEET_PROBE_MS),
  };
}

/** Resets both PostgreSQL clusters and starts `n` daemons of one deployment on a topic of their own. */
export async function startFleet(name: string, opts: FleetOptions = {}): Promise<Fleet> {
  const n = opts.n ?? 3;
  const topic = uniqueName(name);
  const extra = opts.env ?? (() => ({}));
  const config = loadConfig({ env: { ...process.env, ...fleetEnv(topic, 8080) } });
  await services.resetCluster(config, 0);
  await services.resetCluster(config, 1);
  const logs: string[] = [];
  const daemons: DaemonProcess[] = [];
  const envs: Array<Record<string, string>> = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const logFile = path.join(root, 'artifacts', `${topic}.d${i}.log`);
    const env = { ...fleetEnv(topic, port), ...extra(i) };
    logs.push(logFile);
    envs.push(env);
    daemons.push(daemonProcess({ root, env, port, logFile }));
  }
  started.push(...daemons);
  const f: Fleet = { config, daemons, logs, topic, envs };
  if (opts.firstLeads) {
    await daemons[0]!.start();
    await vi.waitFor(async () => expect((await status(daemons[0]!)).leadership.leader).toBe(true), { timeout: 60_000, interval: 200 });
    await Promise.all(daemons.slice(1).map((d) => d.start()));
  } else await Promise.all(daemons.map((d) => d.start()));
  // Every daemon a member of the leader group, then one confirmed leader: the start-up rebalances (one per late
  // joiner, each pausing the leader until all rejoin) are over before a test injects its fault.
  const log = createCommandLog(config, logger);
  try {
    await vi.waitFor(async () => expect(await log.groupMembers(leaderGroupOf(config))).toBe(n), { timeout: 60_000, interval: 200 });
  } finally {
    await log.close();
  }
  await leaderOf(f);
  return f;
}

/** SIGKILLs every daemon startFleet started (afterEach; SIGKILL ends a SIGSTOPped one too). */
export async function stopFleets(): Promise<void> {
  const all = started.splice(0);
  await Promise.all(all.map((d) => d.kill('SIGKILL')));
}

// Status answers are untyped JSON here: the tests read the fields they assert on.
export async function status(d: DaemonProcess): Promise<any> {
  // Generous: three daemons and the services share two loaded cores; the waits around it bound the tests.
  const r = await fetch(`${d.url}/status`, { signal: AbortSignal.timeout(10_000) });
  return r.json();
}

/** The sum of a Prometheus counter's series on one daemon (labels ignored). */
export async function metricSum(d: DaemonProcess, name: string): Promise<number> {
  const text = await (await fetch(`${d.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

export const promotionsMetric = (d: DaemonProcess): Promise<number> => metricSum(d, 'tagstream_failover_promotions_total');

export const linesWith = (file: string, what: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l.includes(what));
export const countLines = (file: string, what: string): number => linesWith(file, what).length;
export const fleetLines = (f: Fleet, what: string): number => f.logs.reduce((n, l) => n + countLines(l, what), 0);

/** The one daemon among `among` (running ones) whose /status says it leads. */
export async function leaderOf(f: Fleet, among = f.daemons): Promise<DaemonProcess> {
  let leader: DaemonProcess | undefined;
  await vi.waitFor(
    async () => {
      const s = await Promise.all(among.filter((d) => d.running()).map(async (d) => ({ d, s: await status(d) })));
      const leaders = s.filter((x) => x.s.leadership.leader);
      expect(leaders).toHaveLength(1);
      leader = leaders[0]!.d;
    },
    { timeout: 30_000, interval: 200 },
  );
  return leader!;
}

/** Every daemon of `among` routes pg0's writes to a primary other than `old`; returns when each first did (ms). */
export async function allRouteAway(f: Fleet, old: string, timeoutMs: number, among = f.daemons.filter((d) => d.running())): Promise<Map<DaemonProcess, { at: number; primary: string }>> {
  const seen = new Map<DaemonProcess, { at: number; primary: string }>();
  const deadline = Date.now() + timeoutMs;
  while (seen.size < among.length && Date.now() < deadline) {
    await Promise.all(
      among
        .filter((d) => !seen.has(d))
        .map(async (d) => {
          const p = await status(d).then((s) => s.topology.pg0.primary as string, () => old);
          if (p !== old) seen.set(d, { at: Date.now(), primary: p });
        }),
    );
    await new Promise((r) => setTimeout(r, 50));
  }
  return seen;
}

/**
 * The databases hold exactly what the log says, read through the topology a daemon routes by — once everything
 * in the log is done: source offsets committed and every cluster's hold topic re-fed to its end (a cluster held
 * during a failover or on a loaded machine is applied late, not lost).
 */
export async function converged(f: Fleet, prefix: string, via: DaemonProcess): Promise<void> {
  const log = createCommandLog(f.config, logger);
  const stores = await createShardStores(f.config, logger);
  const topology = (await status(via)).topology as Record<string, Topology>;
  for (const [name, store] of stores) await store.setTopology(topology[name]!);
  try {
    const scope = { topic: f.topic, groupId: `${f.topic}-w`, clusters: f.config.postgres.clusters.map((c) => c.name) };
    try {
      await vi.waitFor(async () => expect(await unsettled(log, scope), 'source offsets committed and hold topics drained').toEqual([]), { timeout: 240_000, interval: 1_000 });
    } catch (err) {
      // What each daemon says about its holds and failover machines: why nothing drains.
      for (const [i, d] of f.daemons.entries()) {
        if (!d.running()) continue;
        const s = await status(d).catch((e: unknown) => ({ error: String(e) }));
        process.stdout.write(`fleet d${i} /status when not settled: ${JSON.stringify({ hold: s.hold, failover: Object.fromEntries(Object.entries(s.failover ?? {}).map(([c, m]) => [c, { state: (m as { state?: string }).state, topology: (m as { topology?: unknown }).topology }])) })}\n`);
      }
      throw err;
    }
    let lastDrift: Drift | null = null;
    await vi.waitFor(
      async () => {
        const records: ModelRecord[] = [];
        for (const [p, end] of await log.endOffsets(f.topic)) records.push(...(await log.read(f.topic, p, '0', Number(end))));
        lastDrift = await compareWithModel(stores.values(), f.config.shards.count, (s) => clusterOfShard(f.config, s), expectedState(records), prefix);
        expect(lastDrift).toEqual({ missing: [], extra: [], wrong: [], wrongCounts: [] });
      },
      { timeout: 120_000, interval: 2_000 },
    ).catch(async (err: unknown) => {
      // Where the differing rows are, node by node: never written anywhere, or only on a deposed primary.
      if (lastDrift) for (const line of await traceRows(f.config, [...lastDrift.missing, ...lastDrift.wrong.map((w) => w.split(':')[0]!)])) process.stdout.write(`fleet rows: ${line}\n`);
      throw err;
    });
  } finally {
    for (const s of stores.values()) await s.close().catch(() => undefined);
    await log.close();
  }
}
