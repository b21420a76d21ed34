// runWithRetry's fast path and the machine features the converted loops rely on, on simulated time: no
// machine while the first attempt works; a failed first attempt replayed into the machine; onRetry with the
// machine's delay; WAKE (a topology change) cutting a backoff short and starting the backoffs over; a give-up
// time; abort during the first attempt; retry kinds naming the machine.
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../lib/clock.ts';
import { BackendError } from '../../../lib/errors.ts';
import { createInspectionBus, type MachineRecord } from '../../../machines/inspection.ts';
import { RETRY_KINDS, retryMachineId } from '../../../machines/retry/kinds.ts';
import { isExhausted, nextRetry } from '../../../machines/retry/policy.ts';
import { runWithRetry, type RetryNotice, type RetryResult } from '../../../machines/retry/run-with-retry.ts';
import { simulatedUntil } from '../../support/sim.ts';

/** A transient error as an adapter hands it over (classified at its boundary). */
const transient = (msg = 'connection reset') => new BackendError({ class: 'retry', source: 'node:ECONNRESET' }, Object.assign(new Error(msg), { code: 'ECONNRESET' }));
const policy = { retries: 3, initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0 };
const turn = () => new Promise<void>((r) => setImmediate(r));

function recorder() {
  const bus = createInspectionBus({ capacity: 0 });
  const records: MachineRecord[] = [];
  bus.subscribe((r) => records.push(r));
  return { bus, records };
}

function track<T>(p: Promise<RetryResult<T>>) {
  const box: { result?: RetryResult<T> } = {};
  void p.then((r) => (box.result = r));
  return box;
}

describe('runWithRetry fast path', () => {
  it('a first attempt that works creates no machine', async () => {
    const clock = new SimulatedClock(0);
    const { bus, records } = recorder();
    const result = await runWithRetry(async () => 'v', { clock, policy, inspect: bus, kind: 'shard-apply', detail: 'pg0' });
    expect(result).toEqual({ ok: true, value: 'v', attempts: 1, history: [] });
    expect(records).toEqual([]);
    // A synchronous function too, and with a signal.
    expect(await runWithRetry(() => 7, { clock, policy, inspect: bus, signal: new AbortController().signal })).toEqual({ ok: true, value: 7, attempts: 1, history: [] });
    expect(records).toEqual([]);
  });

  it('a failed first attempt is replayed into the machine: its history and telemetry start at attempt 1', async () => {
    const clock = new SimulatedClock(1_000);
    const { bus, records } = recorder();
    const calls: number[] = [];
    const run = track(
      runWithRetry(
        async ({ attempt }) => {
          calls.push(attempt);
          if (attempt === 1) {
            clock.increment(7); // the first attempt took 7 ms
            throw transient('first');
          }
          return 'ok';
        },
        { clock, policy, inspect: bus, kind: 'shard-apply', detail: 'pg0' },
      ),
    );
    await simulatedUntil(() => run.result !== undefined, clock, 'the run settles', { stepMs: 10 });
    expect(run.result).toMatchObject({ ok: true, value: 'ok', attempts: 2 });
    expect(run.result!.history).toEqual([expect.objectContaining({ attempt: 1, at: 1_000, durationMs: 7, class: 'retry', message: 'first' })]);
    expect(calls).toEqual([1, 2]); // the first attempt ran once, not again inside the machine
    expect(new Set(records.map((r) => r.machineId))).toEqual(new Set(['retry:shard-apply:pg0']));
    expect(records.filter((r) => r.type === 'machine.transition').map((r) => `${r.from}→${r.to}`)).toEqual(['attempting→backing-off', 'backing-off→attempting', 'attempting→succeeded']);
  });

  it('a first attempt that throws synchronously is replayed too', async () => {
    const clock = new SimulatedClock(0);
    const run = track(runWithRetry(({ attempt }) => (attempt === 1 ? (() => { throw transient(); })() : 'ok'), { clock, policy }));
    await simulatedUntil(() => run.result !== undefined, clock, 'the run settles');
    expect(run.result).toMatchObject({ ok: true, value: 'ok', attempts: 2 });
  });

  it('abort during the first attempt ends the run at once and aborts the signal the attempt was given', async () => {
    const clock = new SimulatedClock(0);
    const ac = new AbortController();
    let seen: AbortSignal | undefined;
    const run = track(runWithRetry(({ signal }) => ((seen = signal), new Promise<never>(() => undefined)), { clock, policy, signal: ac.signal }));
    await turn();
    expect(run.result).toBeUndefined();
    ac.abort();
    await turn();
    expect(run.result).toEqual({ ok: false, outcome: 'aborted', attempts: 1, history: [] });
    expect(seen?.aborted).toBe(true);
  });
});

