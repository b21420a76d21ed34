// `npm run drill -- --minutes N --seed N [--rate R] [--daemons N]`: mixed load against the local profile while
// seeded faults hit PostgreSQL primaries and replicas, Redis, Elasticsearch, the Kafka broker and the daemons
// themselves — with several daemons (default 2: one deployment, one failover leader) also the leader killed, the
// leader paused past its lease, and a daemon restarted while an old primary is down (then that primary started
// again on its old timeline). Then the checker's verdict: the databases and the index against the log, and every
// entity read through every daemon. The last line of output is one JSON object.
import path from 'node:path';
import { createCommandLog } from '../adapters/kafka/index.ts';
import { createShardStores } from '../adapters/pg/index.ts';
import type { Topology } from '../adapters/pg/port.ts';
import { createSearchIndex } from '../adapters/search/index.ts';
import { clusterOfShard } from '../actors/tree.ts';
import { loadConfig } from '../config/index.ts';
import { systemClock } from '../lib/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { ensureServices, resetCluster } from '../services/index.ts';
import { check, readTopic, type Verdict } from './checker.ts';
import { ratesBetween, sampleClusterRates } from './cluster-rates.ts';
import { inject } from './faults.ts';
import { startFleet } from './fleet.ts';
import { lagChart, lagOf, sampleLag } from './lag.ts';
import { formatIntervals, leadershipIntervals, sampleLeadership, splitBrainSamples } from './leadership.ts';
import { availability, startLoad, type LoadReport } from './load.ts';
import { expectedState } from './model.ts';
import { expectedTags, readThroughEvery } from './read-check.ts';
import { faultSchedule } from './schedule.ts';

const root = path.resolve(import.meta.dirname, '..');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const at = (started: number) => `[${String(Math.round((Date.now() - started) / 1000)).padStart(4)}s]`;

