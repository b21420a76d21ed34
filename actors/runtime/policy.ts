// Supervision as pure policy functions: (message, error, context) → decision. Table-tested without nact.
import { backoffDelay, type BackoffPolicy } from '../../lib/backoff.ts';
import { classify } from '../../lib/classify.ts';

export interface SupervisionContext {
  path: string;
  now: number;
  /** Times of this actor's restarts, oldest first (the runtime keeps them). */
  restarts: readonly number[];
}

export type Decision =
  | { kind: 'resume' }
  | { kind: 'restart'; delayMs: number }
  | { kind: 'stop' }
  | { kind: 'escalate' };

export type Policy<M = unknown> = (msg: M | undefined, err: unknown, ctx: SupervisionContext) => Decision;

export interface RestartPolicyOptions {
  backoff: BackoffPolicy;
  /** Restart intensity: more than `maxRestarts` restarts within `withinMs` escalates to the parent. */
  maxRestarts: number;
  withinMs: number;
  random?: () => number;
}

/** Restart with exponential backoff and jitter; a restart storm escalates. */
export function restartWithBackoff(opts: RestartPolicyOptions): Policy {
  return (_msg, _err, ctx) => {
    const recent = ctx.restarts.filter((t) => ctx.now - t < opts.withinMs).length;
    if (recent >= opts.maxRestarts) return { kind: 'escalate' };
    return { kind: 'restart', delayMs: backoffDelay(recent + 1, opts.backoff, opts.random) };
  };
}

/** A poison message (bad input that slipped past validation) is dropped and the actor resumes with its state; anything else follows `inner`. */
export function resumeOnPoison(inner: Policy): Policy {
  return (msg, err, ctx) => (classify(err).class === 'poison' ? { kind: 'resume' } : inner(msg, err, ctx));
}

/** What a supervisor does with a child that escalated (its own restart storm). */
export type ChildPolicy = (childPath: string, err: unknown, ctx: SupervisionContext) => Decision;

/**
 * Isolating supervisor: a child in a restart storm is parked for a long cool-down and restarted — it never
 * takes its siblings down. After `maxEscalations` within `withinMs`, the child is stopped and stays stopped
 * (the supervisor reports it; readiness turns false) — unless `escalateAfter` says to escalate further.
 */
export function isolateChild(opts: { coolDownMs: number; maxEscalations: number; withinMs: number; escalateWhenExhausted?: boolean }): ChildPolicy {
  return (_path, _err, ctx) => {
    const recent = ctx.restarts.filter((t) => ctx.now - t < opts.withinMs).length;
    if (recent < opts.maxEscalations) return { kind: 'restart', delayMs: opts.coolDownMs };
    return opts.escalateWhenExhausted ? { kind: 'escalate' } : { kind: 'stop' };
  };
}
