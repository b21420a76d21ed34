import { describe, expect, it } from 'vitest';
import { signToken, verifyToken } from '../../../lib/token.ts';

const secret = 'a-secret-of-sixteen-chars';

describe('consistency tokens', () => {
  it('round-trips shard and LSN', () => {
    const t = signToken({ shard: 7, lsn: '0/16B3748' }, secret);
    expect(verifyToken(t, secret, 64)).toEqual({ shard: 7, lsn: '0/16B3748' });
  });

  it.each([
    ['tampered body', (t: string) => Buffer.from('v1.7.FF/FFFFFFFF').toString('base64url') + '.' + t.split('.')[1]],
    ['tampered mac', (t: string) => t.slice(0, -2) + (t.endsWith('AA') ? 'BB' : 'AA')],
    ['garbage', () => 'not-a-token'],
    ['empty', () => ''],
    ['extra part', (t: string) => `${t}.x`],
  ])('rejects a %s with TS_ERR_TOKEN_INVALID', (_n, mutate) => {
    const t = mutate(signToken({ shard: 7, lsn: '0/16B3748' }, secret));
    expect(() => verifyToken(t, secret, 64)).toThrow(expect.objectContaining({ code: 'TS_ERR_TOKEN_INVALID' }));
  });

  it('rejects a token signed by another deployment', () => {
    const t = signToken({ shard: 1, lsn: '0/1' }, 'another-secret-0123456789');
    expect(() => verifyToken(t, secret, 64)).toThrow(/another deployment/);
  });

  it('rejects a shard outside this deployment', () => {
    const t = signToken({ shard: 99, lsn: '0/1' }, secret);
    expect(() => verifyToken(t, secret, 64)).toThrow(/unsupported/);
  });
});
