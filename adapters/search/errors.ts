// Elasticsearch's vocabulary (HTTP statuses of ResponseError, the transport's error names) and the converter
// both search indexes put on their boundary.
import type { Classification, ErrorClass } from '../../lib/classify.ts';
import { BackendError } from '../../lib/errors.ts';
import { classifiedBy, type DriverErrorFields } from '../driver-errors.ts';
import { socketErrors } from '../socket-errors.ts';
import type { BulkItemResult } from './port.ts';

const ES_STATUS: Record<number, ErrorClass> = {
  400: 'poison',
  401: 'fatal',
  403: 'fatal',
  404: 'poison',
  409: 'poison', // version conflict: an older command after a newer one; nothing to do
  413: 'poison',
  429: 'retry',
  500: 'retry',
  502: 'retry',
  503: 'retry',
  504: 'retry',
};

/** The verdict on an HTTP status from Elasticsearch (a whole request's or one bulk item's). */
export function statusVerdict(status: number): Classification | null {
  if (status in ES_STATUS) return { class: ES_STATUS[status]!, source: `es:${status}` };
  if (status >= 500) return { class: 'retry', source: `es:${status}` };
  if (status >= 400) return { class: 'poison', source: `es:${status}` };
  return null;
}

export function searchErrors(e: DriverErrorFields): Classification | null {
  // ResponseError carries meta.statusCode (a Redis ReplyError may carry a status too: not ours).
  if (e.status !== undefined && e.name !== 'ReplyError') {
    const c = statusVerdict(e.status);
    if (c) return c;
  }
  if (e.name === 'ConnectionError' || e.name === 'TimeoutError' || e.name === 'NoLivingConnectionsError') return { class: 'retry', source: `es:${e.name}` };
  if (e.name === 'SerializationError' || e.name === 'DeserializationError') return { class: 'poison', source: `es:${e.name}` };
  return null;
}

/**
 * A classified Elasticsearch error that still shows the response's `meta` (status, body) and `statusCode`, as the
 * client's ResponseError does: the degraded search route tells a missing index from a failing one by them
 * (features/indexing/degraded-search.ts isIndexMissing), and the HTTP layer answers a 4xx with its status.
 */
class SearchBackendError extends BackendError {
  declare readonly meta?: unknown;
  declare readonly statusCode?: number;
  constructor(verdict: Classification, original: unknown) {
    super(verdict, original);
    const o = original as { meta?: unknown; statusCode?: unknown } | null;
    if (o?.meta !== undefined) Object.defineProperty(this, 'meta', { value: o.meta, enumerable: true });
    if (typeof o?.statusCode === 'number') Object.defineProperty(this, 'statusCode', { value: o.statusCode, enumerable: true });
  }
}

/** @elastic/elasticsearch errors (and the sockets under them) → BackendError; others unchanged. */
export const toSearchError = classifiedBy([searchErrors, socketErrors], (c, err) => new SearchBackendError(c, err));

/** One failed bulk item as a classified error (its status decides), for whoever turns bulk results into errors. */
export function bulkItemError(r: Extract<BulkItemResult, { status: 'error' }>): BackendError {
  const original = Object.assign(new Error(`${r.type}: ${r.reason}`), { name: 'BulkItemError', type: r.type, meta: { statusCode: r.httpStatus } });
  return new BackendError(statusVerdict(r.httpStatus) ?? { class: 'fatal', source: `es:${r.httpStatus}` }, original);
}
