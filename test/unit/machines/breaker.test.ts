import { describe, expect, it } from 'vitest';
import { toPgError } from '../../../adapters/pg/errors.ts';
import { toSocketError } from '../../../adapters/socket-errors.ts';
import type { BreakerConfig } from '../../../config/schema.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { classify } from '../../../lib/classify.ts';
import { ErrorCodes, TagstreamError } from '../../../lib/errors.ts';
import { createBreaker, restoreBreaker, type Breaker, type BreakerTransition } from '../../../machines/breaker/breaker.ts';
import { BreakerOpenError, isBreakerOpenError } from '../../../machines/breaker/errors.ts';
import { openWaitMs } from '../../../machines/breaker/machine.ts';
import { createInspectionBus, type MachineRecord } from '../../../machines/inspection.ts';

const cfg: BreakerConfig = { windowType: 'count', windowSize: 10, minimumCalls: 5, failureRateThreshold: 0.5, slowCallRateThreshold: 0.8, slowCallMs: 100, openMs: 1_000, openMaxMs: 4_000, openMultiplier: 2, halfOpenProbes: 2 };

// Errors as an adapter's boundary raises them (classified there).
const transient = () => toSocketError(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
const poison = () => toPgError(Object.assign(new Error('duplicate key value'), { code: '23505' }));

function setup(over: Partial<BreakerConfig> = {}, opts: { halfOpenMaxMs?: number } = {}) {
  const clock = new SimulatedClock(10_000);
  const bus = createInspectionBus();
  const records: MachineRecord[] = [];
  bus.subscribe((r) => records.push(r));
  const breaker = createBreaker({ ...cfg, ...over }, { clock, name: 'redis0', inspect: bus, ...opts });
  const transitions: BreakerTransition[] = [];
  breaker.subscribe((t) => transitions.push(t));
  return { clock, bus, records, breaker, transitions };
}

const fail = (b: Breaker, err: () => unknown = transient) => b.call(() => Promise.reject(err())).catch((e: unknown) => e);
const ok = (b: Breaker) => b.call(async () => 'ok');
/** A call that takes `ms` of simulated time. */
const slowCall = (b: Breaker, clock: SimulatedClock, ms: number) =>
  b.call(async () => {
    clock.increment(ms);
    return 'slow';
  });

async function trip(b: Breaker) {
  for (let i = 0; i < 5; i++) await fail(b);
  expect(b.state()).toBe('open');
}

describe('breaker: closed state and tripping', () => {
  it('does not trip below minimumCalls, trips on the call that reaches it', async () => {
    const { breaker } = setup();
    for (let i = 0; i < 4; i++) await fail(breaker);
    expect(breaker.state()).toBe('closed');
    await fail(breaker);
    expect(breaker.state()).toBe('open');
  });

  it('trips on failure rate ≥ threshold in the sliding window, not below it', async () => {
    const { breaker } = setup();
    // 6 ok then 4 failures: 4/10 < 0.5.
    for (let i = 0; i < 6; i++) await ok(breaker);
    for (let i = 0; i < 4; i++) await fail(breaker);
    expect(breaker.state()).toBe('closed');
    // The 11th call pushes out an ok: 5/10 = 0.5.
    await fail(breaker);
    expect(breaker.state()).toBe('open');
  });

  it('trips on slow-call rate (calls over slowCallMs) even when they succeed, at the threshold and not below', async () => {
    const { breaker, clock, transitions } = setup();
    for (let i = 0; i < 3; i++) await slowCall(breaker, clock, 150);
    for (let i = 0; i < 2; i++) await ok(breaker);
    expect(breaker.state()).toBe('closed'); // 3/5 slow < 0.8
    breaker.force('closed');
    for (let i = 0; i < 4; i++) await slowCall(breaker, clock, 150);
    await ok(breaker);
    expect(breaker.state()).toBe('open'); // 4/5 slow = 0.8
    expect(transitions.at(-1)!.trip).toMatchObject({ reason: 'slow-call-rate', slowCallRate: 0.8, failureRate: 0 });
  });

  it('trips on slow-call rate once it reaches the threshold', async () => {
    const { breaker, clock, transitions } = setup({ minimumCalls: 5 });
    for (let i = 0; i < 5; i++) await slowCall(breaker, clock, 101);
    expect(breaker.state()).toBe('open');
    expect(transitions[0]!.trip).toMatchObject({ reason: 'slow-call-rate', slowCallRate: 1, calls: 5 });
  });

  it('a call of exactly slowCallMs is not slow', async () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 10; i++) await slowCall(breaker, clock, 100);
    expect(breaker.state()).toBe('closed');
  });

  it('poison errors and aborts do not count against the dependency', async () => {
    const { breaker } = setup();
    expect(classify(poison()).class).toBe('poison');
    for (let i = 0; i < 20; i++) await fail(breaker, poison);
    const abort = () => Object.assign(new Error('aborted'), { name: 'AbortError' });
    for (let i = 0; i < 20; i++) await fail(breaker, abort);
    expect(breaker.state()).toBe('closed');
    expect(breaker.stats().window.calls).toBe(0);
  });

  it('a custom error filter decides what counts', async () => {
    const clock = new SimulatedClock();
    const b = createBreaker(cfg, { clock, name: 'x', errorFilter: () => 'ignore' });
    for (let i = 0; i < 20; i++) await fail(b);
    expect(b.state()).toBe('closed');
  });

  it('the caller sees the original error and value', async () => {
    const { breaker } = setup();
    const err = transient();
    await expect(breaker.call(() => Promise.reject(err))).rejects.toBe(err);
    await expect(breaker.call(() => 42)).resolves.toBe(42);
    // A synchronous throw is a rejection, not an exception out of call().
    await expect(breaker.call(() => { throw err; })).rejects.toBe(err);
  });

  it('counting calls sends the machine nothing: the hot path stays outside xstate', async () => {
    const { breaker, records } = setup();
    for (let i = 0; i < 1_000; i++) await ok(breaker);
    for (let i = 0; i < 2; i++) await fail(breaker);
    expect(breaker.stats().machineEvents).toBe(0);
    expect(records.map((r) => r.type)).toEqual(['machine.init']);
  });

  it('a time window forgets calls older than windowSize seconds', async () => {
    const { breaker, clock } = setup({ windowType: 'time', windowSize: 2, minimumCalls: 5 });
    for (let i = 0; i < 4; i++) await fail(breaker);
    clock.increment(2_000); // those 4 are now out of the window
    await fail(breaker);
    expect(breaker.stats().window).toEqual({ calls: 1, failures: 1, slow: 0 });
    expect(breaker.state()).toBe('closed');
    for (let i = 0; i < 4; i++) await fail(breaker);
    expect(breaker.state()).toBe('open');
  });

  it('record() counts calls made without call()', () => {
    const { breaker } = setup();
    for (let i = 0; i < 5; i++) breaker.record({ ok: false, durationMs: 3, error: transient() });
    expect(breaker.state()).toBe('open');
  });

  it('an outcome that arrives after a state change is not counted in the new state', async () => {
    const { breaker } = setup();
    let release!: (v: string) => void;
    const inflight = breaker.call(() => new Promise<string>((r) => (release = r)));
    await trip(breaker);
    breaker.force('closed');
    release('late');
    await inflight;
    expect(breaker.stats().window.calls).toBe(0);
  });
});

