// The search adapter's boundary (toSearchError) on the errors @elastic/elasticsearch really throws (its own
// classes, realistic meta): unreachable or overloaded → retry, a bad request → poison, credentials → fatal.
import { errors } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';
import { bulkItemError, toSearchError } from '../../../../adapters/search/errors.ts';
import { classify, type ErrorClass } from '../../../../lib/classify.ts';

function responseError(statusCode: number, type: string): Error {
  return new errors.ResponseError({ body: { error: { type, reason: type }, status: statusCode }, statusCode, headers: {}, warnings: null, meta: {} as never });
}

function err(fields: Record<string, unknown>): Error {
  return Object.assign(new Error(String(fields.message ?? 'x')), fields);
}

describe('Elasticsearch client errors classify at the boundary', () => {
  const table: Array<[string, unknown, ErrorClass]> = [
    ['ConnectionError (ECONNREFUSED, statusCode 0)', new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9200', { statusCode: 0 } as never), 'retry'],
    ['TimeoutError', new errors.TimeoutError('Request timed out', { statusCode: 0 } as never), 'retry'],
    ['NoLivingConnectionsError', new errors.NoLivingConnectionsError('no living connections', {} as never), 'retry'],
    ['429 es_rejected_execution_exception', responseError(429, 'es_rejected_execution_exception'), 'retry'],
    ['503 unavailable_shards_exception', responseError(503, 'unavailable_shards_exception'), 'retry'],
    ['502 bad gateway', responseError(502, 'bad_gateway'), 'retry'],
    ['400 document_parsing_exception', responseError(400, 'document_parsing_exception'), 'poison'],
    ['404 index_not_found_exception', responseError(404, 'index_not_found_exception'), 'poison'],
    ['409 version conflict', responseError(409, 'version_conflict_engine_exception'), 'poison'],
    ['413 too large', responseError(413, 'request_entity_too_large'), 'poison'],
    ['401 security_exception', responseError(401, 'security_exception'), 'fatal'],
    ['403 security_exception (a revoked privilege)', responseError(403, 'security_exception'), 'fatal'],
    ['507, an unlisted 5xx', err({ name: 'ResponseError', meta: { statusCode: 507 } }), 'retry'],
    ['418, an unlisted 4xx', err({ name: 'ResponseError', meta: { statusCode: 418 } }), 'poison'],
    ['SerializationError', new errors.SerializationError('bad', {}), 'poison'],
    ['an error the client does not raise: unknown, fatal', new Error('what is this'), 'fatal'],
  ];
  it.each(table)('%s → %s', (_name, error, expected) => {
    expect(classify(toSearchError(error)).class).toBe(expected);
  });

  it('names the status or the transport error', () => {
    expect(classify(toSearchError(responseError(429, 'x')))).toEqual({ class: 'retry', source: 'es:429' });
    expect(classify(toSearchError(new errors.ConnectionError('down', { statusCode: 0 } as never)))).toEqual({ class: 'retry', source: 'es:ConnectionError' });
  });

  it('a classified response error still shows its status and body (a missing index is no outage)', () => {
    const e = toSearchError(responseError(404, 'index_not_found_exception'));
    expect(e).toMatchObject({ name: 'BackendError', statusCode: 404, meta: { statusCode: 404, body: { error: { type: 'index_not_found_exception' } } } });
  });

  it('a failed bulk item is classified by its status', () => {
    const item = (httpStatus: number) => bulkItemError({ id: 'a', status: 'error', httpStatus, type: 't', reason: 'r' });
    expect(classify(item(429))).toEqual({ class: 'retry', source: 'es:429' });
    expect(classify(item(400))).toEqual({ class: 'poison', source: 'es:400' });
    expect(classify(item(403)).class).toBe('fatal');
    expect(item(400).message).toBe('t: r');
  });
});
