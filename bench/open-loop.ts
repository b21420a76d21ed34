// An open-loop HTTP load generator for 127.0.0.1: requests are started on a fixed schedule (rate per second),
// whatever the answers do, and each latency is measured from the request's *scheduled* start, so a stall shows
// up in the percentiles instead of silently lowering the rate (no coordinated omission). Bounded in count,
// time and concurrency. Requests go through a lean keep-alive client (raw-http.ts) so that the generator takes
// as little as possible of the CPU it shares with what it measures.
import http from 'node:http';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { systemClock } from '../lib/clock.ts';
import { RawHttpPool } from './raw-http.ts';

export interface Target {
  /** Label for per-endpoint figures. */
  name: string;
  path: string;
  headers?: Record<string, string>;
  /** The request's bytes, built by the pool the first time the target is sent (targets are reused). */
  head?: string;
}

export interface OpenLoopOptions {
  port: number;
  rate: number;
  durationMs: number;
  /** Chooses what the i-th request asks. */
  next: (i: number) => Target;
  /** Requests still unanswered after this long are counted as errors. */
  timeoutMs?: number;
  /** In-flight ceiling: beyond it a due request is counted as an error (the client is saturated), not queued. */
  maxInFlight?: number;
  /** Counts an answer as an error unless this says ok (default: 2xx). */
  ok?: (status: number, target: Target) => boolean;
  /**
   * Connections to use and keep (the caller destroys it): a warm-up's pool handed to the measured phase, so that
   * the phase does not begin by opening its connections. Default: a pool of the run's own, closed at its end.
   */
  pool?: RawHttpPool;
}

