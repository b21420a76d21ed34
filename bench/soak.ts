// Soak benchmark (issue 16): one daemon (a child process, local profile, real services) under mixed HTTP load —
// writes, read-your-writes sessions, entity reads, popular tags, search (drill/load.ts) — for `--minutes`, with
// a fault injected through the daemon's own operator API every `--fault-every-s` and healed half-way to the next
// one. Every 10 s it scrapes /metrics: resident memory, heap used, and the event-loop delay of the daemon's last
// 10 s window (tagstream_event_loop_delay_seconds). Figures, from the first 5 minutes on (warm-up excluded):
//   - RSS growth: the last minute's mean RSS ÷ the mean of minute 5 − 1 (goal ≤ 10 %);
//   - event-loop delay: the median of the 10 s windows' p99 over the last 10 minutes ÷ the same over the first 10
//     (goal ≤ 1.5; the median so that one fault's spike does not decide it — the max is printed beside it);
//   - the load's availability per endpoint and read-your-writes violations (must be 0).
// Last line of output: one JSON object.
//
//   npx tsx bench/soak.ts [--minutes 60] [--fault-every-s 240] [--rate 200]     (npm run bench -- soak)
import { mkdirSync } from 'node:fs';
import { freePort } from '../lib/free-port.ts';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/index.ts';
import { daemonProcess } from '../drill/daemon-process.ts';
import { benchDaemonEnv } from './daemon-env.ts';
import { availability, startLoad } from '../drill/load.ts';
import { sleep, systemClock } from '../lib/clock.ts';
import * as services from '../services/index.ts';

const root = path.resolve(import.meta.dirname, '..');
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const MINUTES = arg('minutes', 60);
const FAULT_EVERY_S = arg('fault-every-s', 240);
const RATE = arg('rate', 200);
const SAMPLE_MS = 10_000;
const WARMUP_MIN = Math.min(5, MINUTES / 4);
const ADMIN_TOKEN = 'soak-bench-admin-token';
/**
 * Recoverable faults first; a killed primary is healed as an operator would: the node restarted, then re-seeded
 * as a replica of the new primary (else the list's second round would leave the cluster without a replica).
 */
const FAULTS = ['stop-redis:redis0', 'freeze-redis:redis1', 'search-down', 'kill-primary:pg0', 'freeze-redis:redis0', 'stop-redis:redis1', 'kill-primary:pg1'];
const log = (line: string) => console.log(line);
const now = () => systemClock.now();

interface Sample {
  t: number;
  rss: number;
  heap: number;
  /** V8's committed heap (all spaces), and its new space: what RSS follows when the live heap does not grow. */
  heapTotal: number;
  newSpace: number;
  eldP99: number;
  eldMax: number;
}

/** One unlabelled or labelled series' value from Prometheus text. */
function metricValue(text: string, series: string): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return null;
}

const median = (xs: number[]) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const mb = (b: number) => (b / 2 ** 20).toFixed(1);

async function operator(url: string, fault: string, action: 'inject' | 'heal'): Promise<string> {
  const r = await fetch(`${url}/admin/faults/${encodeURIComponent(fault)}/${action}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(30_000) });
  return `${r.status}`;
}

/** After a killed primary came back: every fenced node of the cluster re-seeded as a replica (`POST /admin/reseed`). */
async function reseedFenced(url: string, cluster: string): Promise<string> {
  const status = (await fetch(`${url}/status`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.json())) as { failover?: Record<string, { topology?: { fenced?: string[] } }> };
  const fenced = status.failover?.[cluster]?.topology?.fenced ?? [];
  const answers: string[] = [];
  for (const node of fenced) {
    const r = await fetch(`${url}/admin/reseed/${cluster}/${node}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(180_000) });
    answers.push(`${node} ${r.status}`);
  }
  return answers.length ? `re-seeded ${answers.join(', ')}` : 'nothing fenced';
}

