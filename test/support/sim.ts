// Drives a promise to settlement on simulated time: lets pending I/O callbacks run, then moves the clock on
// by a step, until the promise settles (or a simulated deadline passes).
import type { SimulatedClock } from '../../lib/clock.ts';

const turn = () => new Promise<void>((r) => setImmediate(r));

export async function onSimulatedTime<T>(p: Promise<T>, clock: SimulatedClock, opts: { stepMs?: number; maxMs?: number } = {}): Promise<T> {
  const step = opts.stepMs ?? 10;
  const until = clock.now() + (opts.maxMs ?? 600_000);
  type Settled = { ok: true; value: T } | { ok: false; error: unknown };
  let settled: Settled | null = null;
  p.then(
    (value) => (settled = { ok: true, value }),
    (error: unknown) => (settled = { ok: false, error }),
  );
  for (;;) {
    for (let i = 0; i < 5; i++) await turn();
    const s = settled as Settled | null;
    if (s) {
      if (s.ok) return s.value;
      throw s.error;
    }
    if (clock.now() > until) throw new Error(`did not settle within ${opts.maxMs ?? 600_000} simulated ms`);
    clock.increment(step);
  }
}

/** Waits (on simulated time) until `pred` holds. */
export async function simulatedUntil(pred: () => boolean | Promise<boolean>, clock: SimulatedClock, what: string, opts: { stepMs?: number; maxMs?: number } = {}): Promise<void> {
  const step = opts.stepMs ?? 10;
  const until = clock.now() + (opts.maxMs ?? 600_000);
  for (;;) {
    for (let i = 0; i < 5; i++) await turn();
    if (await pred()) return;
    if (clock.now() > until) throw new Error(`not reached within ${opts.maxMs ?? 600_000} simulated ms: ${what}`);
    clock.increment(step);
  }
}
