// Retry/backoff statechart for one unit of work (an index update, a DLQ re-drive…). The error's class
// decides: retry → back off (lib/backoff) and try again; reroute → rebuild the connection, then try again;
// poison → no retry, dead letter; fatal → stop. Attempts are bounded (policy.retries after the first, and
// policy.giveUpAfterMs if set: ./policy.ts decides both); ABORT ends it at once from any state, so shutdown
// never waits out a backoff; WAKE (a topology change) cuts a backoff short and starts the backoffs over.
import { assign, fromPromise, setup } from 'xstate';
import { classify as defaultClassify, type Classification, type ErrorClass } from '../../lib/classify.ts';
import type { Clock } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import { untilDeadline } from '../deadline.ts';
import { isExhausted, retryDelay, type RetryPolicy } from './policy.ts';

/** retries: how many times to try again after the first attempt (3 by default: 4 attempts in all). */
export type { RetryPolicy };

export const defaultRetryPolicy: RetryPolicy = { retries: 3, initialMs: 200, multiplier: 2, maxMs: 5_000, jitter: 0.2 };

export interface AttemptRecord {
  attempt: number;
  /** When the attempt started and how long it took (clock ms). */
  at: number;
  durationMs: number;
  class: ErrorClass;
  /** Where the class came from, e.g. 'pg:40001' (lib/classify). */
  source: string;
  code?: string;
  name: string;
  message: string;
}

export type RetryOutcome = 'succeeded' | 'poison' | 'exhausted' | 'fatal' | 'aborted';

export interface RetryContext {
  policy: RetryPolicy;
  /** Attempts started so far. */
  attempt: number;
  /** The attempt after which the backoff last started over (WAKE): the next delay is that of failure attempt − streakFrom. */
  streakFrom: number;
  /** Whether a 'reroute' error runs the rebuild step (else it backs off like 'retry'). */
  rebuilds: boolean;
  startedAt: number;
  attemptStartedAt: number;
  /** When the current backoff (or reroute) ends, absolute clock time. */
  deadline: number | null;
  history: AttemptRecord[];
  outcome: RetryOutcome | null;
  /** The value of the successful attempt (not persisted meaningfully: the machine is done by then). */
  value: unknown;
  abortReason: string | null;
}

export interface RetryInput {
  policy?: Partial<RetryPolicy>;
  /** When the first attempt started, if before the machine (the caller's fast path ran it). */
  startedAt?: number;
  /** false: a 'reroute' error backs off like 'retry' (the caller is woken by the topology change instead). */
  rebuildOnReroute?: boolean;
}

export type RetryEvent = { type: 'ABORT'; reason?: string } | { type: 'WAKE' };

export interface AttemptInput {
  attempt: number;
}

export interface RerouteInput {
  attempt: number;
  error: AttemptRecord;
}

export interface RetryMachineDeps {
  clock: Clock;
  /** Jitter source, injected so tests are deterministic. */
  random?: () => number;
  classify?: (err: unknown) => Classification;
  /** Longest wait for the "rebuild connection" step before trying again anyway. */
  rerouteTimeoutMs?: number;
}

function attemptRecord(err: unknown, attempt: number, at: number, now: number, c: Classification): AttemptRecord {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; name?: unknown };
  const code = typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : undefined;
  return { attempt, at, durationMs: now - at, class: c.class, source: c.source, ...(code !== undefined ? { code } : {}), name: typeof e.name === 'string' ? e.name : typeof err, message: errorMessage(err) };
}

