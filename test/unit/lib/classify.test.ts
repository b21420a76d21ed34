// The policy in lib/classify.ts: our codes, the adapters' verdicts (BackendError), causes, the retriable flag,
// and "unknown → fatal". The drivers' vocabularies are tested next to their adapters (test/unit/adapters/**).
import { describe, expect, it } from 'vitest';
import { classify, type ErrorClass } from '../../../lib/classify.ts';
import { BackendError, ErrorCodes, TagstreamError, TopologyChangedError } from '../../../lib/errors.ts';

function err(fields: Record<string, unknown>): Error {
  return Object.assign(new Error(String(fields.message ?? 'x')), fields);
}

const classified = (cls: ErrorClass, source: string, original: unknown = err({ code: 'X' })) => new BackendError({ class: cls, source }, original);

const table: Array<[string, unknown, ErrorClass]> = [
  // Ours
  ['our invalid command', new TagstreamError(ErrorCodes.COMMAND_INVALID, 'bad'), 'poison'],
  ['our topology change', new TopologyChangedError('moved'), 'reroute'],
  ['our fence', new TagstreamError(ErrorCodes.FENCED, 'fenced'), 'reroute'],
  ['our timeout', new TagstreamError(ErrorCodes.TIMEOUT, 'slow'), 'retry'],
  ['our breaker open', new TagstreamError(ErrorCodes.BREAKER_OPEN, 'open'), 'retry'],
  ['our invalid config', new TagstreamError(ErrorCodes.CONFIG_INVALID, 'bad config'), 'fatal'],
  ['our code without a class: its retriable flag', new TagstreamError(ErrorCodes.UNAVAILABLE, 'later', { retriable: true }), 'retry'],
  ['our code without a class, not retriable', new TagstreamError(ErrorCodes.INTERNAL, 'bug'), 'fatal'],
  // An adapter's verdict, whatever the driver's code says
  ['adapter says retry', classified('retry', 'pg:40001'), 'retry'],
  ['adapter says reroute', classified('reroute', 'pg:25006'), 'reroute'],
  ['adapter says poison', classified('poison', 'pg:23505'), 'poison'],
  ['adapter says fatal (a revoked privilege)', classified('fatal', 'pg:42501'), 'fatal'],
  ['an adapter verdict wrapped by a caller is found through the cause', new Error('apply failed', { cause: classified('retry', 'pg:40001') }), 'retry'],
  ['our error wrapping an adapter verdict keeps our own code', new TopologyChangedError('moved', classified('fatal', 'pg:42501')), 'reroute'],
  // lib knows no driver vocabulary: a driver error that did not pass an adapter boundary is unknown
  ['a bare SQLSTATE is unknown to lib: fatal', err({ code: '40001' }), 'fatal'],
  ['a bare errno is unknown to lib: fatal', err({ code: 'ECONNREFUSED' }), 'fatal'],
  ['a bare Elasticsearch status is unknown to lib: fatal', err({ name: 'ResponseError', meta: { statusCode: 429 } }), 'fatal'],
  ['a bare Redis reply is unknown to lib: fatal', err({ name: 'ReplyError', message: 'LOADING x' }), 'fatal'],
  ['a bare driver timeout message is unknown to lib: fatal', err({ message: 'Query read timeout' }), 'fatal'],
  // A sink target's per-item failure (transitional, actors/sink/target.ts ItemError)
  ['sink item 429', err({ name: 'ItemError', meta: { statusCode: 429 } }), 'retry'],
  ['sink item 503', err({ name: 'ItemError', meta: { statusCode: 503 } }), 'retry'],
  ['sink item 400', err({ name: 'ItemError', meta: { statusCode: 400 } }), 'poison'],
  ['sink item 403', err({ name: 'ItemError', meta: { statusCode: 403 } }), 'fatal'],
  // The rest
  ['abort', Object.assign(new Error('aborted'), { name: 'AbortError' }), 'fatal'],
  ['an abort wrapping a transient error is still an abort', Object.assign(new Error('aborted', { cause: classified('retry', 'node:ECONNRESET') }), { name: 'AbortError' }), 'fatal'],
  ['a retriable flag on an unknown error', err({ retriable: true }), 'retry'],
  ['unknown error is fatal, never retried forever', new Error('what is this'), 'fatal'],
  ['an unknown error that mentions a timeout is still unknown: fatal', new Error('the frobnicator timed out'), 'fatal'],
  ['an unknown error whose message says timeout is still unknown: fatal', new Error('lock timeout in some library'), 'fatal'],
  ['a BackendError-named error without a valid class is unknown', Object.assign(new Error('x'), { name: 'BackendError', class: 'maybe', source: 'x' }), 'fatal'],
  ['a thrown string', 'boom', 'fatal'],
  ['undefined', undefined, 'fatal'],
];

describe('classify (the policy)', () => {
  it.each(table)('%s', (_name, error, expected) => {
    expect(classify(error).class).toBe(expected);
  });

  it('names where the decision came from', () => {
    expect(classify(classified('retry', 'pg:40001')).source).toBe('pg:40001');
    expect(classify(new TagstreamError(ErrorCodes.TIMEOUT, 'slow')).source).toBe('tagstream:TS_ERR_TIMEOUT');
    expect(classify(new Error('what is this')).source).toBe('unknown:Error');
    expect(classify(err({ name: 'ItemError', meta: { statusCode: 429 } })).source).toBe('item:429');
  });

  it('a BackendError keeps the driver code and message, with the driver error as cause', () => {
    const original = err({ code: '42501', message: 'permission denied for table tag_assoc' });
    const e = classified('fatal', 'pg:42501', original);
    expect(e).toMatchObject({ name: 'BackendError', code: '42501', message: 'permission denied for table tag_assoc', retriable: false, cause: original });
    expect(classified('retry', 'node:ECONNRESET').retriable).toBe(true);
  });
});
