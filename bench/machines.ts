// Breaker hot-path benchmark: per-call cost of breaker.call(fn) in the closed state against a bare call of the
// same async function, the rejection cost in the open state, and, for contrast, what one xstate event per call
// would cost (the design the breaker avoids). Prints figures, then one JSON line (last line of output).
//
//   npx tsx bench/machines.ts [breaker] [--calls N] [--rounds R]     (defaults: 200000 calls, best of 9 rounds)
//
// Needs no services. opossum (the comparison, a devDependency) runs in the same rounds, configured at
// its fastest (timeout: false — no timer per call; our breaker measures slow calls from durations instead).
import CircuitBreaker from 'opossum';
import { assign, createActor, setup } from 'xstate';
import type { BreakerConfig } from '../config/schema.ts';
import { systemClock } from '../lib/clock.ts';
import { createBreaker } from '../machines/breaker/breaker.ts';

export interface BreakerBenchResult {
  bench: 'breaker';
  calls: number;
  rounds: number;
  bare_ns_per_call: number;
  ns_per_call: number;
  overhead_ns: number;
  ratio_vs_bare: number;
  calls_per_sec: number;
  bare_calls_per_sec: number;
  open_reject_ns: number;
  /** Baseline for open_reject_ns: rejecting a pre-built error and catching it. */
  bare_reject_ns: number;
  xstate_event_per_call_ns: number;
  /** One systemClock.now(): a closed-state call makes two, which bounds the overhead from below. */
  clock_read_ns: number;
  opossum_ns_per_call: number;
  opossum_open_reject_ns: number;
  /** ours ÷ opossum per call in the closed state: ≤ 1 means no slower than opossum. */
  ratio: number;
  note: string;
  node: string;
}

const cfg: BreakerConfig = { windowType: 'count', windowSize: 100, minimumCalls: 20, failureRateThreshold: 0.5, slowCallRateThreshold: 0.8, slowCallMs: 500, openMs: 3_600_000, openMaxMs: 3_600_000, openMultiplier: 2, halfOpenProbes: 3 };

async function timeLoop(calls: number, fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / calls;
}

// Best of the rounds: on a shared machine noise only ever adds time, so the minimum is the stable figure.
const best = (xs: number[]) => Math.min(...xs);

export async function runBreakerBench(opts: { calls?: number; rounds?: number } = {}): Promise<BreakerBenchResult> {
  const calls = opts.calls ?? 200_000;
  const rounds = opts.rounds ?? 9;

  const work = async () => 1;
  const closed = createBreaker(cfg, { clock: systemClock, name: 'bench-closed' });
  const open = createBreaker(cfg, { clock: systemClock, name: 'bench-open' });
  for (let i = 0; i < cfg.minimumCalls; i++) await open.call(() => Promise.reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' }))).catch(() => undefined);
  if (open.state() !== 'open') throw new Error(`bench setup: breaker should be open, is ${open.state()}`);
  const noop = () => undefined;
  const prebuilt = new Error('prebuilt');
  const opossum = new CircuitBreaker(work, { timeout: false, errorThresholdPercentage: 50, resetTimeout: 3_600_000, volumeThreshold: cfg.minimumCalls });
  const opossumOpen = new CircuitBreaker(work, { timeout: false, resetTimeout: 3_600_000 });
  opossumOpen.open();

  // The alternative the design rejects: every call reported to the machine as an event.
  const counting = setup({ types: { context: {} as { ok: number }, events: {} as { type: 'CALL.OK' } } }).createMachine({
    context: { ok: 0 },
    initial: 'closed',
    states: { closed: { on: { 'CALL.OK': { actions: assign({ ok: ({ context }) => context.ok + 1 }) } } } },
  });
  const actor = createActor(counting, { clock: systemClock }).start();
  const viaEvent = async () => {
    const v = await work();
    actor.send({ type: 'CALL.OK' });
    return v;
  };

  const variants = {
    bare: () => work(),
    closed: () => closed.call(work),
    open: () => open.call(work).catch(noop),
    reject: () => Promise.reject(prebuilt).catch(noop),
    event: viaEvent,
    opossum: () => opossum.fire(),
    opossumOpen: () => opossumOpen.fire().catch(noop),
  };
  const samples: Record<keyof typeof variants, number[]> = { bare: [], closed: [], open: [], reject: [], event: [], opossum: [], opossumOpen: [] };
  // Warm up every path, then interleave rounds so drift (GC, CPU frequency) hits all variants alike.
  for (const fn of Object.values(variants)) await timeLoop(Math.min(calls, 100_000), fn);
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(variants) as Array<[keyof typeof variants, () => Promise<unknown>]>) {
      samples[name].push(await timeLoop(name === 'event' ? Math.ceil(calls / 5) : calls, fn));
    }
  }
  const clockReads: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let sink = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) sink += systemClock.now();
    clockReads.push(Number(process.hrtime.bigint() - t0) / calls + (sink === 0 ? 1 : 0));
  }
  closed.stop();
  open.stop();
  actor.stop();
  opossum.shutdown();
  opossumOpen.shutdown();
  if (closed.state() !== 'closed' || closed.stats().machineEvents !== 0) throw new Error('bench: the closed breaker should never have talked to its machine');

  const bare = best(samples.bare);
  const through = best(samples.closed);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    bench: 'breaker',
    calls,
    rounds,
    bare_ns_per_call: round(bare),
    ns_per_call: round(through),
    overhead_ns: round(through - bare),
    ratio_vs_bare: Math.round((through / bare) * 100) / 100,
    calls_per_sec: Math.round(1e9 / through),
    bare_calls_per_sec: Math.round(1e9 / bare),
    open_reject_ns: round(best(samples.open)),
    bare_reject_ns: round(best(samples.reject)),
    xstate_event_per_call_ns: round(best(samples.event)),
    clock_read_ns: round(best(clockReads)),
    opossum_ns_per_call: round(best(samples.opossum)),
    opossum_open_reject_ns: round(best(samples.opossumOpen)),
    ratio: Math.round((through / best(samples.opossum)) * 100) / 100,
    note: 'opossum configured with timeout: false (its fastest); ratio = ours ÷ opossum, closed state',
    node: process.version,
  };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : fallback;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runBreakerBench({ calls: arg('--calls', 200_000), rounds: arg('--rounds', 9) });
  console.log(`breaker closed   ${r.ns_per_call} ns/call  (${r.calls_per_sec.toLocaleString('en')} calls/s)`);
  console.log(`bare async call  ${r.bare_ns_per_call} ns/call  (${r.bare_calls_per_sec.toLocaleString('en')} calls/s)`);
  console.log(`overhead         ${r.overhead_ns} ns/call  ratio ${r.ratio_vs_bare}×  (of which 2 clock reads: ${Math.round(2 * r.clock_read_ns)} ns)`);
  console.log(`breaker open     ${r.open_reject_ns} ns/rejection (BreakerOpenError, caught); a bare Promise.reject+catch: ${r.bare_reject_ns} ns`);
  console.log(`xstate event/call ${r.xstate_event_per_call_ns} ns/call (the design the breaker avoids)`);
  console.log(`opossum closed   ${r.opossum_ns_per_call} ns/call; open ${r.opossum_open_reject_ns} ns/rejection  → ours ÷ opossum = ${r.ratio} (${r.note})`);
  console.log(JSON.stringify(r));
}
