// Redis's vocabulary (reply prefixes, ioredis' own errors and messages) and the converter both cache stores
// put on their boundary.
import type { Classification, ErrorClass } from '../../lib/classify.ts';
import { errorConverter, type DriverErrorFields } from '../driver-errors.ts';
import { socketErrors } from '../socket-errors.ts';

// Reply prefixes.
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

const MESSAGES: Array<[RegExp, string]> = [
  // ioredis when the connection goes away under a pending command.
  [/Connection is closed/i, 'redis:connection-closed'],
  // ioredis with the offline queue off, while (re)connecting: the server is unreachable right now.
  [/Stream isn't writeable/i, 'redis:not-writeable'],
  // ioredis' commandTimeout, by its exact words (a frozen server).
  [/^Command timed out$/, 'redis:timeout'],
];

export function redisErrors(e: DriverErrorFields): Classification | null {
  if (e.name === 'ReplyError' || e.name === 'RedisReplyError') {
    const prefix = e.message.split(/\s/, 1)[0] ?? '';
    if (prefix in REDIS_REPLY) return { class: REDIS_REPLY[prefix]!, source: `redis:${prefix}` };
    return { class: 'poison', source: 'redis:reply' };
  }
  if (e.name === 'MaxRetriesPerRequestError') return { class: 'retry', source: 'redis:max-retries' };
  for (const [re, source] of MESSAGES) if (re.test(e.message)) return { class: 'retry', source };
  return null;
}

/** ioredis errors (and the sockets under them) → BackendError; others unchanged. */
export const toRedisError = errorConverter(redisErrors, socketErrors);
