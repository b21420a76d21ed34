// One data-driven classifier for every backend's errors: retry | reroute | poison | fatal.
// It matches on codes and names (not instanceof), so it needs no driver types.

export type ErrorClass = 'retry' | 'reroute' | 'poison' | 'fatal';

export interface Classification {
  class: ErrorClass;
  /** Where the decision came from, e.g. `pg:40001`, `es:429`, `node:ECONNREFUSED`. */
  source: string;
}

// PostgreSQL SQLSTATE: exact codes first, then two-character classes.
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

// Redis reply prefixes.
const REDIS_REPLY: Record<string, ErrorClass> = {
  LOADING: 'retry',
  BUSY: 'retry',
  TRYAGAIN: 'retry',
  CLUSTERDOWN: 'retry',
  MASTERDOWN: 'retry',
  READONLY: 'reroute',
  MOVED: 'reroute',
  ASK: 'reroute',
  WRONGTYPE: 'poison',
  NOSCRIPT: 'retry',
  OOM: 'retry',
  NOAUTH: 'fatal',
  WRONGPASS: 'fatal',
  NOPERM: 'fatal',
  ERR: 'poison',
};

// Elasticsearch HTTP statuses.
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

// Node socket errors (every driver surfaces them).
const NODE_CODES: Record<string, ErrorClass> = {
  ECONNREFUSED: 'retry',
  ECONNRESET: 'retry',
  EPIPE: 'retry',
  ETIMEDOUT: 'retry',
  EHOSTUNREACH: 'retry',
  ENETUNREACH: 'retry',
  ENOTFOUND: 'retry',
  EAI_AGAIN: 'retry',
  ECONNABORTED: 'retry',
};

// kafkajs error names and protocol types.
const KAFKA_NAMES: Record<string, ErrorClass> = {
  KafkaJSConnectionError: 'retry',
  KafkaJSRequestTimeoutError: 'retry',
  KafkaJSNumberOfRetriesExceeded: 'retry',
  KafkaJSBrokerNotFound: 'retry',
  KafkaJSLockTimeout: 'retry',
  KafkaJSNonRetriableError: 'fatal',
  KafkaJSInvalidVarIntError: 'poison',
  KafkaJSInvalidLongError: 'poison',
};
const KAFKA_TYPES: Record<string, ErrorClass> = {
  NOT_LEADER_FOR_PARTITION: 'reroute',
  NOT_LEADER_OR_FOLLOWER: 'reroute',
  LEADER_NOT_AVAILABLE: 'reroute',
  UNKNOWN_TOPIC_OR_PARTITION: 'retry',
  REQUEST_TIMED_OUT: 'retry',
  NOT_ENOUGH_REPLICAS: 'retry',
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 'retry',
  NOT_COORDINATOR: 'reroute',
  COORDINATOR_NOT_AVAILABLE: 'retry',
  COORDINATOR_LOAD_IN_PROGRESS: 'retry',
  REBALANCE_IN_PROGRESS: 'retry',
  MESSAGE_TOO_LARGE: 'poison',
  RECORD_LIST_TOO_LARGE: 'poison',
  INVALID_RECORD: 'poison',
  CORRUPT_MESSAGE: 'poison',
  TOPIC_AUTHORIZATION_FAILED: 'fatal',
  GROUP_AUTHORIZATION_FAILED: 'fatal',
  SASL_AUTHENTICATION_FAILED: 'fatal',
};

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

const SOCKET_MESSAGES: Array<[RegExp, ErrorClass]> = [
  [/connection terminated|server closed the connection|Connection is closed|socket hang up|terminating connection/i, 'retry'],
  // ioredis with the offline queue off, while (re)connecting: the server is unreachable right now.
  [/Stream isn't writeable/i, 'retry'],
  // The drivers' own timeouts, by their exact words (pg, pg-pool, ioredis). Any other error that merely mentions
  // a timeout is unknown, and unknown errors are not retried (contract 8).
  [/^(Query read timeout|Connection terminated due to connection timeout|timeout exceeded when trying to connect|timeout expired|Command timed out)$/, 'retry'],
];

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  type?: unknown;
  message?: unknown;
  retriable?: unknown;
  statusCode?: unknown;
  meta?: { statusCode?: unknown };
  cause?: unknown;
}

