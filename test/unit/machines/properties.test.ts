// Property tests (fast-check): the backoff formula, the retry machine's waits, and the breaker's sliding
// windows against a naive reference model.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toSocketError } from '../../../adapters/socket-errors.ts';
import type { BreakerConfig } from '../../../config/schema.ts';
import { backoffBounds, backoffDelay, type BackoffPolicy } from '../../../lib/backoff.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { createBreaker } from '../../../machines/breaker/breaker.ts';
import { openWaitMs } from '../../../machines/breaker/machine.ts';
import { CountWindow, TIME_BUCKET_MS, TimeWindow, tripReason, type TripReason } from '../../../machines/breaker/window.ts';
import { runWithRetry } from '../../../machines/retry/run-with-retry.ts';
import { flush } from './support/model.ts';

const policyArb: fc.Arbitrary<BackoffPolicy> = fc
  .record({ initialMs: fc.integer({ min: 1, max: 10_000 }), multiplier: fc.double({ min: 1, max: 4, noNaN: true }), extra: fc.integer({ min: 0, max: 100_000 }), jitter: fc.double({ min: 0, max: 1, noNaN: true }) })
  .map(({ initialMs, multiplier, extra, jitter }) => ({ initialMs, multiplier, maxMs: initialMs + extra, jitter }));
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const attemptArb = fc.integer({ min: 1, max: 60 });

describe('backoff (lib/backoff) properties', () => {
  it('stays within its documented bounds, never negative, never over maxMs', () => {
    fc.assert(
      fc.property(policyArb, attemptArb, unit, (policy, attempt, r) => {
        const d = backoffDelay(attempt, policy, () => r);
        const { min, max } = backoffBounds(attempt, policy);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(policy.maxMs);
        expect(d).toBeGreaterThanOrEqual(min);
        expect(d).toBeLessThanOrEqual(max);
      }),
    );
  });

  it('without jitter, grows monotonically with the attempt and is capped at maxMs', () => {
    fc.assert(
      fc.property(policyArb, attemptArb, (p, attempt) => {
        const policy = { ...p, jitter: 0 };
        const a = backoffDelay(attempt, policy, () => 0.5);
        const b = backoffDelay(attempt + 1, policy, () => 0.5);
        expect(b).toBeGreaterThanOrEqual(a);
        expect(b).toBeLessThanOrEqual(policy.maxMs);
        if (policy.multiplier >= 1.5) expect(backoffDelay(200, policy, () => 0.5)).toBe(policy.maxMs);
      }),
    );
  });

  it('jitter spreads the delay over [d·(1−j), d·(1+j)] (capped), monotone in the random draw', () => {
    fc.assert(
      fc.property(policyArb, attemptArb, unit, unit, (policy, attempt, r1, r2) => {
        const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, attempt - 1));
        const lo = Math.min(policy.maxMs, Math.round(base * (1 - policy.jitter)));
        const hi = Math.min(policy.maxMs, Math.round(base * (1 + policy.jitter)));
        const [a, b] = r1 <= r2 ? [r1, r2] : [r2, r1];
        const da = backoffDelay(attempt, policy, () => a);
        const db = backoffDelay(attempt, policy, () => b);
        expect(da).toBeGreaterThanOrEqual(lo);
        expect(db).toBeLessThanOrEqual(hi);
        expect(db).toBeGreaterThanOrEqual(da);
      }),
    );
  });

  it('the breaker open wait grows by the multiplier and never exceeds openMaxMs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 0, max: 600_000 }), fc.double({ min: 1, max: 5, noNaN: true }), fc.integer({ min: 1, max: 100 }), (openMs, extra, openMultiplier, trips) => {
        const cfg = { openMs, openMaxMs: openMs + extra, openMultiplier };
        const w = openWaitMs(trips, cfg);
        expect(w).toBeGreaterThanOrEqual(openMs);
        expect(w).toBeLessThanOrEqual(cfg.openMaxMs);
        expect(openWaitMs(trips + 1, cfg)).toBeGreaterThanOrEqual(w);
      }),
    );
  });
});

describe('retry machine waits follow the backoff policy', () => {
  it('each retry starts exactly backoffDelay(attempt) after the previous attempt failed', async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, fc.integer({ min: 0, max: 5 }), fc.array(unit, { minLength: 5, maxLength: 5 }), async (p, retries, draws) => {
        const clock = new SimulatedClock(0);
        let i = 0;
        const random = () => draws[i++ % draws.length]!;
        const run = runWithRetry(() => Promise.reject(toSocketError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))), { clock, policy: { ...p, retries }, random });
        for (let k = 0; k <= retries; k++) {
          await flush();
          clock.increment(p.maxMs);
        }
        const result = await run;
        expect(result).toMatchObject({ ok: false, outcome: 'exhausted', attempts: retries + 1 });
        const h = result.history;
        for (let k = 1; k < h.length; k++) {
          const expected = backoffDelay(k, p, () => draws[(k - 1) % draws.length]!);
          const failedAt = h[k - 1]!.at + h[k - 1]!.durationMs;
          expect(h[k]!.at - failedAt).toBe(expected);
        }
      }),
      { numRuns: 60 },
    );
  });
});

