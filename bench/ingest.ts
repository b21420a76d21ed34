// `npm run bench -- ingest`: end-to-end ingest Kafka → committed in PostgreSQL (64 logical shards over the
// local clusters, each a primary with 2 async replicas), beside raw COPY rows/s into the same primaries in the
// same run. Phase 1 drains a backlog (sustained throughput, ≥ 60 s); phase 2 paces load to measure
// produce→committed latency; phase 3 applies the same commands straight to PostgreSQL with the writers' own
// statement (the ceiling no daemon here can pass). Last line: one JSON object.
// Flags: --events N (default 5,000,000), --profile-drain FILE (a V8 CPU profile of the drain alone).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { availableParallelism } from 'node:os';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { KafkaCommandLog } from '../adapters/kafka/kafka-command-log.ts';
import { createShardStores } from '../adapters/pg/index.ts';
import type { AssocWrite } from '../adapters/pg/port.ts';
import type { Queryable } from '../adapters/pg/queryable.ts';
import { applyBatchSql } from '../adapters/pg/shard-sql.ts';
import { clusterOfShard, createTree } from '../actors/tree.ts';
import { loadConfig } from '../config/index.ts';
import { systemClock } from '../lib/clock.ts';
import { shardOf } from '../lib/command.ts';
import { silentLogger } from '../lib/logger.ts';
import { ensureServices, resetCluster } from '../services/index.ts';
import { Readable } from 'node:stream';

const say = (s: string) => process.stdout.write(`${s}\n`);
const argNum = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};

const argStr = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/**
 * Busy CPU time of the whole machine in µs (every process: the daemon, the six PostgreSQL nodes, Kafka), from
 * /proc/stat; null where there is none. Divided by the rows of a phase: what one row costs the two cores.
 */
