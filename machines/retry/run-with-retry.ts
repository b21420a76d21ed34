// runWithRetry: the retry machine around one async function. The caller's function and its "rebuild the
// connection" step become the machine's invoked actors; an AbortSignal ends everything at once.
import { fromPromise, type SnapshotFrom } from 'xstate';
import type { Classification } from '../../lib/classify.ts';
import type { Clock } from '../../lib/clock.ts';
import { createMachineActor } from '../create-machine-actor.ts';
import type { InspectionBus } from '../inspection.ts';
import { createRetryMachine, type AttemptRecord, type RerouteInput, type RetryMachine, type RetryPolicy } from './machine.ts';

export type RetryResult<T> =
  | { ok: true; value: T; attempts: number; history: AttemptRecord[] }
  | { ok: false; outcome: 'poison' | 'exhausted' | 'fatal' | 'aborted'; attempts: number; history: AttemptRecord[]; error?: unknown };

export interface RunWithRetryOptions {
  policy?: Partial<RetryPolicy>;
  clock: Clock;
  signal?: AbortSignal;
  random?: () => number;
  /** The "rebuild connection" step run before retrying a 'reroute' error (a promoted replica, READONLY). */
  onReroute?: (info: RerouteInput) => Promise<void> | void;
  inspect?: Pick<InspectionBus, 'publish'>;
  /** Names the actor on the inspection bus (default 'retry'). */
  id?: string;
  classify?: (err: unknown) => Classification;
  rerouteTimeoutMs?: number;
}

export interface AttemptContext {
  attempt: number;
  /** Aborts when the run is aborted (or the attempt is abandoned): pass it to the I/O. */
  signal: AbortSignal;
}

export function runWithRetry<T>(fn: (ctx: AttemptContext) => Promise<T> | T, opts: RunWithRetryOptions): Promise<RetryResult<T>> {
  const outer = opts.signal;
  if (outer?.aborted) return Promise.resolve({ ok: false, outcome: 'aborted', attempts: 0, history: [] });

  const errors: unknown[] = [];
  const machine = createRetryMachine({ clock: opts.clock, ...(opts.random ? { random: opts.random } : {}), ...(opts.classify ? { classify: opts.classify } : {}), ...(opts.rerouteTimeoutMs !== undefined ? { rerouteTimeoutMs: opts.rerouteTimeoutMs } : {}) }).provide({
    actors: {
      attempt: fromPromise<unknown, { attempt: number }>(async ({ input, signal }) => {
        try {
          return await fn({ attempt: input.attempt, signal: outer ? AbortSignal.any([signal, outer]) : signal });
        } catch (err) {
          errors.push(err);
          throw err;
        }
      }),
      rebuild: fromPromise<void, RerouteInput>(async ({ input }) => {
        await opts.onReroute?.(input);
      }),
    },
  }) as RetryMachine;

  return new Promise((resolve) => {
    const actor = createMachineActor(machine, { clock: opts.clock, id: opts.id ?? 'retry', ...(opts.inspect ? { inspect: opts.inspect } : {}), input: { ...(opts.policy ? { policy: opts.policy } : {}) }, start: false });
    const onAbort = () => actor.send({ type: 'ABORT', reason: String(outer?.reason ?? 'aborted') });
    const finish = () => {
      sub.unsubscribe();
      outer?.removeEventListener('abort', onAbort);
    };
    const settle = (snap: SnapshotFrom<RetryMachine>) => {
      if (snap.status !== 'done') return;
      finish();
      const out = snap.output!;
      if (out.outcome === 'succeeded') resolve({ ok: true, value: out.value as T, attempts: out.attempts, history: out.history });
      else resolve({ ok: false, outcome: out.outcome, attempts: out.attempts, history: out.history, ...(errors.length ? { error: errors[errors.length - 1] } : {}) });
    };
    // A machine that breaks (a throwing classifier, say) must still settle the promise.
    const sub = actor.subscribe({
      next: settle,
      error: (err) => {
        finish();
        resolve({ ok: false, outcome: 'fatal', attempts: actor.getSnapshot().context.attempt, history: actor.getSnapshot().context.history, error: err });
      },
    });
    outer?.addEventListener('abort', onAbort, { once: true });
    actor.start();
  });
}