describe('runWithRetry features of the converted loops', () => {
  it('onRetry tells each failure with the delay the machine chose', async () => {
    const clock = new SimulatedClock(0);
    const notices: RetryNotice[] = [];
    const run = track(runWithRetry(({ attempt }) => (attempt < 4 ? Promise.reject(transient(`#${attempt}`)) : Promise.resolve('ok')), { clock, policy, onRetry: (n) => notices.push(n) }));
    await simulatedUntil(() => run.result !== undefined, clock, 'the run settles');
    expect(notices.map((n) => [n.attempt, n.delayMs, n.class, n.next, (n.error as Error).message])).toEqual([
      [1, 100, 'retry', 'backing-off', '#1'],
      [2, 200, 'retry', 'backing-off', '#2'],
      [3, 400, 'retry', 'backing-off', '#3'],
    ]);
  });

  it('WAKE (the wake signal aborting) cuts a backoff short and the next failure backs off from the start', async () => {
    const clock = new SimulatedClock(0);
    let topology = new AbortController();
    const starts: number[] = [];
    const notices: number[] = [];
    const run = track(
      runWithRetry(
        ({ attempt }) => {
          starts.push(clock.now());
          return attempt < 5 ? Promise.reject(transient()) : Promise.resolve('ok');
        },
        { clock, policy: { ...policy, retries: Number.POSITIVE_INFINITY }, wake: () => topology.signal, onRetry: (n) => notices.push(n.delayMs), rebuildOnReroute: false },
      ),
    );
    await simulatedUntil(() => starts.length === 3, clock, 'third attempt', { stepMs: 50 }); // at 0, 100, 300 → backing off 400
    clock.increment(150);
    topology.abort();
    topology = new AbortController();
    await simulatedUntil(() => starts.length === 4, clock, 'woken attempt', { stepMs: 1, maxMs: 0 });
    await simulatedUntil(() => run.result !== undefined, clock, 'the run settles', { stepMs: 50 });
    expect(starts).toEqual([0, 100, 300, 450, 550]);
    expect(notices).toEqual([100, 200, 400, 100]);
  });

  it('gives up once giveUpAfterMs has passed since the first attempt (exhausted, with the last error)', async () => {
    const clock = new SimulatedClock(0);
    const run = track(runWithRetry(({ attempt }) => Promise.reject(transient(`#${attempt}`)), { clock, policy: { ...policy, retries: Number.POSITIVE_INFINITY, giveUpAfterMs: 1_000 } }));
    await simulatedUntil(() => run.result !== undefined, clock, 'the run settles', { stepMs: 50 });
    // 0, 100, 300, 700 fail; the failure at 1 500 (after a 800 ms wait) is past the bound.
    expect(run.result).toMatchObject({ ok: false, outcome: 'exhausted', attempts: 5 });
    expect(((run.result as { error: Error }).error).message).toBe('#5');
  });

  it('the pure policy and the machine agree: failure k of a run with r retries gives up when k > r', () => {
    expect(isExhausted({ ...policy, retries: 3 }, 3)).toBe(false);
    expect(isExhausted({ ...policy, retries: 3 }, 4)).toBe(true);
    expect(isExhausted({ ...policy, retries: Number.POSITIVE_INFINITY, giveUpAfterMs: 10 }, 99, 10)).toBe(true);
    expect(nextRetry({ ...policy, retries: 3 }, 2)).toEqual({ kind: 'retry', delayMs: 200 });
    expect(nextRetry({ ...policy, retries: 3 }, 4)).toEqual({ kind: 'give-up' });
  });

  it('names the machine by its retry kind; there are ten kinds', () => {
    expect(RETRY_KINDS).toHaveLength(10);
    expect(retryMachineId('startup', 'creating the command topic')).toBe('retry:startup:creating the command topic');
    expect(retryMachineId('sink-rewind')).toBe('retry:sink-rewind');
  });
});