type Outcome = { failed: boolean; slow: boolean };
const outcomeArb: fc.Arbitrary<Outcome> = fc.record({ failed: fc.boolean(), slow: fc.boolean() });
const windowCfgArb = fc.record({
  windowSize: fc.integer({ min: 1, max: 25 }),
  minimumCalls: fc.integer({ min: 1, max: 30 }),
  failureRateThreshold: fc.constantFrom(0, 0.1, 0.25, 0.3, 0.5, 0.6, 2 / 3, 0.75, 0.9, 1),
  slowCallRateThreshold: fc.constantFrom(0, 0.2, 0.5, 0.8, 1),
});

/** The reference: recount the last N outcomes from scratch. */
function naiveCount(outcomes: Outcome[], cfg: { windowSize: number; minimumCalls: number; failureRateThreshold: number; slowCallRateThreshold: number }): TripReason | null {
  const last = outcomes.slice(-cfg.windowSize);
  const counts = { calls: last.length, failures: last.filter((o) => o.failed).length, slow: last.filter((o) => o.slow).length };
  return tripReason(counts, Math.min(cfg.minimumCalls, cfg.windowSize), cfg.failureRateThreshold, cfg.slowCallRateThreshold);
}

describe('breaker window properties', () => {
  it('count window agrees with a naive recount after every call', () => {
    fc.assert(
      fc.property(windowCfgArb, fc.array(outcomeArb, { maxLength: 120 }), (cfg, outcomes) => {
        const w = new CountWindow({ windowType: 'count', ...cfg });
        outcomes.forEach((o, i) => {
          expect(w.record(0, o.failed, o.slow)).toBe(naiveCount(outcomes.slice(0, i + 1), cfg));
        });
      }),
    );
  });

  it('never trips below minimumCalls', () => {
    fc.assert(
      fc.property(windowCfgArb, fc.array(outcomeArb, { maxLength: 60 }), (cfg, outcomes) => {
        const w = new CountWindow({ windowType: 'count', ...cfg });
        const effectiveMin = Math.min(cfg.minimumCalls, cfg.windowSize);
        outcomes.forEach((o, i) => {
          const r = w.record(0, o.failed, o.slow);
          if (i + 1 < effectiveMin) expect(r).toBeNull();
        });
        const t = new TimeWindow({ windowType: 'time', ...cfg });
        outcomes.forEach((o, i) => {
          const r = t.record(0, o.failed, o.slow);
          if (i + 1 < cfg.minimumCalls) expect(r).toBeNull();
        });
      }),
    );
  });

  it('trips whenever the failure rate reaches the threshold once minimumCalls are in', () => {
    fc.assert(
      fc.property(windowCfgArb, fc.integer({ min: 0, max: 25 }), (cfg, extra) => {
        const w = new CountWindow({ windowType: 'count', ...cfg });
        const n = Math.min(cfg.windowSize, Math.max(cfg.minimumCalls, 1) + extra);
        const failures = Math.max(1, Math.ceil(cfg.failureRateThreshold * n));
        if (failures > n) return;
        let last: TripReason | null = null;
        for (let i = 0; i < n; i++) last = w.record(0, i < failures, false);
        expect(last).toBe('failure-rate');
      }),
    );
  });

  it('time window agrees with a naive recount of the calls in the last windowSize seconds', () => {
    const stepArb = fc.record({ dt: fc.integer({ min: 0, max: 2_500 }), failed: fc.boolean(), slow: fc.boolean() });
    fc.assert(
      fc.property(windowCfgArb, fc.array(stepArb, { maxLength: 120 }), (cfg, steps) => {
        const w = new TimeWindow({ windowType: 'time', ...cfg });
        let now = 1_700_000_000_000;
        const seen: Array<Outcome & { at: number }> = [];
        for (const s of steps) {
          now += s.dt;
          seen.push({ at: now, failed: s.failed, slow: s.slow });
          const bucket = Math.floor(now / TIME_BUCKET_MS);
          const inWindow = seen.filter((o) => Math.floor(o.at / TIME_BUCKET_MS) > bucket - cfg.windowSize);
          const counts = { calls: inWindow.length, failures: inWindow.filter((o) => o.failed).length, slow: inWindow.filter((o) => o.slow).length };
          expect(w.record(now, s.failed, s.slow)).toBe(tripReason(counts, cfg.minimumCalls, cfg.failureRateThreshold, cfg.slowCallRateThreshold));
          expect(w.counts(now)).toEqual(counts);
        }
      }),
    );
  });

  it('the breaker opens exactly when the window first trips', () => {
    fc.assert(
      fc.property(windowCfgArb, fc.array(outcomeArb, { maxLength: 80 }), (wcfg, outcomes) => {
        const cfg: BreakerConfig = { windowType: 'count', ...wcfg, slowCallMs: 100, openMs: 1_000, openMaxMs: 2_000, openMultiplier: 2, halfOpenProbes: 1 };
        const clock = new SimulatedClock(0);
        const b = createBreaker(cfg, { clock, name: 'p' });
        const firstTrip = outcomes.findIndex((_, i) => naiveCount(outcomes.slice(0, i + 1), wcfg) !== null);
        outcomes.forEach((o, i) => {
          b.record({ ok: !o.failed, durationMs: o.slow ? 101 : 1, ...(o.failed ? { error: toSocketError(Object.assign(new Error('x'), { code: 'ECONNRESET' })) } : {}) });
          expect(b.state()).toBe(firstTrip !== -1 && i >= firstTrip ? 'open' : 'closed');
        });
        b.stop();
      }),
    );
  });
});