const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
function machineBusyUs(): number | null {
  try {
    // user nice system idle iowait irq softirq steal guest guest_nice: busy is user + nice + system + irq +
    // softirq (steal is the hypervisor's, guest time is already inside user and nice).
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const busy = [0, 1, 2, 5, 6].reduce((a, i) => a + (f[i] ?? 0), 0);
    return (busy * 1e6) / clockTicks;
  } catch {
    return null;
  }
}
const us = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(1)} µs`);

/** Starts V8's CPU profiler in this process; the function it returns stops it and gives the profile. */
async function startProfiler(): Promise<() => Promise<object>> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res as Record<string, unknown>))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return async () => {
    const { profile } = await post('Profiler.stop');
    session.disconnect();
    return profile as object;
  };
}

function commands(n: number, seed: number): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  const tags = ['Critical', 'bug', 'ui', 'backend', 'p1', 'p2', 'security', 'docs', 'perf', 'infra'];
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const entity = `b${seed}-${s % 200_000}`;
    const op = (s >>> 20) % 10 < 7 ? 'attach' : 'detach';
    out.push({ key: entity, value: JSON.stringify({ id: `${seed}-${i}`, op, entity, tag: tags[(s >>> 8) % tags.length], actor: 'bench', at: Date.now() }) });
  }
  return out;
}

/** Raw COPY into a scratch table shaped like tag_assoc (same columns, same primary key, logged so it is
 *  replicated), on every primary at once, for `seconds`: the physical limit of writing these rows. Returns
 *  rows/s and the machine's busy CPU per row over the copying (tables made and dropped outside it). */
async function copyBaseline(ports: number[], seconds: number): Promise<{ rate: number; usPerRow: number | null }> {
  const rowsPer = 50_000;
  // Unique (shard, entity, tag) per row across chunks: the table has the real table's primary key to maintain.
  const chunkAt = (k: number) => Array.from({ length: rowsPer }, (_, i) => `${i % 64}\tb-${k}-${i}\tt${i % 10}\tt\t0\t${i}\t2026-01-01\n`).join('');
  const clients = await Promise.all(
    ports.map(async (port) => {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'tagstream' });
      c.on('error', () => undefined);
      await c.connect();
      await c.query('DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (shard smallint, entity text, tag text, attached bool, kafka_partition int, kafka_offset bigint, updated_at timestamptz, PRIMARY KEY (shard, entity, tag))');
      return c;
    }),
  );
  const busy0 = machineBusyUs();
  const t0 = Date.now();
  const until = t0 + seconds * 1000;
  const rows = await Promise.all(
    clients.map(async (c) => {
      let n = 0;
      for (let k = 0; Date.now() < until; k++) {
        await pipeline(Readable.from([chunkAt(k)]), c.query(copyFrom('COPY bench_copy FROM STDIN')) as unknown as Writable);
        n += rowsPer;
      }
      return n;
    }),
  );
  const secs = (Date.now() - t0) / 1000;
  const busy1 = machineBusyUs();
  const total = rows.reduce((a, b) => a + b, 0);
  for (const c of clients) {
    await c.query('DROP TABLE bench_copy');
    await c.end();
  }
  return { rate: total / secs, usPerRow: busy0 === null || busy1 === null ? null : (busy1 - busy0) / total };
}

/**
 * The PostgreSQL side alone: the backlog's commands through the writers' own statement (applyBatchSql), in
 * pre-built batches of 2,500 straight to each command's cluster, two transactions at a time per cluster (as
 * group commit runs them), into emptied tables: no Kafka, no actors, no offsets. No daemon on this machine can
 * apply these commands faster than this; the drain's rate over this one is the daemon's own cost.
 */
async function applyCeiling(config: ReturnType<typeof loadConfig>, events: number): Promise<{ rate: number; usPerRow: number | null }> {
  const clusters = config.postgres.clusters;
  // Built before the clock starts (about 1 GB for 5 M commands): only the statements are timed.
  const batches = new Map<string, AssocWrite[][]>(clusters.map((c) => [c.name, []]));
  const open = new Map<string, AssocWrite[]>(clusters.map((c) => [c.name, []]));
  for (let i = 0; i < events; i += 20_000) {
    commands(Math.min(20_000, events - i), i + 1).forEach((c, k) => {
      const cmd = JSON.parse(c.value) as { op: string; entity: string; tag: string; at: number };
      const shard = shardOf(cmd.entity, config.shards.count);
      const cluster = clusterOfShard(config, shard);
      const batch = open.get(cluster)!;
      batch.push({ shard, entity: cmd.entity, tag: cmd.tag, attached: cmd.op === 'attach', partition: shard % config.kafka.partitions, offset: String(i + k), at: cmd.at });
      if (batch.length === 2_500) {
        batches.get(cluster)!.push(batch);
        open.set(cluster, []);
      }
    });
  }
  for (const [cluster, batch] of open) if (batch.length > 0) batches.get(cluster)!.push(batch);
  for (const c of clusters) await emptyTables(c.nodes[0]!.port);
  const t0 = Date.now();
  const busy0 = machineBusyUs();
  await Promise.all(
    clusters.flatMap((c) => {
      const queue = batches.get(c.name)!;
      return [0, 1].map(async () => {
        const client = new pg.Client({ host: '127.0.0.1', port: c.nodes[0]!.port, user: 'postgres', database: 'tagstream' });
        client.on('error', () => undefined);
        await client.connect();
        const q: Queryable = { query: async (text, params) => (await client.query(text, params)).rows as never };
        try {
          for (let b = queue.shift(); b; b = queue.shift()) await applyBatchSql(q, b);
        } finally {
          await client.end();
        }
      });
    }),
  );
  const busy1 = machineBusyUs();
  return { rate: events / ((Date.now() - t0) / 1000), usPerRow: busy0 === null || busy1 === null ? null : (busy1 - busy0) / events };
}

const round1 = (x: number | null) => (x === null ? null : Number(x.toFixed(1)));

/** Reads the whole backlog with a fresh group, counting records and doing nothing else: records/s. */
async function bareConsumer(log: KafkaCommandLog, topic: string, events: number): Promise<{ rate: number; usPerRow: number | null }> {
  let n = 0;
  let t0 = 0;
  let busy0: number | null = null;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const sub = await log.subscribe({
    groupId: `${topic}-bare`,
    topics: [topic],
    fromBeginning: true,
    eachBatch: async (b) => {
      if (t0 === 0) {
        t0 = Date.now();
        busy0 = machineBusyUs();
      }
      n += b.records.length;
      if (n >= events) resolveDone();
    },
  });
  await done;
  const secs = (Date.now() - t0) / 1000;
  const busy1 = machineBusyUs();
  await sub.stop();
  return { rate: events / secs, usPerRow: busy0 === null || busy1 === null ? null : (busy1 - busy0) / events };
}

/** Empties the write path's tables on one primary (after migrations, so they exist). */
async function emptyTables(port: number): Promise<void> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'tagstream' });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query('TRUNCATE tag_assoc, tag_counts');
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const events = argNum('events', 5_000_000); // ≥ 60 s of drain at ~65 k/s on the 2-core machine
  const base = loadConfig({ overrides: { profile: 'local', log: { level: 'warn' } } });
  say('ingest bench: starting services');
  await ensureServices(base, { log: () => undefined });
  for (let c = 0; c < base.postgres.clusters.length; c++) await resetCluster(base, c);
  const topic = `bench-ingest-${Date.now().toString(36)}`;
  const config = loadConfig({ overrides: { profile: 'local', log: { level: 'warn' }, shards: { count: 64 }, kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-w`, partitions: 16 }, writer: { batchSize: 2_000, batchWindowMs: 20 } } });
  const primaries = config.postgres.clusters.map((c) => c.nodes[0]!.port);

  // A cold cluster (buffers not yet touched, files not yet extended) copies slower than a warm one: 223 k → 286 k
  // rows/s over four rounds in a row here. The best of three rounds is the limit the ratio is taken against.
  say('raw COPY baseline (3 rounds of 5 s, all primaries at once; the best counts)…');
  const rounds: Array<{ rate: number; usPerRow: number | null }> = [];
  for (let i = 0; i < 3; i++) rounds.push(await copyBaseline(primaries, 5));
  const copy = rounds.reduce((best, r) => (r.rate > best.rate ? r : best));
  const copyRate = copy.rate;
  say(`  raw COPY: ${Math.round(copyRate).toLocaleString()} rows/s (rounds: ${rounds.map((r) => Math.round(r.rate).toLocaleString()).join(', ')}); machine CPU per row ${us(copy.usPerRow)}`);

  const logger = silentLogger();
  const log = new KafkaCommandLog({ brokers: [...config.kafka.brokers], clientId: 'bench-ingest', logger });
  await log.ensureTopic(topic, config.kafka.partitions);
  say(`producing a backlog of ${events.toLocaleString()} commands…`);
  for (let i = 0; i < events; i += 20_000) await log.produce(topic, commands(Math.min(20_000, events - i), i + 1));

  const stores = await createShardStores(config, logger);
  // Every run starts from empty tables: the entity names repeat from run to run, and a table left by an earlier
  // run holds them at higher offsets than this run's new topic, so its commands would be no-op updates.
  for (const s of stores.values()) await s.migrate();
  for (const port of primaries) await emptyTables(port);
  const produced = new Map<string, number>();
  const latencies: number[] = [];
  let committedTotal = 0n;
  const committedAt = new Map<number, bigint>();
  const tree = createTree({
    config, clock: systemClock, logger, log, stores, onFatal: () => undefined,
    hooks: {
      onCommitted: (p, o) => {
        const prev = committedAt.get(p) ?? 0n;
        committedTotal += o - prev;
        committedAt.set(p, o);
        if (produced.size === 0) return; // the drain: no paced event is waiting for its latency
        const now = Date.now();
        for (let x = prev; x < o; x++) {
          const t = produced.get(`${p}:${x}`);
          if (t !== undefined) {
            latencies.push(now - t);
            produced.delete(`${p}:${x}`);
          }
        }
      },
    },
  });
  say('phase 1: draining the backlog through 64 shard writers…');
  const profile = argStr('profile-drain'); // a .cpuprofile of the drain alone (open it in Chrome's DevTools)
  const profiler = profile ? await startProfiler() : null;
  const t0 = Date.now();
  const busy0 = machineBusyUs();
  await tree.start();
  while (committedTotal < BigInt(events)) await new Promise((r) => setTimeout(r, 100));
  const drainS = (Date.now() - t0) / 1000;
  const busy1 = machineBusyUs();
  const drainCpu = busy0 === null || busy1 === null ? null : (busy1 - busy0) / events;
  if (profiler && profile) {
    writeFileSync(profile, JSON.stringify(await profiler()));
    say(`  drain profile written to ${profile}`);
  }
  const eventsPerS = events / drainS;
  say(`  ${events.toLocaleString()} events committed in ${drainS.toFixed(1)} s: ${Math.round(eventsPerS).toLocaleString()} events/s; machine CPU per event ${us(drainCpu)}`);
  if (drainS < 60) say(`  note: the drain took under 60 s; the goal asks for ≥ 60 s sustained: run with more --events`);

  say('phase 2: paced load (2,000 events/s for 20 s) for produce→committed latency…');
  const paceEnd = Date.now() + 20_000;
  let seq = 10_000_000;
  while (Date.now() < paceEnd) {
    const batch = commands(200, seq++);
    const sent = Date.now();
    const res = await log.produce(topic, batch);
    for (const r of res) produced.set(`${r.partition}:${r.offset}`, sent);
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - sent))));
  }
  const waitUntil = Date.now() + 30_000;
  while (produced.size > 0 && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 100));
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const rssMb = Math.round(process.memoryUsage().rss / 1_048_576);
  say(`  produce→committed p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms over ${latencies.length} events; RSS ${rssMb} MB (daemon + producer in one process)`);
  await tree.stop(10_000);
  for (const s of stores.values()) await s.close();
  say('phase 3: the same commands straight to PostgreSQL (the writers\' statement, no Kafka, no actors)…');
  const stmt = await applyCeiling(config, events);
  const ceiling = stmt.rate;
  say(`  ${Math.round(ceiling).toLocaleString()} commands/s: the most any daemon could reach here (drain ÷ this = ${(eventsPerS / ceiling).toFixed(2)}); machine CPU per command ${us(stmt.usPerRow)}`);
  say('phase 4: a bare consumer of the same topic (kafkajs through our subscription, records counted, nothing else)…');
  const bare = await bareConsumer(log, topic, events);
  say(`  ${Math.round(bare.rate).toLocaleString()} records/s; machine CPU per record ${us(bare.usPerRow)}`);
  // Any daemon here must at least read each record and run the statement, on the same cores: with every core
  // busy (never quite reached), cores ÷ (statement + consumer CPU per command) is its best rate.
  const cores = availableParallelism();
  const bound = stmt.usPerRow && bare.usPerRow ? (cores * 1e6) / (stmt.usPerRow + bare.usPerRow) / copyRate : null;
  if (bound !== null) say(`  CPU bound on the ratio: ${cores} cores ÷ (statement ${us(stmt.usPerRow)} + consumer ${us(bare.usPerRow)} per command) = ${Math.round(bound * copyRate).toLocaleString()}/s at most, ${bound.toFixed(3)} of raw COPY`);
  const ratio = eventsPerS / copyRate;
  await log.close();
  say(`ratio events/s ÷ raw COPY rows/s = ${ratio.toFixed(3)}; the statement alone ÷ raw COPY = ${(ceiling / copyRate).toFixed(3)}`);
  say(JSON.stringify({ bench: 'ingest', events, drain_s: Number(drainS.toFixed(1)), sustained_60s: drainS >= 60, events_per_s: Math.round(eventsPerS), copy_rows_per_s: Math.round(copyRate), ratio: Number(ratio.toFixed(3)), p50_ms: pct(0.5), p99_ms: pct(0.99), rss_mb: rssMb, apply_ceiling_per_s: Math.round(ceiling), ceiling_ratio: Number((ceiling / copyRate).toFixed(3)), bare_consumer_per_s: Math.round(bare.rate), cpu_us: { copy_row: round1(copy.usPerRow), event: round1(drainCpu), statement: round1(stmt.usPerRow), consumer: round1(bare.usPerRow) }, cpu_bound_ratio: bound === null ? null : Number(bound.toFixed(3)) }));
  process.exit(0);
}

main().catch((err: unknown) => {
  say(JSON.stringify({ bench: 'ingest', error: err instanceof Error ? err.message : String(err) }));
  process.exit(1);
});