describe('breaker: open and half-open', () => {
  it('rejects with BreakerOpenError (TS_ERR_BREAKER_OPEN, retriable) without running the function', async () => {
    const { breaker, clock } = setup();
    await trip(breaker);
    let ran = false;
    const err = await breaker.call(() => (ran = true)).catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(err).toBeInstanceOf(BreakerOpenError);
    expect(err).toBeInstanceOf(TagstreamError);
    expect(isBreakerOpenError(err)).toBe(true);
    expect(err).toMatchObject({ code: ErrorCodes.BREAKER_OPEN, retriable: true, breaker: 'redis0', state: 'open', retryAt: clock.now() + 1_000 });
    expect(classify(err).class).toBe('retry');
    expect(breaker.stats().rejected).toBe(1);
    // Raised at call rate during outages: no stack capture, and the global limit is left as it was.
    expect((err as Error).stack).not.toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBeGreaterThan(0);
  });

  it('goes half-open at the deadline, lets K probes through, closes when they succeed', async () => {
    const { breaker, clock, transitions } = setup();
    await trip(breaker);
    clock.increment(999);
    expect(breaker.state()).toBe('open');
    clock.increment(1);
    expect(breaker.state()).toBe('half-open');

    const gates: Array<(v: string) => void> = [];
    const probe = () => breaker.call(() => new Promise<string>((r) => gates.push(r)));
    const p1 = probe();
    const p2 = probe();
    await expect(probe()).rejects.toMatchObject({ code: ErrorCodes.BREAKER_OPEN, state: 'half-open' });
    gates.forEach((g) => g('ok'));
    await Promise.all([p1, p2]);
    expect(breaker.state()).toBe('closed');
    expect(transitions.map((t) => `${t.from}->${t.to}`)).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
    expect(breaker.stats().trips).toBe(0);
  });

  it('reopens on failed probes with an exponentially longer wait, capped at openMaxMs', async () => {
    const { breaker, clock, transitions } = setup();
    await trip(breaker);
    const waits: number[] = [transitions.at(-1)!.retryAt! - transitions.at(-1)!.at];
    for (let i = 0; i < 4; i++) {
      clock.increment(waits.at(-1)!);
      expect(breaker.state()).toBe('half-open');
      await fail(breaker);
      await fail(breaker);
      expect(breaker.state()).toBe('open');
      const t = transitions.at(-1)!;
      expect(t.trip?.reason).toBe('probes-failed');
      waits.push(t.retryAt! - t.at);
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 4_000, 4_000]);
    expect(waits).toEqual([1, 2, 3, 4, 5].map((n) => openWaitMs(n, cfg)));
  });

  it('one failed probe out of K does not reopen when the rate stays under threshold', async () => {
    const { breaker, clock } = setup({ halfOpenProbes: 3, failureRateThreshold: 0.5 });
    await trip(breaker);
    clock.increment(1_000);
    await fail(breaker); // 1/3 < 0.5
    expect(breaker.state()).toBe('half-open');
    await ok(breaker);
    await ok(breaker);
    expect(breaker.state()).toBe('closed');
  });

  it('a poison probe gives its slot back', async () => {
    const { breaker, clock } = setup();
    await trip(breaker);
    clock.increment(1_000);
    await fail(breaker, poison);
    await fail(breaker, poison);
    await ok(breaker);
    await ok(breaker);
    expect(breaker.state()).toBe('closed');
  });

  it('probes that never report send it back to open after halfOpenMaxMs', async () => {
    const { breaker, clock, transitions } = setup({}, { halfOpenMaxMs: 5_000 });
    await trip(breaker);
    clock.increment(1_000);
    void breaker.call(() => new Promise(() => undefined));
    clock.increment(5_000);
    expect(breaker.state()).toBe('open');
    expect(transitions.at(-1)!.trip?.reason).toBe('probe-timeout');
  });
});

