// `npm run drill -- --minutes N --seed N [--rate R]`: mixed load against the local profile while seeded faults
// hit PostgreSQL primaries and replicas, Redis, Elasticsearch, the Kafka broker and the daemon itself; then the
// checker's verdict. The last line of output is one JSON object.
import { createServer } from 'node:net';
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
import { check, type Verdict } from './checker.ts';
import { ratesBetween, sampleClusterRates } from './cluster-rates.ts';
import { daemonProcess } from './daemon-process.ts';
import { inject } from './faults.ts';
import { lagChart, lagOf, sampleLag } from './lag.ts';
import { availability, startLoad, type LoadReport } from './load.ts';
import { faultSchedule } from './schedule.ts';

const root = path.resolve(import.meta.dirname, '..');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runDrill(minutes: number, seed: number, rate: number): Promise<{ verdict: Verdict; load: LoadReport; ok: boolean; summary: Record<string, unknown> }> {
  const seconds = Math.round(minutes * 60);
  const base = loadConfig({ overrides: { profile: 'local', log: { level: 'warn' } } });
  say(`drill: ${minutes} min, seed ${seed}, ${rate} req/s; starting services`);
  await ensureServices(base, { log: () => undefined });
  for (let c = 0; c < base.postgres.clusters.length; c++) await resetCluster(base, c);

  const run = `drill-${seed}-${Date.now().toString(36)}`;
  const port = await freePort();
  const env: Record<string, string> = {
    TAGSTREAM_PROFILE: 'local',
    TAGSTREAM_LOG__LEVEL: 'warn',
    TAGSTREAM_HTTP__PORT: String(port),
    TAGSTREAM_KAFKA__TOPIC: run,
    TAGSTREAM_KAFKA__DLQ_TOPIC: `${run}.dlq`,
    TAGSTREAM_KAFKA__PARKING_TOPIC: `${run}.parking`,
    TAGSTREAM_KAFKA__GROUP_ID: `${run}-writers`,
    TAGSTREAM_INDEXER__GROUP_ID: `${run}-indexer`,
    TAGSTREAM_INDEXER__ANALYTICS_GROUP_ID: `${run}-analytics`,
    TAGSTREAM_ELASTICSEARCH__INDEX: run,
  };
  const config = loadConfig({ env: { ...process.env, ...env } });
  const daemon = daemonProcess({ root, env, port, logFile: path.join(root, 'artifacts', `${run}.daemon.log`) });
  await daemon.start();
  say(`daemon up at ${daemon.url} (topic ${run}); log in artifacts/${run}.daemon.log`);

  const logger = silentLogger();
  const log = createCommandLog(config, logger);
  const started = Date.now();
  const prefix = `${run}-`;
  const load = startLoad({ url: () => daemon.url, daemonUp: () => daemon.available(), prefix, seed, ratePerSec: rate, tags: ['Critical', 'bug', 'ui', 'p1', 'p2', 'security'] });
  const lag = sampleLag(log, run, { writers: config.kafka.groupId, indexer: config.indexer.groupId }, 5_000, started);
  const rates = sampleClusterRates(() => daemon.url, started);

  const clusterOutage = process.argv.indexOf('--cluster-outage-s') >= 0 ? arg('cluster-outage-s', 30) : undefined;
  const schedule = faultSchedule({ seed, seconds, clusters: config.postgres.clusters.length, redis: config.redis.instances.length, ...(clusterOutage ? { clusterOutageS: clusterOutage } : {}) });
  const faults: Array<{ kind: string; at: number; durationS: number; target: number; error?: string }> = [];
  for (const f of schedule) {
    const wait = started + f.at * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    say(`[${String(Math.round((Date.now() - started) / 1000)).padStart(4)}s] fault ${f.kind} (target ${f.target}) for ${f.durationS}s`);
    const record: (typeof faults)[number] = { ...f };
    faults.push(record);
    try {
      const heal = await inject(f, { config, daemon, adminToken: config.http.adminToken, log: say });
      await sleep(f.durationS * 1000);
      await heal();
      say(`[${String(Math.round((Date.now() - started) / 1000)).padStart(4)}s] healed ${f.kind}`);
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
      say(`  fault ${f.kind} failed: ${record.error}`);
    }
  }
  const rest = started + seconds * 1000 - Date.now();
  if (rest > 0) await sleep(rest);
  const report = await load.stop();
  if (!daemon.running()) await daemon.start();

  say('load stopped; waiting for the writers and the indexer to catch up');
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const [w, i] = await Promise.all([lagOf(log, run, config.kafka.groupId).catch(() => -1), lagOf(log, run, config.indexer.groupId).catch(() => -1)]);
    if (w === 0 && i === 0) break;
    await sleep(2_000);
  }
  await lag.stop();
  await rates.stop();

  // The checker reads the databases through the topology the daemon ended with.
  const status = (await (await fetch(`${daemon.url}/status`)).json()) as { topology?: Record<string, Topology> };
  const stores = await createShardStores(config, logger, { clock: systemClock });
  for (const [name, store] of stores) {
    const t = status.topology?.[name];
    if (t) await store.setTopology(t);
  }
  const search = createSearchIndex(config, logger, systemClock);
  const verdict = await check({ log, topic: run, dlqTopics: [config.kafka.dlqTopic, config.kafka.parkingTopic], stores: stores.values(), shardCount: config.shards.count, clusterOf: (s) => clusterOfShard(config, s), search, limits: config.commands, prefix });
  await daemon.kill('SIGTERM');
  for (const s of stores.values()) await s.close();
  await search.close();
  await log.close();

  say('\nfaults:');
  for (const f of faults) say(`  ${String(f.at).padStart(5)}s ${f.kind.padEnd(16)} target ${f.target} for ${f.durationS}s${f.error ? `  (failed: ${f.error})` : ''}`);
  say('\navailability (non-5xx share while the daemon process was up):');
  const avail: Record<string, number> = {};
  for (const [ep, s] of Object.entries(report.endpoints)) {
    avail[ep] = Number((availability(s) * 100).toFixed(3));
    say(`  ${ep.padEnd(12)} ${avail[ep]!.toFixed(3)}%  requests ${s.requests}, ok ${s.ok}, degraded ${s.degraded}, 4xx ${s.client4xx}, 5xx ${s.server5xx}, no answer ${s.noAnswer}, while daemon down ${s.daemonDown}`);
  }
  say(`  read-your-writes: ${report.rywChecks} checks, ${report.rywViolations} violations`);
  say('\napplied per cluster (commands/s: 30 s before · during · 30 s after each PostgreSQL fault; whole run):');
  const fmt = (r: Record<string, number>) => Object.entries(r).map(([c, v]) => `${c} ${v}`).join(', ') || '—';
  const faultRates = faults
    .filter((f) => f.kind.startsWith('pg-'))
    .map((f) => ({ kind: f.kind, target: f.target, at: f.at, before: ratesBetween(rates.samples, f.at - 30, f.at), during: ratesBetween(rates.samples, f.at + 5, f.at + f.durationS), after: ratesBetween(rates.samples, f.at + f.durationS, f.at + f.durationS + 30) }));
  for (const f of faultRates) say(`  ${String(f.at).padStart(5)}s ${f.kind.padEnd(16)} target ${f.target}: ${fmt(f.before)} · ${fmt(f.during)} · ${fmt(f.after)}`);
  say(`  whole run: ${fmt(ratesBetween(rates.samples, 0, seconds))}`);
  say('\nlag (records not yet committed):');
  for (const line of lagChart(lag.samples)) say(`  ${line}`);
  say('\nchecker:');
  say(`  commands ${verdict.commands} (valid ${verdict.valid}, invalid ${verdict.invalid}); database missing ${verdict.db.missing.length}, extra ${verdict.db.extra.length}, wrong version ${verdict.db.wrongVersion.length}, wrong counts ${verdict.db.wrongCounts.length}`);
  if (verdict.search) say(`  search missing ${verdict.search.missing.length}, extra ${verdict.search.extra.length}, wrong version ${verdict.search.wrongVersion.length}; unaccounted invalid commands ${verdict.unaccounted.length}; dead-lettered valid commands ${verdict.deadLettered.length}`);
  for (const [k, xs] of Object.entries({ ...verdict.db, ...(verdict.search ? Object.fromEntries(Object.entries(verdict.search).map(([a, b]) => [`search.${a}`, b])) : {}), unaccounted: verdict.unaccounted })) if (xs.length) say(`  ${k}: ${xs.slice(0, 10).join('; ')}`);

  const nonCritical = Math.min(avail.popular ?? 100, avail.search ?? 100);
  const ok = verdict.ok && nonCritical >= 99.9;
  const summary = {
    drill: ok ? 'passed' : 'failed',
    seed,
    minutes,
    faults: faults.length,
    kinds: [...new Set(faults.map((f) => f.kind))],
    commands: verdict.commands,
    missing: verdict.db.missing.length + (verdict.search?.missing.length ?? 0),
    extra: verdict.db.extra.length + (verdict.search?.extra.length ?? 0),
    drift: verdict.db.wrongVersion.length + verdict.db.wrongCounts.length + (verdict.search?.wrongVersion.length ?? 0),
    countersExact: verdict.db.wrongCounts.length === 0,
    unaccounted: verdict.unaccounted.length,
    availability: avail,
    ryw: { checks: report.rywChecks, violations: report.rywViolations },
    daemonRestarts: daemon.restarts,
    clusterRates: faultRates,
  };
  return { verdict, load: report, ok, summary };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runDrill(arg('minutes', 3), Math.floor(arg('seed', 1)), arg('rate', 40)).then(
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