export interface LoadResult {
  sent: number;
  errors: number;
  errorSamples: string[];
  /** Latencies in ms, sorted, per endpoint and all together (typed arrays: off the generator's heap). */
  latencies: Map<string, Float64Array>;
  all: Float64Array;
  achievedRate: number;
  statuses: Map<number, number>;
  /**
   * Each request's latency (ms; -1: no answer or an error) and endpoint (an index into `names`); request i was
   * scheduled i × intervalMs after the start: when the slow ones came.
   */
  timeline: { intervalMs: number; ms: Float64Array; endpoint: Uint8Array; names: string[] };
  /** TCP connections the generator opened during the run (each an accept and a new parser on the server). */
  connectionsOpened: number;
  /**
   * The generator's own stalls: gaps over 5 ms between its 1-ms send ticks (ms after the start, length in ms). A
   * request due in a gap is sent late and its latency counts from its schedule, so a stall of the generator (its
   * GC, no core for it) shows in the figures as if the server had stalled: these tell the two apart.
   */
  generatorGaps: Array<{ at: number; ms: number }>;
  /** Wall-clock time of the start (ms since the epoch), to line the figures up with other recordings. */
  startedAt: number;
  /** The generator's own garbage collections during the run (ms after the start, pause in ms). */
  generatorGc: Array<{ at: number; ms: number; kind: 'minor' | 'major' | 'other' }>;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

let fullGc: (() => void) | undefined;

/**
 * A full collection of the generator's heap: each run starts with what the phases before it left (a closed loop
 * through node:http, the seeding) collected, instead of a mark-compact of it landing inside the measured run.
 */
function collectGeneratorHeap(): void {
  if (!fullGc) {
    // No memory reducer either: its "the heap shrank, collect again later" mark-compact landed ~7 s into a phase.
    v8.setFlagsFromString('--no-memory-reducer');
    v8.setFlagsFromString('--expose-gc');
    fullGc = vm.runInNewContext('gc') as () => void;
  }
  fullGc();
}

export async function openLoop(opts: OpenLoopOptions): Promise<LoadResult> {
  collectGeneratorHeap();
  const pool = opts.pool ?? new RawHttpPool(opts.port, opts.maxInFlight ?? 256);
  const opened0 = pool.opened;
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const maxInFlight = opts.maxInFlight ?? 256;
  const ok = opts.ok ?? ((s: number) => s >= 200 && s < 300);
  const res: LoadResult = { sent: 0, errors: 0, errorSamples: [], latencies: new Map(), all: new Float64Array(0), achievedRate: 0, statuses: new Map(), timeline: { intervalMs: 0, ms: new Float64Array(0), endpoint: new Uint8Array(0), names: [] }, connectionsOpened: 0, startedAt: Date.now(), generatorGaps: [], generatorGc: [] };
  const fail = (why: string) => {
    res.errors++;
    if (res.errorSamples.length < 10) res.errorSamples.push(why);
  };
  let inFlight = 0;
  const start = performance.now();
  const total = Math.round((opts.rate * opts.durationMs) / 1000);
  const interval = 1000 / opts.rate;
  // The generator is the measuring instrument: a pause of its own counts against whatever it measures. So while
  // the load runs it keeps its results in arrays allocated up front (an answer's latency and its endpoint) and no
  // per-request object outlives its request; the figures' objects are built after the run. (Keeping a promise and
  // a timeline object per request made its young-generation collections copy them all, 5–9 ms pauses in the
  // daemon's phases against 2–3 ms in the bare server's, each one showing up as a stall of the server.)
  const latency = new Float64Array(total).fill(-1);
  const endpoint = new Uint8Array(total);
  const names: string[] = [];
  const nameIndex = new Map<string, number>();
  let outstanding = 0;
  let allSent: (() => void) | null = null;

  const one = (i: number, scheduled: number): void => {
    const target = opts.next(i);
    let n = nameIndex.get(target.name);
    if (n === undefined) nameIndex.set(target.name, (n = names.push(target.name) - 1));
    endpoint[i] = n;
    inFlight++;
    outstanding++;
    pool.request(target, timeoutMs, (err, status) => {
      inFlight--;
      if (err) fail(`${err.message} ${target.path}`);
      else {
        res.statuses.set(status, (res.statuses.get(status) ?? 0) + 1);
        if (!ok(status, target)) fail(`${status} ${target.path}`);
        else latency[i] = performance.now() - scheduled;
      }
      if (--outstanding === 0 && allSent) allSent();
    });
  };

  const gcs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      res.generatorGc.push({ at: e.startTime - start, ms: e.duration, kind: kind === constants.NODE_PERFORMANCE_GC_MINOR ? 'minor' : kind === constants.NODE_PERFORMANCE_GC_MAJOR ? 'major' : 'other' });
    }
  });
  gcs.observe({ entryTypes: ['gc'] });
  await new Promise<void>((resolve) => {
    let lastTick = start;
    const tick = () => {
      const now = performance.now();
      if (now - lastTick > 5) res.generatorGaps.push({ at: lastTick - start, ms: now - lastTick });
      lastTick = now;
      const elapsed = now - start;
      const due = Math.min(total, Math.floor(elapsed / interval) + 1);
      while (res.sent < due) {
        const i = res.sent++;
        const scheduled = start + i * interval;
        if (inFlight >= maxInFlight) {
          fail('client saturated (in-flight ceiling)');
          continue;
        }
        one(i, scheduled);
      }
      if (res.sent >= total) {
        res.achievedRate = (res.sent / (performance.now() - start)) * 1000;
        resolve();
      }
      else systemClock.setTimeout(tick, 1);
    };
    tick();
  });
  if (outstanding > 0) await new Promise<void>((resolve) => (allSent = resolve));
  gcs.disconnect();
  res.connectionsOpened = pool.opened - opened0;
  if (!opts.pool) pool.destroy();
  const all: number[] = [];
  const byEndpoint = names.map((): number[] => []);
  for (let i = 0; i < total; i++) {
    const ms = latency[i]!;
    if (ms < 0) continue;
    all.push(ms);
    byEndpoint[endpoint[i]!]!.push(ms);
  }
  res.all = Float64Array.from(all).sort();
  names.forEach((name, e) => {
    if (byEndpoint[e]!.length > 0) res.latencies.set(name, Float64Array.from(byEndpoint[e]!).sort());
  });
  res.timeline = { intervalMs: interval, ms: latency, endpoint, names };
  return res;
}

/**
 * Closed loop: `concurrency` clients each send the next request as soon as the previous one is answered, for
 * `durationMs`. The answers per second it reaches are the daemon's capacity on this machine (latency is not
 * the point here: a closed loop hides queueing).
 */
export async function closedLoop(opts: { port: number; concurrency: number; durationMs: number; next: (i: number) => Target }): Promise<{ perSecond: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  let i = 0;
  let answered = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + opts.durationMs;
  const client = async () => {
    while (performance.now() < end) {
      const target = opts.next(i++);
      const ok = await new Promise<boolean>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: opts.port, path: target.path, agent, headers: target.headers, timeout: 5_000 }, (r) => {
          r.on('data', () => undefined);
          r.on('end', () => resolve((r.statusCode ?? 0) >= 200 && (r.statusCode ?? 0) < 300));
          r.on('error', () => resolve(false));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => resolve(false));
      });
      if (ok) answered++;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, client));
  agent.destroy();
  return { perSecond: (answered / (performance.now() - start)) * 1000, errors };
}
