// Pure backoff: delay of retry number `attempt` (1-based) under a policy, with jitter from an injected random.
// Formula in the manner of kafkajs' retrier: base·multiplier^(attempt-1), ± jitter·delay, capped at max.

export interface BackoffPolicy {
  /** Delay before the first retry, ms. */
  initialMs: number;
  multiplier: number;
  maxMs: number;
  /** 0..1: the delay is drawn uniformly from [d·(1-jitter), d·(1+jitter)] and then capped. */
  jitter: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 200, multiplier: 2, maxMs: 10_000, jitter: 0.2 };

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, n - 1));
  const spread = base * policy.jitter;
  const jittered = base - spread + random() * 2 * spread;
  return Math.max(0, Math.min(policy.maxMs, Math.round(jittered)));
}

/** Bounds of backoffDelay for an attempt, for tests and for documenting a policy. */
export function backoffBounds(attempt: number, policy: BackoffPolicy): { min: number; max: number } {
  const n = Math.max(1, Math.floor(attempt));
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, n - 1));
  return { min: Math.max(0, Math.floor(base * (1 - policy.jitter))), max: Math.min(policy.maxMs, Math.ceil(base * (1 + policy.jitter))) };
}
