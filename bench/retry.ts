// Retry hot-path benchmark: the cost of runWithRetry (the retry machine's wrapper, with its fast path) against
// a bare call of the same async function — on the success path (no machine is created), with and without an
// abort signal (the shard writer passes one) — and, on a path that fails once and then succeeds, against the
// hand-written loop it replaced (call, catch, classify, back off, call again). Backoffs run on a clock whose
// timers are setImmediate, so the figures are the wrapper's work and not a timer's resolution. Prints figures,
// then one JSON line (last line of output).
//
//   npx tsx bench/retry.ts [--calls N] [--rounds R]     (defaults: 200000 calls, best of 9 rounds;
//                                                        the failing path runs calls ÷ 20)
//
// Needs no services.
import { backoffDelay } from '../lib/backoff.ts';
import { classify } from '../lib/classify.ts';
import { sleep, type Clock } from '../lib/clock.ts';
import { BackendError } from '../lib/errors.ts';
import { runWithRetry } from '../machines/retry/run-with-retry.ts';

export interface RetryBenchResult {
  bench: 'retry';
  calls: number;
  failing_calls: number;
  rounds: number;
  bare_ns_per_call: number;
  fast_path_ns_per_call: number;
  fast_path_overhead_ns: number;
  fast_path_ratio: number;
  fast_path_signal_ns_per_call: number;
  fast_path_signal_ratio: number;
  /** One failure then success: the hand-written loop (bare) and the retry machine. */
  retry_bare_ns_per_call: number;
  retry_machine_ns_per_call: number;
  retry_machine_overhead_ns: number;
  retry_ratio: number;
  node: string;
}

/** Real time for `now` (as systemClock); every timer fires on the next turn of the event loop. */
const immediateClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn) => setImmediate(fn),
  clearTimeout: (h) => clearImmediate(h as ReturnType<typeof setImmediate>),
};

const policy = { retries: 3, initialMs: 0, multiplier: 2, maxMs: 0, jitter: 0 };
const transient = new BackendError({ class: 'retry', source: 'node:ECONNRESET' }, Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));

async function timeLoop(calls: number, fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / calls;
}

const best = (xs: number[]) => Math.min(...xs);

export async function runRetryBench(opts: { calls?: number; rounds?: number } = {}): Promise<RetryBenchResult> {
  const calls = opts.calls ?? 200_000;
  const failingCalls = Math.max(1, Math.floor(calls / 20));
  const rounds = opts.rounds ?? 9;
  const work = async () => 1;
  const signal = new AbortController().signal;

  // A function that fails every other call: each run sees one failure, then a success.
  let n = 0;
  const flaky = async () => {
    if (n++ % 2 === 0) throw transient;
    return 1;
  };
  /** The loop the machine replaced (as in the old shard writer's apply): classify, back off, try again. */
  const handLoop = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await flaky();
      } catch (err) {
        const cls = classify(err).class;
        if (cls !== 'retry' && cls !== 'reroute') throw err;
        await sleep(immediateClock, backoffDelay(attempt, policy), signal);
      }
    }
  };

  const fast = { bare: () => work(), fast: () => runWithRetry(work, { clock: immediateClock, policy }), fastSignal: () => runWithRetry(work, { clock: immediateClock, policy, signal }) };
  const failing = {
    handLoop,
    machine: async () => {
      const r = await runWithRetry(flaky, { clock: immediateClock, policy, signal });
      if (!r.ok) throw new Error(`bench: the retry run should succeed, got ${r.outcome}`);
    },
  };
  const samples: Record<string, number[]> = {};
  for (const fn of Object.values(fast)) await timeLoop(Math.min(calls, 50_000), fn);
  for (const fn of Object.values(failing)) await timeLoop(Math.min(failingCalls, 2_000), fn);
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(fast)) (samples[name] ??= []).push(await timeLoop(calls, fn));
    for (const [name, fn] of Object.entries(failing)) (samples[name] ??= []).push(await timeLoop(failingCalls, fn));
  }
  const round = (x: number) => Math.round(x * 10) / 10;
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const bare = best(samples.bare!);
  const through = best(samples.fast!);
  const withSignal = best(samples.fastSignal!);
  const hand = best(samples.handLoop!);
  const machine = best(samples.machine!);
  return {
    bench: 'retry',
    calls,
    failing_calls: failingCalls,
    rounds,
    bare_ns_per_call: round(bare),
    fast_path_ns_per_call: round(through),
    fast_path_overhead_ns: round(through - bare),
    fast_path_ratio: ratio(through, bare),
    fast_path_signal_ns_per_call: round(withSignal),
    fast_path_signal_ratio: ratio(withSignal, bare),
    retry_bare_ns_per_call: round(hand),
    retry_machine_ns_per_call: round(machine),
    retry_machine_overhead_ns: round(machine - hand),
    retry_ratio: ratio(machine, hand),
    node: process.version,
  };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : fallback;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runRetryBench({ calls: arg('--calls', 200_000), rounds: arg('--rounds', 9) });
  console.log(`bare async call            ${r.bare_ns_per_call} ns/call`);
  console.log(`runWithRetry, success      ${r.fast_path_ns_per_call} ns/call  overhead ${r.fast_path_overhead_ns} ns  ratio ${r.fast_path_ratio}× (no machine is created)`);
  console.log(`  … with an abort signal   ${r.fast_path_signal_ns_per_call} ns/call  ratio ${r.fast_path_signal_ratio}×`);
  console.log(`fail once, then succeed:   hand-written loop ${r.retry_bare_ns_per_call} ns/run, retry machine ${r.retry_machine_ns_per_call} ns/run`);
  console.log(`  machine overhead         ${r.retry_machine_overhead_ns} ns/run  ratio ${r.retry_ratio}× (one machine per failing run; backoffs on setImmediate)`);
  console.log(JSON.stringify(r));
}
