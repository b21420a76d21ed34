// The project's error policy: retry | reroute | poison | fatal. It knows our own codes (TS_ERR_*) and the
// verdicts adapters put on their drivers' errors at their boundary (BackendError: adapters/*/errors.ts hold the
// SQLSTATEs, errnos, Redis replies, Elasticsearch statuses and kafkajs types). Anything else is unknown: fatal.
import { isBackendError } from './errors.ts';

export type ErrorClass = 'retry' | 'reroute' | 'poison' | 'fatal';

export interface Classification {
  class: ErrorClass;
  /** Where the decision came from, e.g. `tagstream:TS_ERR_TIMEOUT`, or an adapter's `pg:40001`, `es:429`. */
  source: string;
}

const CLASSES: ReadonlySet<string> = new Set<ErrorClass>(['retry', 'reroute', 'poison', 'fatal']);

// Our own codes.
const OWN_CODES: Record<string, ErrorClass> = {
  TS_ERR_COMMAND_INVALID: 'poison',
  TS_ERR_COMMAND_TOO_LARGE: 'poison',
  TS_ERR_COMMAND_UNKNOWN_OP: 'poison',
  TS_ERR_TOPOLOGY_CHANGED: 'reroute',
  TS_ERR_FENCED: 'reroute',
  TS_ERR_TIMEOUT: 'retry',
  TS_ERR_BREAKER_OPEN: 'retry',
  TS_ERR_MAILBOX_FULL: 'retry',
  TS_ERR_CONFIG_INVALID: 'fatal',
};

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  retriable?: unknown;
  meta?: { statusCode?: unknown };
  cause?: unknown;
}

/** How deep a chain of causes is followed (an error wrapping an error wrapping a classified one). */
const MAX_DEPTH = 4;

export function classify(err: unknown, depth = 0): Classification {
  if (!err || typeof err !== 'object') return { class: 'fatal', source: 'unknown:non-error' };
  const e = err as ErrorShape;
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';

  if (name === 'AbortError') return { class: 'fatal', source: 'abort' };
  if (code in OWN_CODES) return { class: OWN_CODES[code]!, source: `tagstream:${code}` };
  if (isBackendError(err) && CLASSES.has(err.class)) return { class: err.class, source: err.source };
  const item = sinkItem(e, name);
  if (item) return item;

  // An error wrapping another (our TagstreamError with cause, AggregateError…) is classified by its cause.
  if (e.cause && depth < MAX_DEPTH) {
    const inner = classify(e.cause, depth + 1);
    if (!inner.source.startsWith('unknown')) return inner;
  }
  if (typeof e.retriable === 'boolean') return { class: e.retriable ? 'retry' : 'fatal', source: 'retriable-flag' };
  // Unknown errors are fatal: never retried forever (contract 8), whatever their message says.
  return { class: 'fatal', source: `unknown:${name || 'Error'}` };
}

/**
 * A sink target's per-item failure (actors/sink/target.ts ItemError) carries the HTTP status of that item:
 * throttled or failed on the server → retry, refused credentials → fatal, any other 4xx is the item's fault.
 * Transitional: the search adapter classifies its items itself (adapters/search/errors.ts bulkItemError);
 * once the sink target passes that error on, this rule goes.
 */
function sinkItem(e: ErrorShape, name: string): Classification | null {
  const status = e.meta?.statusCode;
  if (name !== 'ItemError' || typeof status !== 'number') return null;
  const source = `item:${status}`;
  if (status === 429 || status >= 500) return { class: 'retry', source };
  if (status === 401 || status === 403) return { class: 'fatal', source };
  if (status >= 400) return { class: 'poison', source };
  return null;
}
