import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffBounds, backoffDelay, type BackoffPolicy } from '../../../lib/backoff.ts';

const policyArb = fc.record({
  initialMs: fc.integer({ min: 1, max: 5_000 }),
  multiplier: fc.double({ min: 1, max: 5, noNaN: true }),
  maxMs: fc.integer({ min: 5_000, max: 120_000 }),
  jitter: fc.double({ min: 0, max: 1, noNaN: true }),
});

describe('backoffDelay', () => {
  it('stays within its bounds and never exceeds the cap', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (p: BackoffPolicy, attempt, r) => {
        const d = backoffDelay(attempt, p, () => r);
        const b = backoffBounds(attempt, p);
        expect(d).toBeGreaterThanOrEqual(b.min - 1);
        expect(d).toBeLessThanOrEqual(b.max + 1);
        expect(d).toBeLessThanOrEqual(p.maxMs);
        expect(d).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('without jitter grows monotonically up to the cap', () => {
    fc.assert(
      fc.property(policyArb, (p) => {
        const q = { ...p, jitter: 0 };
        let prev = 0;
        for (let a = 1; a <= 30; a++) {
          const d = backoffDelay(a, q, () => 0.5);
          expect(d).toBeGreaterThanOrEqual(prev);
          prev = d;
        }
        expect(prev).toBeLessThanOrEqual(q.maxMs);
      }),
    );
  });

  it('the first three retries of the default-shaped policy', () => {
    const p = { initialMs: 200, multiplier: 2, maxMs: 5_000, jitter: 0 };
    expect([1, 2, 3].map((a) => backoffDelay(a, p))).toEqual([200, 400, 800]);
  });
});
