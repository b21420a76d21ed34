// Supervision as pure policy functions: (message, error, context) → decision. Table-tested without nact.
// A restart is a retry of an actor: its delay and the storm's escalation are the retry machine's policy
// (machines/retry/policy.ts), and each decision is reported to the retry telemetry (kind 'supervision-restart').
import type { BackoffPolicy } from '../../lib/backoff.ts';
import { classify } from '../../lib/classify.ts';
import type { InspectionBus } from '../../machines/inspection.ts';
import { nextRetry } from '../../machines/retry/policy.ts';
import { reportRestart } from '../../machines/retry/report.ts';

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
  /** Where restarts are reported as retries (the dashboard's retry card, tagstream_retries_total). */
  inspect?: Pick<InspectionBus, 'publish'>;
}

/**
 * Restart with exponential backoff and jitter; a restart storm escalates. The restarts within `withinMs` are
 * the run's earlier failures: this crash is failure recent+1 of a run allowed `maxRestarts` retries.
 */
export function restartWithBackoff(opts: RestartPolicyOptions): Policy {
  const policy = { ...opts.backoff, retries: opts.maxRestarts };
  return (_msg, err, ctx) => {
    const failures = ctx.restarts.filter((t) => ctx.now - t < opts.withinMs).length + 1;
    const step = nextRetry(policy, failures, opts.random);
    if (opts.inspect) reportRestart(opts.inspect, { path: ctx.path, at: ctx.now, failures, error: err, policy, step });
    return step.kind === 'give-up' ? { kind: 'escalate' } : { kind: 'restart', delayMs: step.delayMs };
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
