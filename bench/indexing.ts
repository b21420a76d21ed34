// Indexing benchmark (issue 7): end-to-end throughput Kafka → Elasticsearch of the search sink (consume,
// transform, coalesce, bulk with external versions, commit), beside the physical limit measured in the same run:
// a raw `_bulk` loop (NDJSON over HTTP, same documents, same bulk size and concurrency, external versions) into
// the same node. Then the write→searchable lag at a steady rate (default 5,000 commands/s): probe commands whose
// append time is known, found by a search poller. Starts the local services it needs when they are not running.
// Last line of output: one JSON object.
//
//   npx tsx bench/indexing.ts [--docs 100000] [--rounds 3] [--rate 5000] [--seconds 20] [--refresh-ms 1000]
//   (npm run bench:indexing, or npm run bench -- index)
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { KafkaCommandLog } from '../adapters/kafka/kafka-command-log.ts';
import type { LogMessage } from '../adapters/kafka/port.ts';
import { ElasticSearchIndex } from '../adapters/search/elastic-search-index.ts';
import { VERSION_FIELD } from '../adapters/search/mapping.ts';
import type { BulkItem } from '../adapters/search/port.ts';
import { createDeadLetterSink } from '../actors/dlq/dead-letter.ts';
import { createSearchTarget } from '../actors/indexer/search-target.ts';
import { ActorSystem } from '../actors/runtime/system.ts';
import { Sink } from '../actors/sink/sink.ts';
import { loadConfig, type Config } from '../config/index.ts';
import { sleep, systemClock } from '../lib/clock.ts';
import { shardOf } from '../lib/command.ts';
import { createLogger } from '../lib/logger.ts';
import { createBreaker } from '../machines/index.ts';
import { ensureServices } from '../services/index.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const DOCS = arg('docs', 100_000);
const RATE = arg('rate', 5_000);
const SECONDS = arg('seconds', 20);
const BATCH = arg('batch', 1_000);
const PARTITIONS = arg('partitions', 16);
const ROUNDS = arg('rounds', 3);
const out = (line: string) => console.log(line);
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;

const config = loadConfig({ overrides: { profile: 'local', log: { level: 'warn' } } });
const refreshMs = arg('refresh-ms', config.elasticsearch.refreshIntervalMs);
const logger = createLogger({ level: 'warn', destination: process.stderr });
const clock = systemClock;

const command = (i: number, tag: string, op: 'attach' | 'detach' = 'attach'): LogMessage => {
  const entity = `b${runId}-${i}`;
  return { key: entity, value: JSON.stringify({ id: `${runId}-${i}`, op, entity, tag, actor: 'bench', at: Date.now() }) };
};

function newIndex(name: string): ElasticSearchIndex {
  return new ElasticSearchIndex({ node: config.elasticsearch.node, index: name, refreshIntervalMs: refreshMs, replicas: 0, logger, requestTimeoutMs: 30_000 });
}

