// The shard stores' boundary (toPgError): SQLSTATEs and the pg/pg-pool messages → the project's classes.
import { describe, expect, it } from 'vitest';
import { toPgError } from '../../../../adapters/pg/errors.ts';
import { classify, type ErrorClass } from '../../../../lib/classify.ts';
import { TopologyChangedError } from '../../../../lib/errors.ts';

function err(fields: Record<string, unknown>): Error {
  return Object.assign(new Error(String(fields.message ?? 'x')), fields);
}

const table: Array<[string, unknown, ErrorClass]> = [
  ['connection failure 08006', err({ code: '08006' }), 'retry'],
  ['connection does not exist 08003', err({ code: '08003' }), 'retry'],
  ['serialization failure 40001', err({ code: '40001' }), 'retry'],
  ['deadlock 40P01', err({ code: '40P01' }), 'retry'],
  ['read-only transaction (demoted primary) 25006', err({ code: '25006' }), 'reroute'],
  ['admin shutdown 57P01', err({ code: '57P01' }), 'reroute'],
  ['cannot connect now 57P03', err({ code: '57P03' }), 'retry'],
  ['statement timeout 57014', err({ code: '57014' }), 'retry'],
  ['invalid text representation 22P02', err({ code: '22P02' }), 'poison'],
  ['string too long 22001', err({ code: '22001' }), 'poison'],
  ['unique violation 23505', err({ code: '23505' }), 'poison'],
  ['undefined table 42P01', err({ code: '42P01' }), 'fatal'],
  ['bad password 28P01', err({ code: '28P01' }), 'fatal'],
  // A revoked privilege is no fault of the batch: bisecting it into the DLQ would dead-letter every command.
  ['insufficient privilege 42501: stop and alert, not poison', err({ code: '42501' }), 'fatal'],
  ['syntax error 42601 (our SQL, not the input: parameters are bound)', err({ code: '42601' }), 'fatal'],
  ['internal error XX000', err({ code: 'XX000' }), 'fatal'],
  ['too many connections 53300', err({ code: '53300' }), 'retry'],
  ['query_timeout of node-postgres', err({ message: 'Query read timeout' }), 'retry'],
  ['connect timeout of node-postgres', err({ message: 'Connection terminated due to connection timeout' }), 'retry'],
  ['pg-pool connect timeout', err({ message: 'timeout exceeded when trying to connect' }), 'retry'],
  ['connection lost under a query', err({ message: 'Connection terminated unexpectedly' }), 'retry'],
  ['a socket error under the client', err({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' }), 'retry'],
  ['an unlisted SQLSTATE class is unknown: fatal', err({ code: '0A000' }), 'fatal'],
  ['an error that merely mentions a timeout is unknown: fatal', err({ message: 'lock timeout in some library' }), 'fatal'],
  ['an error pg does not raise: unknown, fatal', new Error('what is this'), 'fatal'],
];

describe('PostgreSQL errors classify at the boundary', () => {
  it.each(table)('%s', (_name, error, expected) => {
    expect(classify(toPgError(error)).class).toBe(expected);
  });

  it('names the SQLSTATE and keeps the driver code and message', () => {
    const e = toPgError(err({ code: '40001', message: 'could not serialize access' }));
    expect(classify(e)).toEqual({ class: 'retry', source: 'pg:40001' });
    expect(e).toMatchObject({ name: 'BackendError', code: '40001', message: 'could not serialize access' });
  });

  it('ours and unknown errors pass unchanged; an error wrapping a pg error is classified by it', () => {
    const ours = new TopologyChangedError('moved');
    expect(toPgError(ours)).toBe(ours);
    const odd = new TypeError('offset must be a non-negative integer string');
    expect(toPgError(odd)).toBe(odd);
    expect(classify(toPgError(new Error('apply failed', { cause: err({ code: '40001' }) }))).class).toBe('retry');
  });
});