export async function runDrill(minutes: number, seed: number, rate: number, daemons = 2): Promise<{ verdict: Verdict; load: LoadReport; ok: boolean; summary: Record<string, unknown> }> {
  const seconds = Math.round(minutes * 60);
  const base = loadConfig({ overrides: { profile: 'local', log: { level: 'warn' } } });
  say(`drill: ${minutes} min, seed ${seed}, ${rate} req/s, ${daemons} daemon${daemons > 1 ? 's' : ''}; starting services`);
  await ensureServices(base, { log: () => undefined });
  for (let c = 0; c < base.postgres.clusters.length; c++) await resetCluster(base, c);

  const run = `drill-${seed}-${Date.now().toString(36)}`;
  const env: Record<string, string> = {
    TAGSTREAM_PROFILE: 'local',
    TAGSTREAM_LOG__LEVEL: 'warn',
    TAGSTREAM_KAFKA__TOPIC: run,
    TAGSTREAM_KAFKA__DLQ_TOPIC: `${run}.dlq`,
    TAGSTREAM_KAFKA__PARKING_TOPIC: `${run}.parking`,
    TAGSTREAM_KAFKA__GROUP_ID: `${run}-writers`,
    TAGSTREAM_INDEXER__GROUP_ID: `${run}-indexer`,
    TAGSTREAM_INDEXER__ANALYTICS_GROUP_ID: `${run}-analytics`,
    TAGSTREAM_ELASTICSEARCH__INDEX: run,
  };
  const config = loadConfig({ env: { ...process.env, ...env } });
  const fleet = await startFleet({ root, n: daemons, env, logPrefix: path.join(root, 'artifacts', run) });
  for (const m of fleet.members) say(`daemon ${m.name} up at ${m.url}; log in artifacts/${path.basename(m.logFile)}`);
  say(`topic ${run}`);

  const logger = silentLogger();
  const log = createCommandLog(config, logger);
  const started = Date.now();
  const prefix = `${run}-`;
  const diverged = new Set<string>();
  const load = startLoad({ target: () => fleet.next(), diverged: () => diverged, prefix, seed, ratePerSec: rate, tags: ['Critical', 'bug', 'ui', 'p1', 'p2', 'security'] });
  const lag = sampleLag(log, run, { writers: config.kafka.groupId, indexer: config.indexer.groupId }, 5_000, started);
  const rates = sampleClusterRates(() => fleet.members.filter((m) => m.available()).map((m) => m.url), started);
  const leadership = sampleLeadership(fleet, started);

  const clusterOutage = process.argv.indexOf('--cluster-outage-s') >= 0 ? arg('cluster-outage-s', 30) : undefined;
  const schedule = faultSchedule({ seed, seconds, clusters: config.postgres.clusters.length, redis: config.redis.instances.length, daemons, ...(clusterOutage ? { clusterOutageS: clusterOutage } : {}) });
  const faults: Array<{ kind: string; at: number; durationS: number; target: number; error?: string }> = [];
  const faultEnv = { config, fleet, adminToken: config.http.adminToken, log: say, setDiverged: (node: string, on: boolean) => void (on ? diverged.add(node) : diverged.delete(node)) };
  for (const f of schedule) {
    const wait = started + f.at * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    say(`${at(started)} fault ${f.kind} (target ${f.target}) for ${f.durationS}s`);
    // When it really began (a slow heal before it delays it) and how long until it was healed.
    const began = Date.now();
    const record: (typeof faults)[number] = { ...f, at: Math.round((began - started) / 1000) };
    faults.push(record);
    try {
      const heal = await inject(f, faultEnv);
      await sleep(f.durationS * 1000);
      await heal();
      record.durationS = Math.round((Date.now() - began) / 1000);
      say(`${at(started)} healed ${f.kind}`);
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
      say(`  fault ${f.kind} failed: ${record.error}`);
    }
  }
  const rest = started + seconds * 1000 - Date.now();
  if (rest > 0) await sleep(rest);
  const report = await load.stop();
  await fleet.restoreAll();

  say('load stopped; waiting for the writers and the indexer to catch up');
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const [w, i] = await Promise.all([lagOf(log, run, config.kafka.groupId).catch(() => -1), lagOf(log, run, config.indexer.groupId).catch(() => -1)]);
    if (w === 0 && i === 0) break;
    await sleep(2_000);
  }
  await lag.stop();
  await rates.stop();
  await leadership.stop();
  const ended = (Date.now() - started) / 1000;

  // The checker reads the databases through the topology the leader ended with (any daemon when none leads).
  const via = (await fleet.leader()) ?? fleet.anyUp()!;
  const status = (await fleet.status(via, 5_000)) as { topology?: Record<string, Topology> } | null;
  const stores = await createShardStores(config, logger, { clock: systemClock });
  for (const [name, store] of stores) {
    const t = status?.topology?.[name];
    if (t) await store.setTopology(t);
  }
  const search = createSearchIndex(config, logger, systemClock);
  const verdict = await check({ log, topic: run, dlqTopics: [config.kafka.dlqTopic, config.kafka.parkingTopic], stores: stores.values(), shardCount: config.shards.count, clusterOf: (s) => clusterOfShard(config, s), search, limits: config.commands, prefix });
  // …and every entity through every daemon.
  const records = (await readTopic(log, run)).filter((r) => (r.key ?? '').startsWith(prefix));
  const want = expectedTags(expectedState(records, config.commands), prefix);
  const reads = await readThroughEvery(fleet.members.map((m) => ({ name: m.name, url: m.url })), want);
  await fleet.stopAll('SIGTERM');
  for (const s of stores.values()) await s.close();
  await search.close();
  await log.close();

  say('\nfaults (when each began, and how long until it was healed):');
  for (const f of faults) say(`  ${String(f.at).padStart(5)}s ${f.kind.padEnd(28)} target ${f.target} for ${f.durationS}s${f.error ? `  (failed: ${f.error})` : ''}`);
  say('\nwho led when (each daemon\'s /status, every second):');
  const intervals = leadershipIntervals(leadership.samples, ended);
  for (const line of formatIntervals(intervals)) say(`  ${line}`);
  const splitBrain = splitBrainSamples(leadership.samples);
  say(`  samples with two leaders at once: ${splitBrain}`);
  say('\navailability (non-5xx share of the requests sent to a daemon that was up; a request in flight when the drill killed or paused its daemon is counted apart):');
  const avail: Record<string, number> = {};
  for (const [ep, s] of Object.entries(report.endpoints)) {
    avail[ep] = Number((availability(s) * 100).toFixed(3));
    say(`  ${ep.padEnd(12)} ${avail[ep]!.toFixed(3)}%  requests ${s.requests}, ok ${s.ok}, degraded ${s.degraded}, 4xx ${s.client4xx}, 5xx ${s.server5xx}, no answer ${s.noAnswer}, daemon killed or paused ${s.daemonDown}`);
  }
  say(`  read-your-writes: ${report.rywChecks} checks (write through one daemon, read through another), ${report.rywViolations} violations; ${report.rywNotApplied} writes answered 202 not applied within 5 s (sent to a daemon that does not consume the entity's partition, or during a fault)`);
  say(`  entity reads served by a node while it was diverged: ${report.divergedReads.length}${report.divergedReads.length ? ` (${report.divergedReads.slice(0, 5).map((r) => `${r.daemon}→${r.node} ${r.entity}`).join('; ')})` : ''}`);
  say('\nper daemon:');
  const perDaemon: Record<string, unknown> = {};
  for (const m of fleet.members) {
    const l = report.daemons[m.name];
    const r = reads[m.name]!;
    const nodes = (x: Record<string, number>) => Object.entries(x).sort().map(([k, v]) => `${k} ${v}`).join(', ') || '—';
    say(`  ${m.name}: restarts ${m.restarts}; load ${l?.requests ?? 0} requests, 5xx ${l?.server5xx ?? 0}, no answer ${l?.noAnswer ?? 0}; entity reads served by ${nodes(l?.servedBy ?? {})}`);
    say(`      final read of every entity: ${r.reads} reads, wrong ${r.wrong}, unanswered ${r.unanswered}; served by ${nodes(r.servedBy)}${r.wrong ? `; wrong by ${nodes(r.wrongBy)}: ${r.examples.join('; ')}` : ''}`);
    perDaemon[m.name] = { restarts: m.restarts, requests: l?.requests ?? 0, server5xx: l?.server5xx ?? 0, noAnswer: l?.noAnswer ?? 0, finalReads: r.reads, wrong: r.wrong, unanswered: r.unanswered, servedBy: r.servedBy, ...(r.wrong ? { wrongBy: r.wrongBy } : {}) };
  }
  say('\napplied per cluster, all daemons (commands/s: 30 s before · during · 30 s after each PostgreSQL fault; whole run):');
  const fmt = (r: Record<string, number>) => Object.entries(r).map(([c, v]) => `${c} ${v}`).join(', ') || '—';
  const faultRates = faults
    .filter((f) => f.kind.startsWith('pg-') || f.kind === 'daemon-restart-primary-down')
    .map((f) => ({ kind: f.kind, target: f.target, at: f.at, before: ratesBetween(rates.samples, f.at - 30, f.at), during: ratesBetween(rates.samples, f.at + 5, f.at + f.durationS), after: ratesBetween(rates.samples, f.at + f.durationS, f.at + f.durationS + 30) }));
  for (const f of faultRates) say(`  ${String(f.at).padStart(5)}s ${f.kind.padEnd(28)} target ${f.target}: ${fmt(f.before)} · ${fmt(f.during)} · ${fmt(f.after)}`);
  say(`  whole run: ${fmt(ratesBetween(rates.samples, 0, seconds))}`);
  say('\nlag (records not yet committed):');
  for (const line of lagChart(lag.samples)) say(`  ${line}`);
  say('\nchecker:');
  say(`  commands ${verdict.commands} (valid ${verdict.valid}, invalid ${verdict.invalid}); database missing ${verdict.db.missing.length}, extra ${verdict.db.extra.length}, wrong version ${verdict.db.wrongVersion.length}, wrong counts ${verdict.db.wrongCounts.length}`);
  if (verdict.search) say(`  search missing ${verdict.search.missing.length}, extra ${verdict.search.extra.length}, wrong version ${verdict.search.wrongVersion.length}; unaccounted invalid commands ${verdict.unaccounted.length}; dead-lettered valid commands ${verdict.deadLettered.length}`);
  for (const [k, xs] of Object.entries({ ...verdict.db, ...(verdict.search ? Object.fromEntries(Object.entries(verdict.search).map(([a, b]) => [`search.${a}`, b])) : {}), unaccounted: verdict.unaccounted })) if (xs.length) say(`  ${k}: ${xs.slice(0, 10).join('; ')}`);
  const wrongReads = Object.values(reads).reduce((n, r) => n + r.wrong, 0);
  const unansweredReads = Object.values(reads).reduce((n, r) => n + r.unanswered, 0);
  say(`  entities read through every daemon: ${want.size} × ${fleet.members.length}; wrong answers ${wrongReads}, unanswered ${unansweredReads}`);

  const nonCritical = Math.min(avail.popular ?? 100, avail.search ?? 100);
  const ok = verdict.ok && nonCritical >= 99.9 && wrongReads === 0 && report.divergedReads.length === 0 && splitBrain === 0;
  const summary = {
    drill: ok ? 'passed' : 'failed',
    seed,
    minutes,
    daemons,
    faults: faults.length,
    kinds: [...new Set(faults.map((f) => f.kind))],
    commands: verdict.commands,
    missing: verdict.db.missing.length + (verdict.search?.missing.length ?? 0),
    extra: verdict.db.extra.length + (verdict.search?.extra.length ?? 0),
    drift: verdict.db.wrongVersion.length + verdict.db.wrongCounts.length + (verdict.search?.wrongVersion.length ?? 0),
    countersExact: verdict.db.wrongCounts.length === 0,
    unaccounted: verdict.unaccounted.length,
    wrongReads,
    unansweredReads,
    divergedReads: report.divergedReads.length,
    splitBrainSamples: splitBrain,
    availability: avail,
    ryw: { checks: report.rywChecks, violations: report.rywViolations, notApplied: report.rywNotApplied },
    daemonRestarts: fleet.members.reduce((n, m) => n + m.restarts, 0),
    perDaemon,
    leadership: intervals.map((x) => ({ from: Math.round(x.from), to: Math.round(x.to), leader: x.leader, term: x.term })),
    clusterRates: faultRates,
  };
  return { verdict, load: report, ok, summary };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runDrill(arg('minutes', 3), Math.floor(arg('seed', 1)), arg('rate', 40), Math.floor(arg('daemons', 2))).then(
    ({ ok, summary }) => {
      say(JSON.stringify(summary));
      process.exit(ok ? 0 : 1);
    },
    (err: unknown) => {
      say(JSON.stringify({ drill: 'error', error: err instanceof Error ? err.message : String(err) }));
      process.exit(2);
    },
  );
}
