// Idle cost benchmark (issue 16): what one daemon costs the machine when nothing happens — no commands, no reads
// — on the local profile with every feature attached (its Kafka consumers and producers, failover probes, hold
// board, cache checks, dashboard sampler). A daemon's idle work runs on the same thread as every answer: a busy
// idle loop shows up in every read's tail. Beside it, in the same window, the floor: a bare Node process with a
// 1 s interval. Figures: CPU per second of wall time (ms/s; 1,000 = one core), event-loop delay (the daemon's
// own metric, tagstream_event_loop_delay_seconds), resident memory. `--root DIR` runs another checkout's
// main.ts (an A/B of two trees on the same services). Last line of output: one JSON object.
//
//   npx tsx bench/idle.ts [--seconds 30] [--warmup 15] [--root DIR]      (npm run bench -- idle)
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/index.ts';
import { daemonProcess } from '../drill/daemon-process.ts';
import { benchDaemonEnv } from './daemon-env.ts';
import { sleep, systemClock } from '../lib/clock.ts';
import { freePort } from '../lib/free-port.ts';
import * as services from '../services/index.ts';

const here = path.resolve(import.meta.dirname, '..');
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const SECONDS = Number(arg('seconds', '30'));
const WARMUP = Number(arg('warmup', '15'));
const ROOT = path.resolve(arg('root', here));
const log = (line: string) => console.log(line);

/** CPU time (user + system) of a process so far, ms, from /proc (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14 and 15 of stat)
}

function metricValue(text: string, series: string): number | null {
  for (const line of text.split('\n')) if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  return null;
}

async function main(): Promise<void> {
  log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, Node ${process.version}; daemon tree ${ROOT}`);
  const id = `idle-${Date.now().toString(36)}`;
  const port = await freePort();
  const env = benchDaemonEnv(id, port);
  const config = loadConfig({ env: { ...process.env, ...env } });
  await services.ensureServices(config, { log: () => undefined });
  mkdirSync(path.join(here, 'artifacts'), { recursive: true });
  const d = daemonProcess({ root: ROOT, env, port, logFile: path.join(here, 'artifacts', `${id}.log`) });
  await d.start();
  const floor = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(systemClock, WARMUP * 1_000);
    const pid = d.pid()!;
    const [d0, f0, t0] = [cpuMs(pid), cpuMs(floor.pid!), systemClock.now()];
    await sleep(systemClock, SECONDS * 1_000);
    const [d1, f1, t1] = [cpuMs(pid), cpuMs(floor.pid!), systemClock.now()];
    const text = await fetch(`${d.url}/metrics`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text());
    const wall = (t1 - t0) / 1000;
    const daemonMsPerS = (d1 - d0) / wall;
    const floorMsPerS = (f1 - f0) / wall;
    const eldP99 = metricValue(text, 'tagstream_event_loop_delay_seconds{quantile="0.99"}');
    const eldMax = metricValue(text, 'tagstream_event_loop_delay_seconds{quantile="max"}');
    const rss = metricValue(text, 'tagstream_process_resident_memory_bytes');
    log(`idle daemon: ${daemonMsPerS.toFixed(1)} ms of CPU per second (${(daemonMsPerS / 10).toFixed(1)} % of a core); bare Node process ${floorMsPerS.toFixed(1)} ms/s`);
    log(`event-loop delay (last 10 s window): p99 ${eldP99 === null ? '?' : (eldP99 * 1000).toFixed(1)} ms, max ${eldMax === null ? '?' : (eldMax * 1000).toFixed(1)} ms; RSS ${rss === null ? '?' : (rss / 2 ** 20).toFixed(0)} MiB`);
    console.log(JSON.stringify({ bench: 'idle', seconds: Math.round(wall), root: ROOT, daemon_cpu_ms_per_s: Number(daemonMsPerS.toFixed(1)), floor_cpu_ms_per_s: Number(floorMsPerS.toFixed(1)), eld_p99_ms: eldP99 === null ? null : Number((eldP99 * 1000).toFixed(2)), eld_max_ms: eldMax === null ? null : Number((eldMax * 1000).toFixed(2)), rss_mib: rss === null ? null : Math.round(rss / 2 ** 20), loadavg_1m: Number(loadavg()[0]!.toFixed(1)) }));
  } finally {
    floor.kill('SIGKILL');
    await d.kill('SIGTERM');
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
