// Isolation benchmark (issue 17): one daemon on the local profile (real PostgreSQL + Kafka), an open-loop
// ingest at a fixed rate, then every node of pg1 SIGSTOPped for the outage (a lost cluster: nothing to promote),
// then SIGCONT. Figures: pg0's applied rate during the outage ÷ before it (goal ≥ 0.9: a dead cluster costs only
// its own shards), pg1's catch-up time (SIGCONT → its hold topic drained and the hold released) ÷ the outage
// length, and the per-cluster applied rates through it. Last line of output: one JSON object.
//
//   npx tsx bench/isolation.ts [--outage-s 60] [--rate 1000] [--before-s 20]   (npm run bench -- isolation)
import { createWriteStream, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { loadConfig, type Config } from '../config/index.ts';
import { startDaemon, type Daemon } from '../daemon.ts';
import { commandStream } from '../drill/commands.ts';
import { failoverFeature } from '../features/failover/index.ts';
import { sleep, systemClock } from '../lib/clock.ts';
import { createLogger } from '../lib/logger.ts';
import * as services from '../services/index.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const OUTAGE_S = arg('outage-s', 60);
const RATE = arg('rate', 1_000);
const BEFORE_S = arg('before-s', 20);
const DETECT_S = 5;
const now = () => systemClock.now();
const log = (line: string) => console.log(line);

function configFor(topic: string): Readonly<Config> {
  return loadConfig({
    overrides: {
      profile: 'local',
      log: { level: 'warn' },
      http: { port: 0 },
      shards: { count: 16 },
      kafka: { topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-w`, partitions: 8 },
      postgres: { statementTimeoutMs: 2_000 },
    },
  });
}

/** Open loop: RATE commands per second in 20 ms ticks, whatever the daemon does. */
function openLoop(d: Daemon, topic: string, prefix: string) {
  let stopped = false;
  let round = 0;
  let sent = 0;
  const started = now();
  const loop = (async () => {
    while (!stopped) {
      const due = Math.floor(((now() - started) / 1000) * RATE) - sent;
      if (due > 0) {
        const n = Math.min(due, RATE);
        sent += n;
        await d.log.produce(topic, commandStream(n, 900_000 + round++, { prefix, entities: 5_000 })).catch(() => undefined);
      }
      await sleep(systemClock, 20);
    }
  })();
  return { sent: () => sent, stop: async () => ((stopped = true), await loop) };
}

const applied = (d: Daemon, c: string) => d.tree.applied.byCluster.get(c) ?? 0;

async function main(): Promise<void> {
  const base = configFor('isolation-bench');
  log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, Node ${process.version}`);
  await services.ensureServices(base, { only: ['pg', 'kafka'], log: () => undefined });
  const topic = `isolation-bench-${Date.now().toString(36)}`;
  const config = configFor(topic);
  await services.resetCluster(config, 0);
  await services.resetCluster(config, 1);
  mkdirSync('artifacts', { recursive: true });
  const d = await startDaemon(config, { logger: createLogger({ level: 'warn', destination: createWriteStream(`artifacts/${topic}.log`) }), features: [failoverFeature] });
  const load = openLoop(d, topic, `${topic}-`);
  const series: Array<{ t: number; pg0: number; pg1: number; held: boolean; depth: number | null }> = [];
  const t0 = now();
  const sampler = setInterval(() => {
    const h = d.tree.hold.status().pg1!;
    series.push({ t: (now() - t0) / 1000, pg0: applied(d, 'pg0'), pg1: applied(d, 'pg1'), held: h.held, depth: h.depth });
  }, 1_000);
  let result: Record<string, unknown> = {};
  try {
    await sleep(systemClock, 5_000); // warm-up
    const b = { at: now(), pg0: applied(d, 'pg0'), pg1: applied(d, 'pg1') };
    await sleep(systemClock, BEFORE_S * 1_000);
    const before = { pg0: (applied(d, 'pg0') - b.pg0) / BEFORE_S, pg1: (applied(d, 'pg1') - b.pg1) / BEFORE_S };
    log(`before: pg0 ${before.pg0.toFixed(0)}/s, pg1 ${before.pg1.toFixed(0)}/s (offered ${RATE}/s)`);

    for (const n of [0, 1, 2]) services.stopNode(config, { cluster: 1, node: n });
    const outageAt = now();
    let during = { pg0: 0, pg1: 0 };
    try {
      await sleep(systemClock, DETECT_S * 1_000);
      const s = { at: now(), pg0: applied(d, 'pg0'), pg1: applied(d, 'pg1') };
      await sleep(systemClock, Math.max(1, OUTAGE_S - DETECT_S) * 1_000);
      const secs = (now() - s.at) / 1000;
      during = { pg0: (applied(d, 'pg0') - s.pg0) / secs, pg1: (applied(d, 'pg1') - s.pg1) / secs };
    } finally {
      services.contNode(config, { cluster: 1, node: 0 });
      await sleep(systemClock, 2_000);
      services.contNode(config, { cluster: 1, node: 1 });
      services.contNode(config, { cluster: 1, node: 2 });
    }
    const outageS = (now() - outageAt) / 1000;
    const heldDepth = d.tree.hold.status().pg1!.depth;
    log(`during (${DETECT_S}–${OUTAGE_S} s of the outage): pg0 ${during.pg0.toFixed(0)}/s, pg1 ${during.pg1.toFixed(0)}/s; pg1 held ${heldDepth} commands`);
    const contAt = now();
    let lastPrint = now();
    while (true) {
      const h = d.tree.hold.status().pg1!;
      if (!h.held && h.depth === 0) break;
      if (now() - lastPrint >= 5_000) {
        lastPrint = now();
        const h0 = d.tree.hold.status().pg0!;
        log(`  +${((now() - contAt) / 1000).toFixed(0)} s: pg1 held ${h.held} (${h.reason}), depth ${h.depth}, draining ${h.draining}, writable ${JSON.stringify(h.writable)}; pg0 held ${h0.held}, depth ${h0.depth}`);
      }
      if (now() - contAt > 10 * OUTAGE_S * 1_000) throw new Error('pg1 did not catch up within 10 × the outage');
      await sleep(systemClock, 200);
    }
    const catchUpS = (now() - contAt) / 1000;
    log(`catch-up: ${catchUpS.toFixed(1)} s after SIGCONT (outage ${outageS.toFixed(1)} s)`);
    result = {
      bench: 'isolation',
      offeredPerSec: RATE,
      outageS: Number(outageS.toFixed(1)),
      beforePerSec: { pg0: Math.round(before.pg0), pg1: Math.round(before.pg1) },
      duringPerSec: { pg0: Math.round(during.pg0), pg1: Math.round(during.pg1) },
      healthyRatio: Number((during.pg0 / before.pg0).toFixed(3)),
      heldAtSigcont: heldDepth,
      catchUpS: Number(catchUpS.toFixed(1)),
      catchUpRatio: Number((catchUpS / outageS).toFixed(3)),
      drainRatePerSec: config.hold.drainRatePerSec,
    };
  } finally {
    clearInterval(sampler);
    await load.stop();
    await d.stop();
    for (const n of [0, 1, 2]) services.contNode(config, { cluster: 1, node: n });
  }
  const perSecond = series.slice(1).map((s, i) => ({ t: Math.round(s.t), pg0: s.pg0 - series[i]!.pg0, pg1: s.pg1 - series[i]!.pg1, held: s.held, depth: s.depth }));
  log(`per-second applied (t, pg0, pg1, pg1 held depth): ${perSecond.map((p) => `${p.t}:${p.pg0}/${p.pg1}${p.held ? `/H${p.depth ?? '?'}` : ''}`).join(' ')}`);
  log(`healthy cluster during ÷ before: ${result.healthyRatio} (goal ≥ 0.9); held cluster catch-up ÷ outage: ${result.catchUpRatio}`);
  log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
