// PostgreSQL's vocabulary (SQLSTATEs, pg and pg-pool messages) and the converter both shard stores, the
// cluster control and the usage store put on their boundary. PGlite raises the same SQLSTATEs.
import type { Classification, ErrorClass } from '../../lib/classify.ts';
import { errorConverter, type DriverErrorFields } from '../driver-errors.ts';
import { socketErrors } from '../socket-errors.ts';

// SQLSTATE: exact codes first, then two-character classes.
const PG_EXACT: Record<string, ErrorClass> = {
  '40001': 'retry', // serialization_failure
  '40P01': 'retry', // deadlock_detected
  '55P03': 'retry', // lock_not_available
  '57014': 'retry', // query_canceled (statement timeout)
  '57P01': 'reroute', // admin_shutdown: the server is going away
  '57P02': 'reroute', // crash_shutdown
  '57P03': 'retry', // cannot_connect_now (starting up / recovering)
  '25006': 'reroute', // read_only_sql_transaction: a demoted primary or a replica
  '53300': 'retry', // too_many_connections
  '53200': 'retry', // out_of_memory
  '53100': 'retry', // disk_full: transient from our point of view, humans are alerted by the breaker
  '42P01': 'fatal', // undefined_table: our migration did not run
  '3D000': 'fatal', // invalid_catalog_name
  '28P01': 'fatal', // invalid_password
  '28000': 'fatal', // invalid_authorization_specification
};
const PG_CLASS: Record<string, ErrorClass> = {
  '08': 'retry', // connection exception
  '22': 'poison', // data exception
  '23': 'poison', // integrity constraint violation
  // Syntax error or access rule violation: our SQL or our grants, never the input (parameters are bound). A batch
  // bisected into the DLQ for a revoked privilege (42501) would dead-letter every command: stop and alert instead.
  '42': 'fatal',
  '40': 'retry', // transaction rollback
  '53': 'retry', // insufficient resources
  '57': 'retry', // operator intervention
  '58': 'retry', // system error (I/O)
  XX: 'fatal', // internal error
};

const MESSAGES: Array<[RegExp, ErrorClass, string]> = [
  // The connection went away under a query (pg's and the server's words; no SQLSTATE on the client's side).
  [/connection terminated|server closed the connection|terminating connection/i, 'retry', 'pg:connection-lost'],
  // The drivers' own timeouts, by their exact words (pg, pg-pool). Any other error that merely mentions a
  // timeout is unknown, and unknown errors are not retried (contract 8).
  [/^(Query read timeout|Connection terminated due to connection timeout|timeout exceeded when trying to connect|timeout expired)$/, 'retry', 'pg:timeout'],
];

export function pgErrors(e: DriverErrorFields): Classification | null {
  const code = e.code;
  if (/^[0-9A-Z]{5}$/.test(code)) {
    if (code in PG_EXACT) return { class: PG_EXACT[code]!, source: `pg:${code}` };
    const cls = code.slice(0, 2);
    if (cls in PG_CLASS) return { class: PG_CLASS[cls]!, source: `pg:${code}` };
  }
  for (const [re, cls, source] of MESSAGES) if (re.test(e.message)) return { class: cls, source };
  return null;
}

/** pg, pg-pool and PGlite errors (and the sockets under them) → BackendError; others unchanged. */
export const toPgError = errorConverter(pgErrors, socketErrors);