export function classify(err: unknown, depth = 0): Classification {
  if (!err || typeof err !== 'object') return { class: 'fatal', source: 'unknown:non-error' };
  const e = err as ErrorShape;
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : typeof e.code === 'number' ? String(e.code) : '';
  const message = typeof e.message === 'string' ? e.message : '';

  if (name === 'AbortError') return { class: 'fatal', source: 'abort' };
  if (code in OWN_CODES) return { class: OWN_CODES[code]!, source: `tagstream:${code}` };

  // PostgreSQL: five-character SQLSTATE.
  if (/^[0-9A-Z]{5}$/.test(code)) {
    if (code in PG_EXACT) return { class: PG_EXACT[code]!, source: `pg:${code}` };
    const cls = code.slice(0, 2);
    if (cls in PG_CLASS) return { class: PG_CLASS[cls]!, source: `pg:${code}` };
  }
  if (code in NODE_CODES) return { class: NODE_CODES[code]!, source: `node:${code}` };

  // Elasticsearch: ResponseError carries meta.statusCode; transport errors have names.
  const status = typeof e.meta?.statusCode === 'number' ? e.meta.statusCode : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined && name !== 'ReplyError') {
    if (status in ES_STATUS) return { class: ES_STATUS[status]!, source: `es:${status}` };
    if (status >= 500) return { class: 'retry', source: `es:${status}` };
    if (status >= 400) return { class: 'poison', source: `es:${status}` };
  }
  if (name === 'ConnectionError' || name === 'TimeoutError' || name === 'NoLivingConnectionsError') return { class: 'retry', source: `es:${name}` };
  if (name === 'SerializationError' || name === 'DeserializationError') return { class: 'poison', source: `es:${name}` };

  // Redis: ReplyError message starts with the reply prefix.
  if (name === 'ReplyError' || name === 'RedisReplyError') {
    const prefix = message.split(/\s/, 1)[0] ?? '';
    if (prefix in REDIS_REPLY) return { class: REDIS_REPLY[prefix]!, source: `redis:${prefix}` };
    return { class: 'poison', source: 'redis:reply' };
  }
  if (name === 'MaxRetriesPerRequestError') return { class: 'retry', source: 'redis:max-retries' };

  // kafkajs
  const type = typeof e.type === 'string' ? e.type : '';
  if (type in KAFKA_TYPES) return { class: KAFKA_TYPES[type]!, source: `kafka:${type}` };
  // kafkajs throws KafkaJSNonRetriableError to mean "stop retrying here" when an inner retrier gave up,
  // with the real error (e.g. a KafkaJSConnectionError while the broker is down) as cause: judge that.
  if (name === 'KafkaJSNonRetriableError' && e.cause && depth < 4) {
    const inner = classify(e.cause, depth + 1);
    if (!inner.source.startsWith('unknown')) return inner;
  }
  if (name in KAFKA_NAMES) return { class: KAFKA_NAMES[name]!, source: `kafka:${name}` };
  if (name.startsWith('KafkaJS')) return { class: e.retriable === true ? 'retry' : 'fatal', source: `kafka:${name}` };

  for (const [re, cls] of SOCKET_MESSAGES) if (re.test(message)) return { class: cls, source: 'message' };

  // An error wrapping another (our TagstreamError with cause, AggregateError…) is classified by its cause.
  if (e.cause && depth < 4) {
    const inner = classify(e.cause, depth + 1);
    if (!inner.source.startsWith('unknown')) return inner;
  }
  if (typeof e.retriable === 'boolean') return { class: e.retriable ? 'retry' : 'fatal', source: 'retriable-flag' };
  // Unknown errors are fatal: never retried forever.
  return { class: 'fatal', source: `unknown:${name || 'Error'}` };
}
