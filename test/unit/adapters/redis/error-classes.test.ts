// Table: every error the cache stores raise (ioredis' own messages and the memory store's imitations)
// classifies as lib/classify expects — unreachable or slow servers retry, error replies are poison.
import { describe, expect, it } from 'vitest';
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
  ['ERR reply (bad argument)', named('ReplyError', "ERR invalid expire time in 'set' command"), 'poison'],
  ['memory store ReplyError', new ReplyError('ERR value is not an integer or out of range'), 'poison'],
];

describe('cache store errors classify', () => {
  it.each(table)('%s', (_what, err, expected) => {
    expect(classify(err).class).toBe(expected);
  });
});
