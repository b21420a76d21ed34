// One write of a sink, retried: the retry machine runs the target's write through the breaker. Items that
// succeed leave; items that fail transiently are written again after the backoff (3 retries by default);
// poison items leave at once. A request that fails as a whole is the dependency's problem, not the items':
// the items are "held" (re-delivered later, no DLQ) — except a whole-request poison answer, which is bisected
// to find the item that causes it. An open breaker ends the run at once instead of burning retries.
import { isBreakerOpenError, runWithRetry, type Breaker, type InspectionBus, type RetryPolicy } from '../../machines/index.ts';
import { classify, type Classification, type ErrorClass } from '../../lib/classify.ts';
import type { Clock } from '../../lib/clock.ts';
import { ErrorCodes, errorMessage } from '../../lib/errors.ts';
import type { SinkTarget } from './target.ts';

export type WriteOutcome =
  | { kind: 'written' }
  | { kind: 'stale' }
  | { kind: 'failed'; errorClass: ErrorClass; code: string; message: string; attempts: number; firstFailureAt: number; lastFailureAt: number }
  /** Not written because the dependency is unavailable (breaker open, request failures): deliver it again later. */
  | { kind: 'held'; reason: string }
  /** The entry stopped being live (its consumer generation ended): nobody waits for it. */
  | { kind: 'dropped' };

export interface WriteEntry<I> {
  payload: I;
  live?: () => boolean;
}

export interface WriteDeps<I> {
  target: SinkTarget<I>;
  breaker: Breaker;
  clock: Clock;
  policy: RetryPolicy;
  random?: () => number;
  signal?: AbortSignal;
  inspect?: Pick<InspectionBus, 'publish'>;
  /** Called before each retry with the class of the failure that caused it. */
  onRetry?: (cls: ErrorClass) => void;
}

export interface WriteResult {
  outcomes: WriteOutcome[];
  /** A fatal (unknown) whole-request error: the caller should crash so its supervisor restarts it. */
  fatal?: unknown;
}

/** Some items failed transiently: the retry machine retries the run (classified 'retry' by its flag). */
export class ItemsFailedError extends Error {
  readonly retriable = true;
  constructor(
    readonly count: number,
    readonly first: unknown,
  ) {
    super(`${count} item(s) failed transiently, first: ${errorMessage(first)}`);
    this.name = 'ItemsFailedError';
  }
}

function sinkClassify(err: unknown): Classification {
  if (isBreakerOpenError(err)) return { class: 'fatal', source: 'breaker-open' }; // stop now: the sink pauses
  if (err instanceof ItemsFailedError) return { class: 'retry', source: 'items' };
  return classify(err);
}

/** The DLQ's x-error-code: a stable code when the error has one, else the classifier's source. */
export function errorCode(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; type?: unknown };
  if (typeof e.code === 'string' && e.code) return e.code;
  if (typeof e.type === 'string' && e.type) return e.type;
  return classify(err).source;
}

interface Failure {
  first: number;
  last: number;
  attempts: number;
  error: unknown;
}

export async function writeWithRetry<I>(entries: Array<WriteEntry<I>>, deps: WriteDeps<I>): Promise<WriteResult> {
  const outcomes: Array<WriteOutcome | undefined> = new Array(entries.length);
  const failures = new Map<number, Failure>();
  let pending = entries.map((_, i) => i);
  const noteFailure = (i: number, error: unknown, at: number, attempt: number) => {
    const f = failures.get(i);
    failures.set(i, { first: f?.first ?? at, last: at, attempts: attempt, error });
  };
  const failed = (i: number, cls: ErrorClass, code?: string): WriteOutcome => {
    const f = failures.get(i)!;
    return { kind: 'failed', errorClass: cls, code: code ?? errorCode(f.error), message: errorMessage(f.error), attempts: f.attempts, firstFailureAt: f.first, lastFailureAt: f.last };
  };

  const result = await runWithRetry(
    async ({ attempt, signal }) => {
      if (attempt > 1) deps.onRetry?.(sinkClassify(failures.get(pending[0]!)?.error).class);
      pending = pending.filter((i) => {
        if (entries[i]!.live?.() !== false) return true;
        outcomes[i] = { kind: 'dropped' };
        return false;
      });
      if (pending.length === 0) return;
      let results;
      try {
        results = await deps.breaker.call(() => deps.target.write(pending.map((i) => entries[i]!.payload), signal));
      } catch (err) {
        for (const i of pending) noteFailure(i, err, deps.clock.now(), attempt);
        throw err;
      }
      const now = deps.clock.now();
      const again: number[] = [];
      pending.forEach((i, k) => {
        const r = results[k] ?? { status: 'error' as const, error: new Error('the write returned no result for this item') };
        if (r.status === 'ok') outcomes[i] = { kind: 'written' };
        else if (r.status === 'stale') outcomes[i] = { kind: 'stale' };
        else {
          noteFailure(i, r.error, now, attempt);
          const cls = classify(r.error).class;
          if (cls === 'retry' || cls === 'reroute') again.push(i);
          else outcomes[i] = failed(i, cls);
        }
      });
      pending = again;
      if (again.length > 0) throw new ItemsFailedError(again.length, failures.get(again[0]!)!.error);
    },
    { policy: deps.policy, clock: deps.clock, classify: sinkClassify, kind: 'sink-write', detail: deps.target.name, ...(deps.signal ? { signal: deps.signal } : {}), ...(deps.random ? { random: deps.random } : {}), ...(deps.inspect ? { inspect: deps.inspect } : {}) },
  );

  let fatal: unknown;
  if (!result.ok && pending.length > 0) {
    const err = result.error;
    if (err instanceof ItemsFailedError && result.outcome === 'exhausted') {
      for (const i of pending) outcomes[i] = failed(i, 'retry', ErrorCodes.RETRIES_EXHAUSTED);
    } else if (result.outcome === 'poison' && !(err instanceof ItemsFailedError)) {
      if (pending.length === 1) outcomes[pending[0]!] = failed(pending[0]!, 'poison');
      else {
        // The whole request was refused as bad: split it to find the item(s) responsible.
        const mid = Math.ceil(pending.length / 2);
        for (const half of [pending.slice(0, mid), pending.slice(mid)]) {
          const sub = await writeWithRetry(
            half.map((i) => entries[i]!),
            deps,
          );
          half.forEach((i, k) => (outcomes[i] = sub.outcomes[k]));
          fatal ??= sub.fatal;
        }
      }
    } else {
      const reason = isBreakerOpenError(err) ? `breaker ${deps.target.name} is open` : result.outcome === 'aborted' ? 'aborted' : `${deps.target.name} unavailable (${result.outcome}): ${errorMessage(err)}`;
      for (const i of pending) outcomes[i] ??= { kind: 'held', reason };
      if (result.outcome === 'fatal' && !isBreakerOpenError(err)) fatal = err;
    }
  }
  return { outcomes: outcomes.map((o) => o ?? { kind: 'held', reason: 'not attempted' }), ...(fatal !== undefined ? { fatal } : {}) };
}
