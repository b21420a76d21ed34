// Start-up steps (topic creation, migrations) retry transient errors for a bounded time: a broker that is
// still electing leaders or a database that is restarting is no reason to refuse to start. The retry machine
// runs each step (kind 'startup'); a poison or fatal error, the time bound, or shutdown ends it with the error.
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { InspectionBus } from '../inspection.ts';
import type { RetryPolicy } from './policy.ts';
import { runWithRetry } from './run-with-retry.ts';

export type StartupRetryPolicy = Omit<RetryPolicy, 'retries'> & { giveUpAfterMs: number };

/** Today's constants, the defaults of config `retryLoops.startup`. */
export const defaultStartupPolicy: StartupRetryPolicy = { initialMs: 200, multiplier: 2, maxMs: 5_000, jitter: 0.2, giveUpAfterMs: 60_000 };

export interface StartupRetryDeps {
  clock: Clock;
  logger: Logger;
  policy?: StartupRetryPolicy;
  signal?: AbortSignal;
  inspect?: Pick<InspectionBus, 'publish'>;
  random?: () => number;
}

export async function retryStartup<T>(what: string, fn: () => Promise<T>, deps: StartupRetryDeps): Promise<T> {
  const policy = deps.policy ?? defaultStartupPolicy;
  const res = await runWithRetry(() => fn(), {
    kind: 'startup',
    detail: what,
    clock: deps.clock,
    policy: { ...policy, retries: Number.POSITIVE_INFINITY },
    rebuildOnReroute: false,
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.inspect ? { inspect: deps.inspect } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    onRetry: (n) => deps.logger.warn({ err: n.error, attempt: n.attempt, delayMs: n.delayMs, class: n.class }, `${what} failed at start; retrying`),
  });
  if (res.ok) return res.value;
  if (res.outcome === 'aborted') throw abortError(deps.signal?.reason);
  throw res.error;
}

function abortError(reason: unknown): Error {
  const err = new Error('aborted', { cause: reason });
  err.name = 'AbortError';
  return err;
}