/** The physical limit: raw _bulk requests of the same documents, `concurrency` in flight. */
async function rawBulk(docs: number, concurrency: number): Promise<{ docsPerSec: number; ms: number; avgRequestMs: number }> {
  const name = `bench-raw-${runId}`;
  const index = newIndex(name);
  await index.ensureIndex();
  const url = `${config.elasticsearch.node}/_bulk`;
  let next = 0;
  let requests = 0;
  let requestMs = 0;
  const t0 = clock.now();
  const worker = async () => {
    for (;;) {
      const from = next;
      if (from >= docs) return;
      next = Math.min(docs, from + BATCH);
      const lines: string[] = [];
      for (let i = from; i < next; i++) {
        const entity = `b${runId}-${i}`;
        const tag = `t${i % 8}`;
        lines.push(`{"index":{"_index":"${name}","_id":${JSON.stringify(`${entity}|${tag}`)},"version":${i + 1},"version_type":"external"}}`);
        lines.push(JSON.stringify({ entity, tag, attached: true, shard: shardOf(entity, config.shards.count), at: Date.now(), [VERSION_FIELD]: String(i + 1) }));
      }
      const r0 = clock.now();
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') + '\n' });
      const body = (await res.json()) as { errors: boolean };
      requestMs += clock.now() - r0;
      requests++;
      if (!res.ok || body.errors) throw new Error(`raw bulk failed: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = clock.now() - t0;
  await index.drop();
  await index.close();
  return { docsPerSec: (docs * 1_000) / ms, ms, avgRequestMs: requestMs / requests };
}

interface Pipeline {
  sink: Sink<BulkItem>;
  index: ElasticSearchIndex;
  done: () => number;
  writes: () => { n: number; docs: number; ms: number };
  stop(): Promise<void>;
}

async function pipeline(log: KafkaCommandLog, topic: string, label: string, onDone?: (timestamp: number) => void): Promise<Pipeline> {
  const index = newIndex(`bench-${label}-${runId}`);
  const system = new ActorSystem({ clock, logger, name: `bench-${label}` });
  const root = system.spawn({ name: 'bench', kind: 'supervisor', init: () => null, receive: (s: null) => s });
  let done = 0;
  const writes = { n: 0, docs: 0, ms: 0 };
  const sink = new Sink<BulkItem>({
    target: createSearchTarget({ index, limits: config.commands, shardCount: config.shards.count }),
    topic,
    groupId: `bench-${label}-${runId}`,
    poolSize: config.indexer.poolSize,
    batchSize: BATCH,
    batchWindowMs: 50,
    mailboxCapacity: 64,
    commitIntervalMs: 200,
    probes: config.breaker.halfOpenProbes,
    log,
    dlq: createDeadLetterSink(log, `${topic}.dlq`),
    breaker: createBreaker(config.breaker, { clock, name: `bench-${label}` }),
    retry: config.retry,
    system,
    parent: root,
    clock,
    logger,
    hooks: {
      onDone: (how, item) => {
        done++;
        if (how !== 'skipped') onDone?.(item.timestamp);
      },
      onWrite: ({ size, ms }) => {
        writes.n++;
        writes.docs += size;
        writes.ms += ms;
      },
    },
  });
  return {
    sink,
    index,
    done: () => done,
    writes: () => ({ ...writes }),
    async stop() {
      await sink.stop(5_000);
      system.shutdown();
      await index.drop().catch(() => undefined);
      await index.close();
    },
  };
}

/** Creates a topic; kafkajs' leader wait can report an unknown partition right after creation: try again. */
async function ensureTopic(log: KafkaCommandLog, topic: string, partitions: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await log.ensureTopic(topic, partitions);
      await log.partitionCount(topic);
      return;
    } catch (err) {
      if (attempt >= 10) throw err;
      await sleep(clock, 500);
    }
  }
}

async function produceAll(log: KafkaCommandLog, topic: string, n: number): Promise<void> {
  const chunk = 2_000;
  const inFlight: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i += chunk) {
    inFlight.push(log.produce(topic, Array.from({ length: Math.min(chunk, n - i) }, (_, k) => command(i + k, `t${(i + k) % 8}`))));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
}

const percentile = (sorted: number[], p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!);

async function main(): Promise<void> {
  out(`indexing benchmark: ${DOCS} docs, bulk ${BATCH} × ${config.indexer.poolSize} in flight; lag at ${RATE}/s for ${SECONDS} s; refresh ${refreshMs} ms`);
  await ensureServices(config, { only: ['kafka', 'es'], log: (l) => logger.info(l) });
  const log = new KafkaCommandLog({ brokers: [...config.kafka.brokers], clientId: `bench-${runId}`, logger });

  // 1. Throughput: a backlog of DOCS commands (distinct documents), indexed from a fresh group.
  const topic = `bench-ix-${runId}`;
  await ensureTopic(log, topic, PARTITIONS);
  await ensureTopic(log, `${topic}.dlq`, 1);
  const t0 = clock.now();
  await produceAll(log, topic, DOCS);
  out(`produced ${DOCS} commands in ${((clock.now() - t0) / 1000).toFixed(1)} s`);

  // Interleaved rounds of raw and pipeline; on a shared machine noise only slows a run down, so each side's
  // best round is its stable figure (as bench/machines.ts does).
  const raws: number[] = [];
  const pipes: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const raw = await rawBulk(DOCS, config.indexer.poolSize);
    raws.push(raw.docsPerSec);
    out(`round ${round} raw _bulk:  ${Math.round(raw.docsPerSec)} docs/s (${(raw.ms / 1000).toFixed(1)} s, ${Math.round(raw.avgRequestMs)} ms a request)`);
    const p = await pipeline(log, topic, `tput${round}`);
    const eld = monitorEventLoopDelay({ resolution: 10 });
    const started = clock.now();
    await p.sink.start();
    const joined = clock.now();
    eld.enable();
    let report = clock.now() + 5_000;
    while (p.done() < DOCS) {
      await sleep(clock, 20);
      if (clock.now() > report) {
        report += 5_000;
        out(`  … ${p.done()} of ${DOCS} done; ${JSON.stringify(p.sink.status())}`);
      }
    }
    const end = clock.now();
    eld.disable();
    await p.stop();
    const w = p.writes();
    pipes.push((DOCS * 1_000) / (end - joined));
    out(`round ${round} pipeline:   ${Math.round(pipes.at(-1)!)} docs/s (${((end - joined) / 1000).toFixed(1)} s after joining the group in ${joined - started} ms; ${w.n} bulks of ${Math.round(w.docs / w.n)} docs, ${Math.round(w.ms / w.n)} ms each; event loop delay p99 ${Math.round(eld.percentile(99) / 1e6)} ms)`);
  }
  const docsPerSec = Math.max(...pipes);
  const bulkDocsPerSec = Math.max(...raws);

  // 2. Lag at a steady rate: probes with a known append time, found by a search poller.
  const lagTopic = `bench-lag-${runId}`;
  await ensureTopic(log, lagTopic, PARTITIONS);
  await ensureTopic(log, `${lagTopic}.dlq`, 1);
  const lp = await pipeline(log, lagTopic, 'lag');
  await lp.sink.start();
  const probeTag = `lagprobe${runId}`;
  const appended = new Map<string, number>();
  const produceMs: number[] = [];
  const seen = new Map<string, number>();
  let producing = true;
  let stopAt = Number.POSITIVE_INFINITY;
  let sent = 0;
  let behind = 0;
  const poller = (async () => {
    while (producing || seen.size < appended.size) {
      const res = await lp.index.search(probeTag, { limit: 10_000 }).catch(() => ({ hits: [], total: 0 }));
      const now = clock.now();
      for (const h of res.hits) if (!seen.has(h.entity)) seen.set(h.entity, now);
      if (!producing && clock.now() > stopAt + 30_000) break;
      await sleep(clock, 25);
    }
  })();
  const tickMs = 20;
  const perTick = Math.max(1, Math.round((RATE * tickMs) / 1_000));
  const lagStart = clock.now();
  let probe = 0;
  for (let tick = 0; clock.now() < lagStart + SECONDS * 1_000; tick++) {
    const due = lagStart + tick * tickMs;
    const wait = due - clock.now();
    if (wait > 0) await sleep(clock, wait);
    else behind++;
    const msgs = Array.from({ length: perTick }, (_, k) => command(1_000_000 + sent + k, `t${(sent + k) % 8}`));
    sent += perTick;
    // Every 100 ms one of them is a probe (a distinct entity with the probe tag); its write time is when the
    // log acknowledged it (acks=all), as for an HTTP write.
    const pm = tick % 5 === 0 ? command(5_000_000 + probe++, probeTag) : null;
    if (pm) msgs[0] = pm;
    const sentAt = clock.now();
    void log.produce(lagTopic, msgs).then(
      () => {
        produceMs.push(clock.now() - sentAt);
        if (pm) appended.set(pm.key!, clock.now());
      },
      (err: unknown) => logger.error({ err }, 'produce failed'),
    );
  }
  producing = false;
  stopAt = clock.now();
  await poller;
  const achieved = (sent * 1_000) / (stopAt - lagStart);
  const lags = [...appended].filter(([e]) => seen.has(e)).map(([e, at]) => Math.max(0, seen.get(e)! - at)).sort((a, b) => a - b);
  produceMs.sort((a, b) => a - b);
  await lp.stop();
  await log.close();
  const lagP50 = percentile(lags, 0.5);
  const lagP99 = percentile(lags, 0.99);
  out(`steady ${Math.round(achieved)} commands/s (target ${RATE}, ${behind} late ticks): write→searchable over ${lags.length}/${appended.size} probes p50 ${Math.round(lagP50)} ms, p99 ${Math.round(lagP99)} ms, max ${Math.round(lags.at(-1) ?? NaN)} ms (produce acks p50 ${Math.round(percentile(produceMs, 0.5))} ms, p99 ${Math.round(percentile(produceMs, 0.99))} ms)`);

  const ratio = docsPerSec / bulkDocsPerSec;
  out(`ratio pipeline / raw _bulk: ${ratio.toFixed(2)} (goal ≥ 0.8); lag p99 ${Math.round(lagP99)} ms (goal ≤ 1500)`);
  out(
    JSON.stringify({
      bench: 'index',
      docs_per_s: round(docsPerSec, 0),
      bulk_docs_per_s: round(bulkDocsPerSec, 0),
      ratio: round(ratio, 3),
      lag_p50_ms: round(lagP50, 0),
      lag_p99_ms: round(lagP99, 0),
      lag_max_ms: round(lags.at(-1) ?? NaN, 0),
      probes: lags.length,
      produce_ack_p99_ms: round(percentile(produceMs, 0.99), 0),
      steady_rate: round(achieved, 0),
      docs: DOCS,
      bulk_size: BATCH,
      in_flight: config.indexer.poolSize,
      partitions: PARTITIONS,
      refresh_ms: refreshMs,
      rounds: ROUNDS,
      raw_runs_docs_per_s: raws.map((x) => round(x, 0)),
      pipeline_runs_docs_per_s: pipes.map((x) => round(x, 0)),
      cpus: cpus().length,
      load: loadavg().map((l) => round(l, 1)),
      node: process.version,
    }),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

export type { Config };
