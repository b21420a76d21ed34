// Kafka's vocabulary (kafkajs error names, protocol error types) and the converter both command logs put on
// their boundary.
import type { Classification, ErrorClass } from '../../lib/classify.ts';
import { errorConverter, fieldsOf, type DriverErrorFields } from '../driver-errors.ts';
import { socketErrors } from '../socket-errors.ts';

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
  CLUSTER_AUTHORIZATION_FAILED: 'fatal',
  SASL_AUTHENTICATION_FAILED: 'fatal',
};

export function kafkaErrors(e: DriverErrorFields, depth = 0): Classification | null {
  if (e.type in KAFKA_TYPES) return { class: KAFKA_TYPES[e.type]!, source: `kafka:${e.type}` };
  // kafkajs throws KafkaJSNonRetriableError to mean "stop retrying here" when an inner retrier gave up, with the
  // real error (e.g. a KafkaJSConnectionError while the broker is down) as cause: judge that.
  if (e.name === 'KafkaJSNonRetriableError' && e.cause && typeof e.cause === 'object' && depth < 4) {
    const f = fieldsOf(e.cause);
    const inner = kafkaErrors(f, depth + 1) ?? socketErrors(f);
    if (inner) return inner;
  }
  // kafkajs raises a refused SASL handshake as its own error name, not as the protocol type: an operator's.
  if (e.name === 'KafkaJSSASLAuthenticationError') return { class: 'fatal', source: 'kafka:SASL_AUTHENTICATION_FAILED' };
  if (e.name in KAFKA_NAMES) return { class: KAFKA_NAMES[e.name]!, source: `kafka:${e.name}` };
  if (e.name.startsWith('KafkaJS')) return { class: e.retriable === true ? 'retry' : 'fatal', source: `kafka:${e.name}` };
  return null;
}

/** kafkajs errors (and the sockets under them) → BackendError; others unchanged. */
export const toKafkaError = errorConverter((e) => kafkaErrors(e), socketErrors);
