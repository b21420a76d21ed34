// A retry run whose attempts happen elsewhere: a partition delivered again, a consumer resumed from its
// committed offsets. The loop reports a failure (which starts the run, or fails the attempt in flight) and a
// success (which ends it); the retry machine decides the backoff between them and calls `resume` when the
// next attempt may start. Nothing runs, and no machine exists, while nothing fails.
import type { Classification } from '../../lib/classify.ts';
import type { Clock } from '../../lib/clock.ts';
import type { InspectionBus } from '../inspection.ts';
import type { RetryKind } from './kinds.ts';
import type { RetryPolicy } from './policy.ts';
import { runWithRetry, type RetryNotice, type RetryResult } from './run-with-retry.ts';

export interface RetrySessionOptions {
  kind: RetryKind;
  detail?: string;
  policy: Partial<RetryPolicy>;
  clock: Clock;
  random?: () => number;
  classify?: (err: unknown) => Classification;
  inspect?: Pick<InspectionBus, 'publish'>;
  /** Ends the run (outcome 'aborted'): shutdown never waits out a backoff. */
  signal?: AbortSignal;
  /** The backoff is over: start the next attempt (resume the partition…), then report its outcome. */
  resume: (attempt: number) => void;
  onRetry?: (notice: RetryNotice) => void;
  /** The run ended: succeeded, gave up, or aborted. */
  onEnd?: (result: RetryResult<void>) => void;
}

export interface RetrySession {
  /** The attempt in flight failed (ignored while backing off: that failure is already being waited out). */
  fail(err: unknown): void;
  /** The attempt in flight succeeded: the run ends. */
  succeed(): void;
  /** Whether the machine is waiting out a backoff (the loop holds its work meanwhile). */
  readonly backingOff: boolean;
  readonly done: Promise<RetryResult<void>>;
}

/** Starts a run whose first attempt already failed with `first`. */
export function startRetrySession(first: unknown, opts: RetrySessionOptions): RetrySession {
  let pending: { resolve: () => void; reject: (err: unknown) => void } | null = null;
  let backingOff = true;
  const done = runWithRetry<void>(
    ({ attempt, signal }) => {
      if (attempt === 1) throw first;
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        pending = {
          resolve: () => (signal.removeEventListener('abort', onAbort), resolve()),
          reject: (err) => (signal.removeEventListener('abort', onAbort), reject(err)),
        };
        backingOff = false;
        opts.resume(attempt);
      });
    },
    {
      kind: opts.kind,
      ...(opts.detail !== undefined ? { detail: opts.detail } : {}),
      policy: opts.policy,
      clock: opts.clock,
      rebuildOnReroute: false,
      ...(opts.random ? { random: opts.random } : {}),
      ...(opts.classify ? { classify: opts.classify } : {}),
      ...(opts.inspect ? { inspect: opts.inspect } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      onRetry: (n) => {
        backingOff = true;
        opts.onRetry?.(n);
      },
    },
  ).then((result) => {
    pending = null;
    backingOff = false;
    opts.onEnd?.(result);
    return result;
  });
  return {
    fail(err) {
      const p = pending;
      pending = null;
      p?.reject(err);
    },
    succeed() {
      const p = pending;
      pending = null;
      p?.resolve();
    },
    get backingOff() {
      return backingOff;
    },
    done,
  };
}

/**
 * For loops that deliver again whatever the error (the handler's error is its own business): the class is
 * kept in the history's source, and the run backs off instead of ending on a poison or fatal error.
 */
export function retryEveryError(classify: (err: unknown) => Classification): (err: unknown) => Classification {
  return (err) => {
    const c = classify(err);
    return c.class === 'retry' || c.class === 'reroute' ? c : { class: 'retry', source: `${c.class}:${c.source}` };
  };
}
