// How an adapter turns its driver's errors into the project's classified errors at its boundary: each driver's
// vocabulary (adapters/*/errors.ts) is a pure look-up from an error's fields to a verdict; errorConverter wraps a
// known error in a BackendError and passes every other error on unchanged (lib/classify: unknown → fatal).
import type { Classification } from '../lib/classify.ts';
import { BackendError, isBackendError } from '../lib/errors.ts';

/** The fields vocabularies read, normalised (absent ones are '' or undefined). */
export interface DriverErrorFields {
  name: string;
  /** String or numeric code, as a string. */
  code: string;
  message: string;
  /** kafkajs protocol error type. */
  type: string;
  retriable: boolean | undefined;
  /** HTTP status (Elasticsearch: meta.statusCode or statusCode). */
  status: number | undefined;
  cause: unknown;
}

/** One driver's vocabulary: its verdict on an error, or null when the error is not one of its own. */
export type Vocabulary = (e: DriverErrorFields) => Classification | null;

/** An Error stays an Error (a BackendError or itself); anything else is returned as it is. */
export interface ErrorConverter {
  (err: Error): Error;
  (err: unknown): unknown;
}

/** How deep a chain of causes is searched for a driver error (an error wrapping one wrapping one…). */
const MAX_DEPTH = 4;

export function fieldsOf(err: object): DriverErrorFields {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; type?: unknown; retriable?: unknown; statusCode?: unknown; meta?: { statusCode?: unknown } | null; cause?: unknown };
  const status = typeof e.meta?.statusCode === 'number' ? e.meta.statusCode : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  return {
    name: typeof e.name === 'string' ? e.name : '',
    code: typeof e.code === 'string' ? e.code : typeof e.code === 'number' ? String(e.code) : '',
    message: typeof e.message === 'string' ? e.message : '',
    type: typeof e.type === 'string' ? e.type : '',
    retriable: typeof e.retriable === 'boolean' ? e.retriable : undefined,
    status,
    cause: e.cause,
  };
}

/** The first verdict of `vocabularies` on `err` or on one of its causes; null when none knows it. */
export function verdictOf(err: unknown, vocabularies: readonly Vocabulary[]): Classification | null {
  let e: unknown = err;
  for (let depth = 0; depth <= MAX_DEPTH && e && typeof e === 'object'; depth++) {
    if (isBackendError(e)) return null; // already classified: lib/classify follows the cause to it
    const f = fieldsOf(e);
    if (isOurs(f)) return null;
    for (const v of vocabularies) {
      const c = v(f);
      if (c) return c;
    }
    e = f.cause;
  }
  return null;
}

/**
 * The converter of one adapter. Errors that are ours already (TS_ERR_* codes, BackendError, AbortError) and
 * errors no vocabulary knows pass unchanged: the adapter does not guess, and lib/classify makes unknown fatal.
 */
export function errorConverter(...vocabularies: Vocabulary[]): ErrorConverter {
  return classifiedBy(vocabularies, (c, err) => new BackendError(c, err));
}

/** A converter that builds its adapter's own BackendError (e.g. one that keeps more of the driver's error). */
export function classifiedBy(vocabularies: readonly Vocabulary[], build: (c: Classification, err: object) => BackendError): ErrorConverter {
  function convert(err: Error): Error;
  function convert(err: unknown): unknown;
  function convert(err: unknown): unknown {
    if (!err || typeof err !== 'object' || isBackendError(err)) return err;
    const c = verdictOf(err, vocabularies);
    return c ? build(c, err) : err;
  }
  return convert;
}

/** Settles like `p`, its rejection converted. */
export function converting<T>(p: Promise<T>, convert: ErrorConverter): Promise<T> {
  return p.then(undefined, (err: unknown) => Promise.reject(convert(err)));
}

function isOurs(f: DriverErrorFields): boolean {
  return f.name === 'AbortError' || f.code.startsWith('TS_ERR_');
}
