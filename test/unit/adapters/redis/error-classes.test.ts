// Table: every error the cache stores raise (ioredis' own messages and the memory store's imitations) leaves the
// adapter classified (toRedisError) as the policy expects — unreachable or slow servers retry, error replies by
// their prefix. The driver's own error, unconverted, is unknown to lib/classify.
import { describe, expect, it } from 'vitest';
import { toRedisError } from '../../../../adapters/redis/errors.ts';
import { ReplyError } from '../../../../adapters/redis/memory-cache-store.ts';
import { classify, type ErrorClass } from '../../../../lib/classify.ts';

function named(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  const e = Object.assign(new Error(message), extra);
  Object.defineProperty(e, 'name', { value: name });
  return e;
}

const table: Array<[string, unknown, ErrorClass]> = [
  ['ioredis command timeout (frozen server)', new Error('Command timed out'), 'retry'],
  ['ioredis offline queue off, not connected', new Error("Stream isn't writeable and enableOfflineQueue options is false"), 'retry'],
  ['ioredis connection closed under a command', new Error('Connection is closed.'), 'retry'],
  ['ioredis max retries per request', named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 0).'), 'retry'],
  ['refused connect', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'retry'],
  ['connect timeout', Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }), 'retry'],
  ['LOADING reply', named('ReplyError', 'LOADING Redis is loading the dataset in memory'), 'retry'],
  ['READONLY reply (a replica)', named('ReplyError', "READONLY You can't write against a read only replica."), 'reroute'],
  ['WRONGTYPE reply', named('ReplyError', 'WRONGTYPE Operation against a key holding the wrong kind of value'), 'poison'],
  ['NOAUTH reply', named('ReplyError', 'NOAUTH Authentication required.'), 'fatal'],
  ['NOPERM reply (an ACL took a command away)', named('ReplyError', "NOPERM this user has no permissions to run the 'incr' command"), 'fatal'],
  ['ERR reply (bad argument)', named('ReplyError', "ERR invalid expire time in 'set' command"), 'poison'],
  ['an unknown reply prefix is still a reply: poison', named('ReplyError', 'SOMETHINGNEW x'), 'poison'],
  ['memory store ReplyError', new ReplyError('ERR value is not an integer or out of range'), 'poison'],
  ['an error ioredis does not raise: unknown, fatal', new Error('the frobnicator timed out'), 'fatal'],
];

describe('cache store errors classify at the boundary', () => {
  it.each(table)('%s', (_what, err, expected) => {
    expect(classify(toRedisError(err)).class).toBe(expected);
  });

  it('names the reply prefix; keeps the message; the reply is the cause', () => {
    const reply = named('ReplyError', 'READONLY x');
    const e = toRedisError(reply);
    expect(classify(e)).toEqual({ class: 'reroute', source: 'redis:READONLY' });
    expect(e).toMatchObject({ name: 'BackendError', message: 'READONLY x', cause: reply });
  });

  it('an unknown error passes unchanged (lib/classify makes it fatal); the raw driver error means nothing to lib', () => {
    const odd = new Error('what is this');
    expect(toRedisError(odd)).toBe(odd);
    expect(classify(named('ReplyError', 'LOADING x')).class).toBe('fatal');
  });
});
