// Node's socket errors, shared by every adapter's boundary.
import { describe, expect, it } from 'vitest';
import { toSocketError } from '../../../adapters/socket-errors.ts';
import { classify } from '../../../lib/classify.ts';
import { TopologyChangedError } from '../../../lib/errors.ts';

const errno = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });

describe('socket errors', () => {
  it.each(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED'])('%s → retry', (code) => {
    expect(classify(toSocketError(errno(code)))).toEqual({ class: 'retry', source: `node:${code}` });
  });

  it('a socket hung up under a request → retry', () => {
    expect(classify(toSocketError(new Error('socket hang up'))).class).toBe('retry');
  });

  it('finds the errno in a cause (an error wrapping a socket error)', () => {
    const e = toSocketError(new Error('request failed', { cause: errno('ECONNRESET') }));
    expect(e).toMatchObject({ name: 'BackendError', message: 'request failed' });
    expect(classify(e)).toEqual({ class: 'retry', source: 'node:ECONNRESET' });
  });

  it('leaves ours and unknown errors as they are', () => {
    const ours = new TopologyChangedError('moved', errno('ECONNRESET'));
    expect(toSocketError(ours)).toBe(ours);
    const odd = new Error('EACCES somewhere');
    expect(toSocketError(odd)).toBe(odd);
    expect(classify(odd).class).toBe('fatal');
    expect(toSocketError('a string')).toBe('a string');
  });
});
