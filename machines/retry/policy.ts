// The retry policy as pure functions: whether a run gives up after a failure, and how long it waits before
// the next attempt. The retry machine's guards and actions call these, and so does the supervision policy
// (a restart is a retry of an actor), so a restart storm and an exhausted retry are one decision.
import { backoffDelay, type BackoffPolicy } from '../../lib/backoff.ts';

export interface RetryPolicy extends BackoffPolicy {
  /** Tries after the first (Infinity: until it works, the run is aborted, or `giveUpAfterMs` passes). */
  retries: number;
  /** Give up once this long has passed since the first attempt started (checked after each failure). */
  giveUpAfterMs?: number;
}

export type RetryStep = { kind: 'retry'; delayMs: number } | { kind: 'give-up' };

/** `failures`: attempts failed so far, this one included. `elapsedMs`: since the first attempt started. */
export function isExhausted(policy: RetryPolicy, failures: number, elapsedMs = 0): boolean {
  return failures > policy.retries || (policy.giveUpAfterMs !== undefined && elapsedMs >= policy.giveUpAfterMs);
}

/** `streak`: failures since the back-off last started over (a topology change resets it); 1 for the first. */
export function retryDelay(policy: BackoffPolicy, streak: number, random: () => number = Math.random): number {
  return backoffDelay(streak, policy, random);
}

/** Both decisions at once, for callers without a machine (supervision). */
export function nextRetry(policy: RetryPolicy, failures: number, random: () => number = Math.random, elapsedMs = 0): RetryStep {
  return isExhausted(policy, failures, elapsedMs) ? { kind: 'give-up' } : { kind: 'retry', delayMs: retryDelay(policy, failures, random) };
}
