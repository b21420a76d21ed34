// runWithRetry: the retry machine around one async function. The caller's function and its "rebuild the
// connection" step become the machine's invoked actors; an AbortSignal ends everything at once.
// Fast path (as the breaker's): the first attempt runs as a plain call, and no machine is created when it
// succeeds; a failed first attempt starts the machine, which replays that failure as its own first attempt,
// so the history, the telemetry and every decision are the machine's (bench/retry.ts measures the cost).
import { fromPromise, type SnapshotFrom } from 'xstate';
import type { Classification, ErrorClass } from '../../lib/classify.ts';
import type { Clock } from '../../lib/clock.ts';
import { createMachineActor } from '../create-machine-actor.ts';
import type { InspectionBus } from '../inspection.ts';
import { retryMachineId, type RetryKind } from './kinds.ts';
import { createRetryMachine, type AttemptRecord, type RerouteInput, type RetryMachine, type RetryPolicy } from './machine.ts';

export type RetryResult<T> =
  | { ok: true; value: T; attempts: number; history: AttemptRecord[] }
  | { ok: false; outcome: 'poison' | 'exhausted' | 'fatal' | 'aborted'; attempts: number; history: AttemptRecord[]; error?: unknown };

export interface RetryNotice {
  error: unknown;
  /** The attempt that failed (1-based, counted over the whole run). */
  attempt: number;
  class: ErrorClass;
  /** The wait before the next attempt (for a rebuild: its time-out). */
  delayMs: number;
  next: 'backing-off' | 'rerouting';
}

export interface RunWithRetryOptions {
  policy?: Partial<RetryPolicy>;
  clock: Clock;
  signal?: AbortSignal;
  random?: () => number;
  /** The "rebuild connection" step run before retrying a 'reroute' error (a promoted replica, READONLY). */
  onReroute?: (info: RerouteInput) => Promise<void> | void;
  /** false: a 'reroute' error backs off like 'retry' (the loop is woken by `wake` instead of rebuilding). */
  rebuildOnReroute?: boolean;
  /** Read on each backoff: when the signal aborts, the backoff ends at once and backoffs start over (WAKE). */
  wake?: () => AbortSignal | undefined;
  /** Told before each backoff or rebuild, with the error and the delay the machine chose. */
  onRetry?: (notice: RetryNotice) => void;
  inspect?: Pick<InspectionBus, 'publish'>;
  /** Which loop retries: names the machine `retry:<kind>[:<detail>]` on the inspection bus. */
  kind?: RetryKind;
  detail?: string;
  /** Names the actor on the inspection bus (default: from kind and detail, else 'retry'). */
  id?: string;
  classify?: (err: unknown) => Classification;
  rerouteTimeoutMs?: number;
  /** false: start the machine before the first attempt (no fast path). */
  fastPath?: boolean;
}

export interface AttemptContext {
  attempt: number;
  /** Aborts when the run is aborted (or the attempt is abandoned): pass it to the I/O. */
  signal: AbortSignal;
}

const never = new AbortController().signal;
const noFirst = Symbol('no first failure');

export function runWithRetry<T>(fn: (ctx: AttemptContext) => Promise<T> | T, opts: RunWithRetryOptions): Promise<RetryResult<T>> {
  const outer = opts.signal;
  if (outer?.aborted) return Promise.resolve({ ok: false, outcome: 'aborted', attempts: 0, history: [] });
  if (opts.fastPath === false) return runMachine(fn, opts, noFirst, undefined);
  // The fast path: one plain call; the machine only if it fails. No closure is made per call here (a loader
  // that wraps each function, as tsx's does, would charge for it on every call).
  const startedAt = opts.clock.now();
  let pending: Promise<T> | T;
  try {
    pending = fn({ attempt: 1, signal: outer ?? never });
  } catch (err) {
    return firstFailed(fn, opts, err, startedAt);
  }
  if (!(pending instanceof Promise)) return Promise.resolve({ ok: true, value: pending, attempts: 1, history: [] });
  return outer ? settleOrAbort(pending, outer, fn, opts, startedAt) : settle(pending, fn, opts, startedAt);
}

type Attempt<T> = (ctx: AttemptContext) => Promise<T> | T;

function firstFailed<T>(fn: Attempt<T>, opts: RunWithRetryOptions, err: unknown, startedAt: number): Promise<RetryResult<T>> {
  if (opts.signal?.aborted) return Promise.resolve({ ok: false, outcome: 'aborted', attempts: 1, history: [] });
  return runMachine(fn, opts, err, startedAt);
}

// The success path settles with one await and no closure per call: bench/retry.ts measures it (~0.1 µs over a
// bare call without a signal, ~0.3 µs with one).
async function settle<T>(attempt: Promise<T>, fn: Attempt<T>, opts: RunWithRetryOptions, startedAt: number): Promise<RetryResult<T>> {
  try {
    return { ok: true, value: await attempt, attempts: 1, history: [] };
  } catch (err) {
    return firstFailed(fn, opts, err, startedAt);
  }
}

function settleOrAbort<T>(attempt: Promise<T>, signal: AbortSignal, fn: Attempt<T>, opts: RunWithRetryOptions, startedAt: number): Promise<RetryResult<T>> {
  return new Promise((resolve) => {
    // Abort ends the run at once, like the machine's ABORT (the attempt was given the signal and stops too).
    const off = onAbort(signal, () => {
      attempt.catch(() => undefined);
      resolve({ ok: false, outcome: 'aborted', attempts: 1, history: [] });
    });
    void settle(attempt, fn, opts, startedAt).then((result) => {
      off();
      resolve(result);
    });
  });
}

/**
 * One abort listener per signal, whatever the number of runs waiting on it: adding an EventTarget listener
 * (or racing a promise) per call would cost more than the rest of the fast path.
 */
