// The rejection a caller sees while a breaker is open (or forced open, or out of half-open probe slots).
// Retriable by classification ('retry'), but callers should pause the work rather than burn retries on it.
import { classify } from '../../lib/classify.ts';
import { ErrorCodes, TagstreamError, isAbortError } from '../../lib/errors.ts';
import type { BreakerState } from './machine.ts';

export class BreakerOpenError extends TagstreamError {
  readonly breaker: string;
  readonly state: BreakerState;
  /** When the breaker will let probes through again (absolute clock time), if known. */
  readonly retryAt: number | null;

  constructor(breaker: string, state: BreakerState, retryAt: number | null) {
    super(ErrorCodes.BREAKER_OPEN, `breaker "${breaker}" is ${state}`, { retriable: true, details: { breaker, state, retryAt } });
    this.name = 'BreakerOpenError';
    this.breaker = breaker;
    this.state = state;
    this.retryAt = retryAt;
  }
}

/**
 * The rejection as the breaker raises it: without a stack trace. During an outage rejections come at the
 * rate calls come, capturing a stack costs several times the rest of the rejection, and the error already
 * says where it comes from (the breaker's name and state).
 */
export function createOpenError(breaker: string, state: BreakerState, retryAt: number | null): BreakerOpenError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new BreakerOpenError(breaker, state, retryAt);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export function isBreakerOpenError(err: unknown): err is BreakerOpenError {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === ErrorCodes.BREAKER_OPEN;
}

/** What a failed call means for the dependency: 'failure' counts against it, 'ignore' does not count at all. */
export type ErrorVerdict = 'failure' | 'ignore';
export type ErrorFilter = (err: unknown) => ErrorVerdict;

/**
 * Default filter: a poison error (a bad request: constraint violation, ES 400, WRONGTYPE…) says nothing about
 * the dependency's health, and a call aborted by our own shutdown neither; everything else is a failure.
 */
export const defaultErrorFilter: ErrorFilter = (err) => {
  if (isAbortError(err)) return 'ignore';
  return classify(err).class === 'poison' ? 'ignore' : 'failure';
};