export function createRetryMachine(deps: RetryMachineDeps) {
  const { clock } = deps;
  const random = deps.random ?? Math.random;
  const classify = deps.classify ?? defaultClassify;
  const rerouteTimeoutMs = deps.rerouteTimeoutMs ?? 5_000;
  const classOf = (event: unknown): ErrorClass => classify((event as { error?: unknown }).error).class;

  return setup({
    types: {
      context: {} as RetryContext,
      events: {} as RetryEvent,
      input: {} as RetryInput | undefined,
      output: {} as { outcome: RetryOutcome; value: unknown; history: AttemptRecord[]; attempts: number },
    },
    actors: {
      // Placeholders: the caller provides both through machine.provide({ actors }) (see run-with-retry.ts).
      attempt: fromPromise<unknown, AttemptInput>(async () => {
        throw new Error('retry machine: actor "attempt" was not provided');
      }),
      rebuild: fromPromise<void, RerouteInput>(async () => undefined),
    },
    delays: {
      backoff: ({ context }) => untilDeadline(clock, context.deadline),
      rerouteTimeout: ({ context }) => untilDeadline(clock, context.deadline),
    },
    guards: {
      isPoison: ({ event }) => classOf(event) === 'poison',
      isFatal: ({ event }) => classOf(event) === 'fatal',
      isExhausted: ({ context }) => isExhausted(context.policy, context.attempt, clock.now() - context.startedAt),
      isReroute: ({ context, event }) => context.rebuilds && classOf(event) === 'reroute',
    },
    actions: {
      startAttempt: assign(({ context }) => ({ attempt: context.attempt + 1, attemptStartedAt: clock.now(), deadline: null })),
      recordFailure: assign(({ context, event }) => {
        const err = (event as { error?: unknown }).error;
        const now = clock.now();
        return { history: [...context.history, attemptRecord(err, context.attempt, context.attemptStartedAt, now, classify(err))] };
      }),
      scheduleBackoff: assign(({ context }) => ({ deadline: clock.now() + retryDelay(context.policy, context.attempt - context.streakFrom, random) })),
      restartStreak: assign(({ context }) => ({ streakFrom: context.attempt })),
      scheduleReroute: assign(() => ({ deadline: clock.now() + rerouteTimeoutMs })),
      succeed: assign(({ event }) => ({ outcome: 'succeeded' as const, value: (event as { output?: unknown }).output })),
      markPoison: assign({ outcome: 'poison' as const }),
      markFatal: assign({ outcome: 'fatal' as const }),
      markExhausted: assign({ outcome: 'exhausted' as const }),
      markAborted: assign(({ event }) => ({ outcome: 'aborted' as const, abortReason: event.type === 'ABORT' ? (event.reason ?? 'aborted') : 'aborted' })),
    },
  }).createMachine({
    id: 'retry',
    initial: 'attempting',
    context: ({ input }) => ({
      policy: { ...defaultRetryPolicy, ...(input?.policy ?? {}) },
      attempt: 1,
      streakFrom: 0,
      rebuilds: input?.rebuildOnReroute ?? true,
      startedAt: input?.startedAt ?? clock.now(),
      attemptStartedAt: input?.startedAt ?? clock.now(),
      deadline: null,
      history: [],
      outcome: null,
      value: undefined,
      abortReason: null,
    }),
    on: { ABORT: { target: '.aborted', actions: 'markAborted' } },
    output: ({ context }) => ({ outcome: context.outcome ?? 'aborted', value: context.value, history: context.history, attempts: context.attempt }),
    states: {
      attempting: {
        description: 'One attempt of the work is in flight.',
        invoke: {
          id: 'attempt',
          src: 'attempt',
          input: ({ context }) => ({ attempt: context.attempt }),
          onDone: { target: 'succeeded', actions: 'succeed' },
          onError: [
            { guard: 'isPoison', target: 'poisoned', actions: ['recordFailure', 'markPoison'] },
            { guard: 'isFatal', target: 'failed', actions: ['recordFailure', 'markFatal'] },
            { guard: 'isExhausted', target: 'exhausted', actions: ['recordFailure', 'markExhausted'] },
            { guard: 'isReroute', target: 'rerouting', actions: ['recordFailure', 'scheduleReroute'] },
            { target: 'backing-off', actions: ['recordFailure', 'scheduleBackoff'] },
          ],
        },
      },
      'backing-off': {
        description: 'Waiting out an exponential, jittered, capped backoff before the next attempt.',
        after: { backoff: { target: 'attempting', actions: 'startAttempt' } },
        on: { WAKE: { target: 'attempting', actions: ['restartStreak', 'startAttempt'], description: 'The topology changed: try now, and back off from the start if it fails again.' } },
      },
      rerouting: {
        description: 'The topology changed (a promoted replica, a READONLY node): rebuild the connection first.',
        invoke: {
          id: 'rebuild',
          src: 'rebuild',
          input: ({ context }) => ({ attempt: context.attempt, error: context.history[context.history.length - 1]! }),
          onDone: { target: 'attempting', actions: 'startAttempt' },
          onError: { target: 'backing-off', actions: 'scheduleBackoff' },
        },
        after: { rerouteTimeout: { target: 'backing-off', actions: 'scheduleBackoff' } },
      },
      succeeded: { type: 'final' },
      poisoned: { type: 'final', description: 'No retry: the message goes straight to the dead letter topic.' },
      exhausted: { type: 'final', description: 'Retries used up: dead letter with the attempt history.' },
      failed: { type: 'final', description: 'A fatal error: not retried, not dead-lettered by this machine.' },
      aborted: { type: 'final', description: 'Aborted (shutdown): stopped at once.' },
    },
  });
}

export type RetryMachine = ReturnType<typeof createRetryMachine>;