const abortWaiters = new WeakMap<AbortSignal, Set<() => void>>();
function onAbort(signal: AbortSignal, cb: () => void): () => void {
  let set = abortWaiters.get(signal);
  if (!set) {
    const waiters = (set = new Set());
    abortWaiters.set(signal, waiters);
    signal.addEventListener('abort', () => {
      for (const f of waiters) f();
      waiters.clear();
    }, { once: true });
  }
  set.add(cb);
  return () => void set.delete(cb);
}

interface RunHooks {
  attempt(input: { attempt: number }, signal: AbortSignal): Promise<unknown>;
  rebuild(input: RerouteInput): Promise<void>;
}

/** The run each machine instance serves, by its actor system (one per root actor): the definitions are shared. */
const runs = new WeakMap<object, RunHooks>();

interface CachedMachine {
  classify: RunWithRetryOptions['classify'];
  random: RunWithRetryOptions['random'];
  rerouteTimeoutMs: number | undefined;
  machine: RetryMachine;
}
const machines = new WeakMap<Clock, CachedMachine[]>();

/**
 * Building a machine definition costs more than running it (~0.2 ms): one per clock, classifier, jitter
 * source and reroute time-out, at most a few per clock (callers that pass a fresh closure each run still work).
 */
function retryMachineFor(opts: RunWithRetryOptions): RetryMachine {
  const list = machines.get(opts.clock) ?? [];
  const hit = list.find((c) => c.classify === opts.classify && c.random === opts.random && c.rerouteTimeoutMs === opts.rerouteTimeoutMs);
  if (hit) return hit.machine;
  const machine = createRetryMachine({ clock: opts.clock, ...(opts.classify ? { classify: opts.classify } : {}), ...(opts.random ? { random: opts.random } : {}), ...(opts.rerouteTimeoutMs !== undefined ? { rerouteTimeoutMs: opts.rerouteTimeoutMs } : {}) }).provide({
    actors: {
      attempt: fromPromise<unknown, { attempt: number }>(({ input, system, signal }) => runs.get(system)!.attempt(input, signal)),
      rebuild: fromPromise<void, RerouteInput>(({ input, system }) => runs.get(system)!.rebuild(input)),
    },
  }) as RetryMachine;
  list.push({ classify: opts.classify, random: opts.random, rerouteTimeoutMs: opts.rerouteTimeoutMs, machine });
  if (list.length > 8) list.shift();
  machines.set(opts.clock, list);
  return machine;
}

function runMachine<T>(fn: (ctx: AttemptContext) => Promise<T> | T, opts: RunWithRetryOptions, first: unknown, startedAt: number | undefined): Promise<RetryResult<T>> {
  const outer = opts.signal;
  const errors: unknown[] = first === noFirst ? [] : [first];
  const machine = retryMachineFor(opts);
  const hooks: RunHooks = {
    async attempt(input, signal) {
      if (input.attempt === 1 && first !== noFirst) throw first; // the fast path's attempt, replayed
      try {
        return await fn({ attempt: input.attempt, signal: outer ? AbortSignal.any([signal, outer]) : signal });
      } catch (err) {
        errors.push(err);
        throw err;
      }
    },
    async rebuild(input) {
      await opts.onReroute?.(input);
    },
  };

  const id = opts.id ?? (opts.kind ? retryMachineId(opts.kind, opts.detail) : 'retry');
  const input = { ...(opts.policy ? { policy: opts.policy } : {}), ...(startedAt !== undefined ? { startedAt } : {}), ...(opts.rebuildOnReroute === false ? { rebuildOnReroute: false } : {}) };
  return new Promise((resolve) => {
    const actor = createMachineActor(machine, { clock: opts.clock, id, ...(opts.inspect ? { inspect: opts.inspect } : {}), input, start: false });
    runs.set(actor.system, hooks);
    const onAbort = () => actor.send({ type: 'ABORT', reason: String(outer?.reason ?? 'aborted') });
    let waking: { signal: AbortSignal; onWake: () => void } | null = null;
    const unwake = () => {
      waking?.signal.removeEventListener('abort', waking.onWake);
      waking = null;
    };
    let last: string | null = null;
    const finish = () => {
      sub.unsubscribe();
      unwake();
      outer?.removeEventListener('abort', onAbort);
    };
    const settle = (snap: SnapshotFrom<RetryMachine>) => {
      const state = String(snap.value);
      if (state !== last) {
        const from = last;
        last = state;
        if (from === 'backing-off') unwake();
        if (from === 'attempting' && (state === 'backing-off' || state === 'rerouting')) entered(snap, state);
      }
      if (snap.status !== 'done') return;
      finish();
      const out = snap.output!;
      if (out.outcome === 'succeeded') resolve({ ok: true, value: out.value as T, attempts: out.attempts, history: out.history });
      else resolve({ ok: false, outcome: out.outcome, attempts: out.attempts, history: out.history, ...(errors.length ? { error: errors[errors.length - 1] } : {}) });
    };
    const entered = (snap: SnapshotFrom<RetryMachine>, state: 'backing-off' | 'rerouting') => {
      const ctx = snap.context;
      const rec = ctx.history[ctx.history.length - 1];
      opts.onRetry?.({ error: errors[errors.length - 1], attempt: ctx.attempt, class: rec?.class ?? 'retry', delayMs: Math.max(0, (ctx.deadline ?? opts.clock.now()) - opts.clock.now()), next: state });
      const signal = state === 'backing-off' ? opts.wake?.() : undefined;
      if (!signal) return;
      const onWake = () => actor.send({ type: 'WAKE' });
      if (signal.aborted) return void queueMicrotask(onWake);
      waking = { signal, onWake };
      signal.addEventListener('abort', onWake, { once: true });
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
