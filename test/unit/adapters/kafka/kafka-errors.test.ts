// The command log's boundary (toKafkaError): kafkajs names and protocol types → the project's classes.
import { describe, expect, it } from 'vitest';
import { toKafkaError } from '../../../../adapters/kafka/errors.ts';
import { classify, type ErrorClass } from '../../../../lib/classify.ts';

function err(fields: Record<string, unknown>): Error {
  return Object.assign(new Error(String(fields.message ?? 'x')), fields);
}

const table: Array<[string, unknown, ErrorClass]> = [
  ['connection error', err({ name: 'KafkaJSConnectionError', retriable: true }), 'retry'],
  ['request timeout', err({ name: 'KafkaJSRequestTimeoutError' }), 'retry'],
  ['not leader', err({ name: 'KafkaJSProtocolError', type: 'NOT_LEADER_OR_FOLLOWER', retriable: true }), 'reroute'],
  ['rebalance in progress', err({ name: 'KafkaJSError', type: 'REBALANCE_IN_PROGRESS', retriable: true }), 'retry'],
  ['unknown topic', err({ name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true }), 'retry'],
  ['message too large', err({ name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false }), 'poison'],
  ['topic auth failed', err({ name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED' }), 'fatal'],
  ['an unlisted kafkajs error, retriable', err({ name: 'KafkaJSSomethingNew', retriable: true }), 'retry'],
  ['an unlisted kafkajs error, not retriable', err({ name: 'KafkaJSSomethingNew', retriable: false }), 'fatal'],
  ['non-retriable wrapping a connection error: judged by the cause', Object.assign(err({ name: 'KafkaJSNonRetriableError' }), { cause: err({ name: 'KafkaJSConnectionError' }) }), 'retry'],
  ['non-retriable wrapping a socket error', Object.assign(err({ name: 'KafkaJSNonRetriableError' }), { cause: err({ code: 'ECONNRESET' }) }), 'retry'],
  ['non-retriable wrapping something unknown', Object.assign(err({ name: 'KafkaJSNonRetriableError' }), { cause: new TypeError('x') }), 'fatal'],
  ['a socket error under the client', err({ code: 'ECONNREFUSED' }), 'retry'],
  ['an error kafkajs does not raise: unknown, fatal', new Error('what is this'), 'fatal'],
];

describe('kafkajs errors classify at the boundary', () => {
  it.each(table)('%s', (_name, error, expected) => {
    expect(classify(toKafkaError(error)).class).toBe(expected);
  });

  it('names the type or the error', () => {
    expect(classify(toKafkaError(err({ name: 'KafkaJSProtocolError', type: 'NOT_LEADER_OR_FOLLOWER' })))).toEqual({ class: 'reroute', source: 'kafka:NOT_LEADER_OR_FOLLOWER' });
    expect(classify(toKafkaError(err({ name: 'KafkaJSConnectionError' })))).toEqual({ class: 'retry', source: 'kafka:KafkaJSConnectionError' });
  });
});
