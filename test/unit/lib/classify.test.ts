import { describe, expect, it } from 'vitest';
import { classify, type ErrorClass } from '../../../lib/classify.ts';
import { ErrorCodes, TagstreamError } from '../../../lib/errors.ts';

function err(fields: Record<string, unknown>): Error {
  return Object.assign(new Error(String(fields.message ?? 'x')), fields);
}

const table: Array<[string, unknown, ErrorClass]> = [
  // PostgreSQL SQLSTATEs
  ['pg connection failure 08006', err({ code: '08006' }), 'retry'],
  ['pg connection does not exist 08003', err({ code: '08003' }), 'retry'],
  ['pg serialization failure 40001', err({ code: '40001' }), 'retry'],
  ['pg deadlock 40P01', err({ code: '40P01' }), 'retry'],
  ['pg read-only transaction (demoted primary) 25006', err({ code: '25006' }), 'reroute'],
  ['pg admin shutdown 57P01', err({ code: '57P01' }), 'reroute'],
  ['pg cannot connect now 57P03', err({ code: '57P03' }), 'retry'],
  ['pg statement timeout 57014', err({ code: '57014' }), 'retry'],
  ['pg invalid text representation 22P02', err({ code: '22P02' }), 'poison'],
  ['pg string too long 22001', err({ code: '22001' }), 'poison'],
  ['pg unique violation 23505', err({ code: '23505' }), 'poison'],
  ['pg undefined table 42P01', err({ code: '42P01' }), 'fatal'],
  ['pg bad password 28P01', err({ code: '28P01' }), 'fatal'],
  // A revoked privilege is no fault of the batch: bisecting it into the DLQ would dead-letter every command.
  ['pg insufficient privilege 42501', err({ code: '42501' }), 'fatal'],
  ['pg syntax error 42601 (our SQL, not the input: parameters are bound)', err({ code: '42601' }), 'fatal'],
  ['pg query_timeout of node-postgres', err({ message: 'Query read timeout' }), 'retry'],
  ['pg connect timeout of node-postgres', err({ message: 'Connection terminated due to connection timeout' }), 'retry'],
  ['pg-pool connect timeout', err({ message: 'timeout exceeded when trying to connect' }), 'retry'],
  ['pg internal error XX000', err({ code: 'XX000' }), 'fatal'],
  ['pg too many connections 53300', err({ code: '53300' }), 'retry'],
  // Redis replies
  ['redis LOADING', err({ name: 'ReplyError', message: 'LOADING Redis is loading the dataset in memory' }), 'retry'],
  ['redis READONLY', err({ name: 'ReplyError', message: "READONLY You can't write against a read only replica." }), 'reroute'],
  ['redis WRONGTYPE', err({ name: 'ReplyError', message: 'WRONGTYPE Operation against a key holding the wrong kind of value' }), 'poison'],
  ['redis NOAUTH', err({ name: 'ReplyError', message: 'NOAUTH Authentication required.' }), 'fatal'],
  ['redis connection refused', err({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:6379' }), 'retry'],
  ['redis command timed out', err({ message: 'Command timed out' }), 'retry'],
  ['redis offline queue disabled', err({ message: "Stream isn't writeable and enableOfflineQueue options is false" }), 'retry'],
  ['redis max retries', err({ name: 'MaxRetriesPerRequestError' }), 'retry'],
  // Elasticsearch statuses
  ['es 429', err({ name: 'ResponseError', meta: { statusCode: 429 } }), 'retry'],
  ['es 503', err({ name: 'ResponseError', meta: { statusCode: 503 } }), 'retry'],
  ['es 400 mapping', err({ name: 'ResponseError', meta: { statusCode: 400 } }), 'poison'],
  ['es 409 conflict', err({ name: 'ResponseError', meta: { statusCode: 409 } }), 'poison'],
  ['es 401', err({ name: 'ResponseError', meta: { statusCode: 401 } }), 'fatal'],
  ['es 507 unknown 5xx', err({ name: 'ResponseError', meta: { statusCode: 507 } }), 'retry'],
  ['es 418 unknown 4xx', err({ name: 'ResponseError', meta: { statusCode: 418 } }), 'poison'],
  ['es ConnectionError', err({ name: 'ConnectionError' }), 'retry'],
  ['es TimeoutError', err({ name: 'TimeoutError' }), 'retry'],
  ['es NoLivingConnectionsError', err({ name: 'NoLivingConnectionsError' }), 'retry'],
  // Kafka
  ['kafka connection error', err({ name: 'KafkaJSConnectionError', retriable: true }), 'retry'],
  ['kafka request timeout', err({ name: 'KafkaJSRequestTimeoutError' }), 'retry'],
  ['kafka not leader', err({ name: 'KafkaJSProtocolError', type: 'NOT_LEADER_OR_FOLLOWER', retriable: true }), 'reroute'],
  ['kafka message too large', err({ name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false }), 'poison'],
  ['kafka topic auth failed', err({ name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED' }), 'fatal'],
  ['kafka unknown retriable', err({ name: 'KafkaJSSomethingNew', retriable: true }), 'retry'],
  ['kafka unknown non-retriable', err({ name: 'KafkaJSSomethingNew', retriable: false }), 'fatal'],
  // Ours and the rest
  ['our invalid command', new TagstreamError(ErrorCodes.COMMAND_INVALID, 'bad'), 'poison'],
  ['our topology change', new TagstreamError(ErrorCodes.TOPOLOGY_CHANGED, 'moved'), 'reroute'],
  ['our timeout', new TagstreamError(ErrorCodes.TIMEOUT, 'slow'), 'retry'],
  ['wrapped pg error is classified by its cause', new Error('apply failed', { cause: err({ code: '40001' }) }), 'retry'],
  ['abort', Object.assign(new Error('aborted'), { name: 'AbortError' }), 'fatal'],
  ['unknown error is fatal, never retried forever', new Error('what is this'), 'fatal'],
  ['an unknown error that mentions a timeout is still unknown: fatal', new Error('the frobnicator timed out'), 'fatal'],
  ['an unknown error whose message says timeout is still unknown: fatal', new Error('lock timeout in some library'), 'fatal'],
  ['a thrown string', 'boom', 'fatal'],
  ['undefined', undefined, 'fatal'],
];

describe('classify', () => {
  it.each(table)('%s', (_name, error, expected) => {
    expect(classify(error).class).toBe(expected);
  });

  it('names where the decision came from', () => {
    expect(classify(err({ code: '40001' })).source).toBe('pg:40001');
    expect(classify(err({ name: 'ResponseError', meta: { statusCode: 429 } })).source).toBe('es:429');
    expect(classify(err({ name: 'ReplyError', message: 'READONLY x' })).source).toBe('redis:READONLY');
  });
});
