// lib/classify.ts on the errors @elastic/elasticsearch really throws (its own classes, realistic meta):
// unreachable or overloaded → retry, a bad request → poison, credentials → fatal.
import { errors } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';
import { classify, type ErrorClass } from '../../../../lib/classify.ts';

function responseError(statusCode: number, type: string): Error {
  return new errors.ResponseError({ body: { error: { type, reason: type }, status: statusCode }, statusCode, headers: {}, warnings: null, meta: {} as never });
}

describe('classify on Elasticsearch client errors', () => {
  const table: Array<[string, unknown, ErrorClass]> = [
    ['ConnectionError (ECONNREFUSED, statusCode 0)', new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9200', { statusCode: 0 } as never), 'retry'],
    ['TimeoutError', new errors.TimeoutError('Request timed out', { statusCode: 0 } as never), 'retry'],
    ['NoLivingConnectionsError', new errors.NoLivingConnectionsError('no living connections', {} as never), 'retry'],
    ['429 es_rejected_execution_exception', responseError(429, 'es_rejected_execution_exception'), 'retry'],
    ['503 unavailable_shards_exception', responseError(503, 'unavailable_shards_exception'), 'retry'],
    ['502 bad gateway', responseError(502, 'bad_gateway'), 'retry'],
    ['400 document_parsing_exception', responseError(400, 'document_parsing_exception'), 'poison'],
    ['404 index_not_found_exception', responseError(404, 'index_not_found_exception'), 'poison'],
    ['401 security_exception', responseError(401, 'security_exception'), 'fatal'],
    ['SerializationError', new errors.SerializationError('bad', {}), 'poison'],
  ];
  it.each(table)('%s → %s', (_name, err, expected) => {
    expect(classify(err).class).toBe(expected);
  });
});