async function main(): Promise<void> {
  log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, Node ${process.version}; ${MINUTES} min, a fault every ${FAULT_EVERY_S} s, ${RATE} ops/s`);
  const id = `soak-${Date.now().toString(36)}`;
  const port = await freePort();
  const env = benchDaemonEnv(id, port, { TAGSTREAM_HTTP__ADMIN_TOKEN: ADMIN_TOKEN });
  const config = loadConfig({ env: { ...process.env, ...env } });
  await services.ensureServices(config, { log: () => undefined });
  await services.resetCluster(config, 0);
  await services.resetCluster(config, 1);
  mkdirSync(path.join(root, 'artifacts'), { recursive: true });
  const logFile = path.join(root, 'artifacts', `${id}.log`);
  const d = daemonProcess({ root, env, port, logFile });
  await d.start();
  const load = startLoad({ url: () => d.url, daemonUp: () => d.available(), prefix: `${id}-`, seed: 16, ratePerSec: RATE, tags: ['bug', 'ui', 'p1', 'p2', 'docs'] });
  const samples: Sample[] = [];
  const faults: string[] = [];
  const t0 = now();
  let nextFault = t0 + FAULT_EVERY_S * 1_000;
  let healAt: number | null = null;
  let current: string | null = null;
  let fi = 0;
  let lastMinute = 0;
  try {
    while (now() - t0 < MINUTES * 60_000) {
      await sleep(systemClock, SAMPLE_MS);
      const text = await fetch(`${d.url}/metrics`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text()).catch(() => '');
      const rss = metricValue(text, 'tagstream_process_resident_memory_bytes');
      const heap = metricValue(text, 'tagstream_nodejs_heap_size_used_bytes');
      const heapTotal = metricValue(text, 'tagstream_nodejs_heap_size_total_bytes') ?? 0;
      const newSpace = metricValue(text, 'tagstream_nodejs_heap_space_size_total_bytes{space="new"}') ?? 0;
      const p99 = metricValue(text, 'tagstream_event_loop_delay_seconds{quantile="0.99"}');
      const max = metricValue(text, 'tagstream_event_loop_delay_seconds{quantile="max"}');
      if (rss !== null && heap !== null && p99 !== null && max !== null) samples.push({ t: (now() - t0) / 1000, rss, heap, heapTotal, newSpace, eldP99: p99, eldMax: max });
      if (healAt !== null && now() >= healAt && current) {
        faults.push(`${((now() - t0) / 1000).toFixed(0)}s heal ${current}: ${await operator(d.url, current, 'heal').catch((e: Error) => e.message)}`);
        if (current.startsWith('kill-primary:')) faults.push(`${((now() - t0) / 1000).toFixed(0)}s ${await reseedFenced(d.url, current.slice('kill-primary:'.length)).catch((e: Error) => `re-seed failed: ${e.message}`)}`);
        current = null;
        healAt = null;
      }
      if (now() >= nextFault && current === null) {
        current = FAULTS[fi++ % FAULTS.length]!;
        const answer = await operator(d.url, current, 'inject').catch((e: Error) => e.message);
        faults.push(`${((now() - t0) / 1000).toFixed(0)}s inject ${current}: ${answer}`);
        if (answer !== '200') throw new Error(`fault ${current} was not injected (${answer}): the soak would measure less than it says`);
        healAt = now() + (FAULT_EVERY_S * 1_000) / 2;
        nextFault += FAULT_EVERY_S * 1_000;
      }
      const minute = Math.floor((now() - t0) / 60_000);
      if (minute > lastMinute) {
        lastMinute = minute;
        const s = samples.at(-1);
        if (s) log(`  ${minute} min: RSS ${mb(s.rss)} MiB (V8 committed ${mb(s.heapTotal)}, new space ${mb(s.newSpace)}), heap used ${mb(s.heap)} MiB, event-loop delay p99 ${(s.eldP99 * 1000).toFixed(1)} ms (max ${(s.eldMax * 1000).toFixed(1)} ms)${current ? `; fault ${current}` : ''}`);
      }
    }
  } finally {
    if (current) await operator(d.url, current, 'heal').catch(() => undefined);
  }
  const report = await load.stop();
  await d.kill('SIGTERM');

  const after = samples.filter((s) => s.t >= WARMUP_MIN * 60);
  const firstMinute = after.filter((s) => s.t < (WARMUP_MIN + 1) * 60);
  const lastMinuteS = after.filter((s) => s.t >= (MINUTES - 1) * 60);
  const rssGrowth = mean(lastMinuteS.map((s) => s.rss)) / mean(firstMinute.map((s) => s.rss)) - 1;
  const span = Math.min(10, MINUTES / 3) * 60;
  const first10 = samples.filter((s) => s.t < span);
  const last10 = samples.filter((s) => s.t >= MINUTES * 60 - span);
  const eldFirst = median(first10.map((s) => s.eldP99));
  const eldLast = median(last10.map((s) => s.eldP99));
  const avail = Object.fromEntries(Object.entries(report.endpoints).map(([k, v]) => [k, Number(availability(v).toFixed(4))]));
  for (const f of faults) log(`  fault: ${f}`);
  log(`RSS after warm-up ${mb(mean(firstMinute.map((s) => s.rss)))} MiB → last minute ${mb(mean(lastMinuteS.map((s) => s.rss)))} MiB: ${(rssGrowth * 100).toFixed(1)} % (goal ≤ 10 %)`);
  log(`  beside it, V8's committed heap ${mb(mean(firstMinute.map((s) => s.heapTotal)))} → ${mb(mean(lastMinuteS.map((s) => s.heapTotal)))} MiB and heap used ${mb(mean(firstMinute.map((s) => s.heap)))} → ${mb(mean(lastMinuteS.map((s) => s.heap)))} MiB (used includes garbage not yet collected; a leak shows as a live heap that grows — heap snapshots)`);
  log(`event-loop delay p99 (median of 10 s windows): first ${(span / 60).toFixed(0)} min ${(eldFirst * 1000).toFixed(2)} ms, last ${(span / 60).toFixed(0)} min ${(eldLast * 1000).toFixed(2)} ms: ${(eldLast / eldFirst).toFixed(2)}× (goal ≤ 1.5×); worst window max ${(Math.max(...samples.map((s) => s.eldMax)) * 1000).toFixed(1)} ms`);
  log(`availability ${JSON.stringify(avail)}; read-your-writes ${report.rywChecks} checks, ${report.rywViolations} violations`);
  log(
    JSON.stringify({
      bench: 'soak',
      minutes: MINUTES,
      faultEveryS: FAULT_EVERY_S,
      ratePerSec: RATE,
      loadAverage: loadavg().map((l) => Number(l.toFixed(1))),
      rssGrowth: Number(rssGrowth.toFixed(3)),
      heapFirstMiB: Number(mb(mean(firstMinute.map((s) => s.heap)))),
      heapLastMiB: Number(mb(mean(lastMinuteS.map((s) => s.heap)))),
      heapTotalFirstMiB: Number(mb(mean(firstMinute.map((s) => s.heapTotal)))),
      heapTotalLastMiB: Number(mb(mean(lastMinuteS.map((s) => s.heapTotal)))),
      eventLoopDelayP99Ms: { first: Number((eldFirst * 1000).toFixed(2)), last: Number((eldLast * 1000).toFixed(2)) },
      eventLoopDelayRatio: Number((eldLast / eldFirst).toFixed(2)),
      availability: avail,
      rywViolations: report.rywViolations,
      faults: faults.length,
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