describe('breaker: operator states', () => {
  it('forced-open rejects until released; it has no timer', async () => {
    const { breaker, clock } = setup();
    breaker.force('open');
    expect(breaker.state()).toBe('forced-open');
    await expect(ok(breaker)).rejects.toMatchObject({ state: 'forced-open', retryAt: null });
    clock.increment(1_000_000);
    expect(breaker.state()).toBe('forced-open');
    breaker.force('closed');
    await expect(ok(breaker)).resolves.toBe('ok');
  });

  it('disabled lets everything through and counts nothing', async () => {
    const { breaker } = setup();
    breaker.force('disabled');
    for (let i = 0; i < 50; i++) await fail(breaker);
    expect(breaker.state()).toBe('disabled');
    expect(breaker.stats().window.calls).toBe(0);
  });

  it('metrics-only counts and reports a would-be trip but never blocks', async () => {
    const { breaker, records } = setup();
    breaker.force('metrics-only');
    for (let i = 0; i < 12; i++) await fail(breaker);
    expect(breaker.state()).toBe('metrics-only');
    expect(breaker.stats().lastTrip).toMatchObject({ reason: 'failure-rate' });
    // Two windows of five failures each: two reports, not one per call.
    expect(records.filter((r) => r.event.type === 'WINDOW.TRIPPED')).toHaveLength(2);
  });

  it('forcing closed resets the trip count and the window', async () => {
    const { breaker, clock, transitions } = setup();
    await trip(breaker);
    clock.increment(1_000);
    await fail(breaker);
    await fail(breaker); // second trip: 2 s wait
    breaker.force('closed');
    await trip(breaker);
    const t = transitions.at(-1)!;
    expect(t.retryAt! - t.at).toBe(1_000);
  });
});

describe('breaker: snapshot and restore', () => {
  it('a restored open breaker goes half-open at the original deadline, not a full wait later', async () => {
    const { breaker, clock } = setup();
    await trip(breaker);
    const deadline = clock.now() + 1_000;
    clock.increment(600);
    const snap = JSON.parse(JSON.stringify(breaker.snapshot()));
    breaker.stop();
    expect(clock.pending()).toBe(0);

    const restored = restoreBreaker(cfg, snap, { clock, name: 'redis0' });
    expect(restored.state()).toBe('open');
    await expect(ok(restored)).rejects.toMatchObject({ retryAt: deadline });
    clock.increment(399);
    expect(restored.state()).toBe('open');
    clock.increment(1);
    expect(restored.state()).toBe('half-open');
  });

  it('a breaker restored after its deadline passed goes half-open at once', async () => {
    const { breaker, clock } = setup();
    await trip(breaker);
    const snap = breaker.snapshot();
    breaker.stop();
    clock.increment(60_000); // the process was down for a minute
    const restored = restoreBreaker(cfg, snap, { clock, name: 'redis0' });
    clock.increment(0);
    expect(restored.state()).toBe('half-open');
  });

  it('restore() in place keeps the trip count, so the next open wait still grows', async () => {
    const { breaker, clock, transitions } = setup();
    await trip(breaker);
    clock.increment(1_000);
    const snap = breaker.snapshot(); // half-open, trips = 1
    breaker.restore(snap);
    expect(breaker.state()).toBe('half-open');
    await fail(breaker);
    await fail(breaker);
    const t = transitions.at(-1)!;
    expect(t.to).toBe('open');
    expect(t.retryAt! - t.at).toBe(2_000);
  });
});

describe('breaker: events', () => {
  it('every transition reaches subscribers and the inspection bus with from, to, event and time', async () => {
    const { breaker, clock, records } = setup();
    await trip(breaker);
    clock.increment(1_000);
    await ok(breaker);
    await ok(breaker);
    breaker.force('disabled');
    breaker.force('metrics-only');
    breaker.force('open');
    breaker.force('closed');
    const moves = records.filter((r) => r.type === 'machine.transition' && r.from !== r.to).map((r) => `${r.from}->${r.to}:${r.event.type}`);
    expect(moves).toEqual([
      'closed->open:WINDOW.TRIPPED',
      'open->half-open:xstate.after.openTimeout.breaker.open',
      'half-open->closed:PROBE.SUCCESS',
      'closed->disabled:FORCE.DISABLED',
      'disabled->metrics-only:FORCE.METRICS_ONLY',
      'metrics-only->forced-open:FORCE.OPEN',
      'forced-open->closed:FORCE.CLOSED',
    ]);
    expect(records.every((r) => r.machineId === 'breaker:redis0' && typeof r.at === 'number')).toBe(true);
    expect(records[1]!.at).toBe(10_000);
    expect(records[2]!.at).toBe(11_000);
  });

  it('a throwing subscriber does not break the breaker', async () => {
    const { breaker } = setup();
    breaker.subscribe(() => {
      throw new Error('bad listener');
    });
    await trip(breaker);
    expect(breaker.state()).toBe('open');
  });
});
