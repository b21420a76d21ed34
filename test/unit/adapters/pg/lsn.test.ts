import { describe, expect, it } from 'vitest';
import { bigIntToLsn, compareLsn, isLsn, lsnReached, lsnToBigInt, maxLsn } from '../../../../adapters/pg/lsn.ts';

describe('LSN arithmetic', () => {
  it('parses both halves as hex and round-trips', () => {
    expect(lsnToBigInt('0/16B3748')).toBe(0x16b3748n);
    expect(lsnToBigInt('1/0')).toBe(1n << 32n);
    expect(bigIntToLsn(lsnToBigInt('16/B374D848'))).toBe('16/B374D848');
    expect(lsnToBigInt('ff/ffffffff')).toBe((0xffn << 32n) | 0xffffffffn);
  });

  it('compares numerically, not as strings', () => {
    expect(compareLsn('0/9', '0/10')).toBeLessThan(0); // "0/9" > "0/10" as strings
    expect(compareLsn('1/0', '0/FFFFFFFF')).toBeGreaterThan(0);
    expect(compareLsn('0/A', '0/a')).toBe(0);
    expect(maxLsn('0/9', '0/10')).toBe('0/10');
  });

  it('lsnReached treats a missing replay position (a primary) as not reached', () => {
    expect(lsnReached('0/10', '0/10')).toBe(true);
    expect(lsnReached('0/F', '0/10')).toBe(false);
    expect(lsnReached(null, '0/0')).toBe(false);
    expect(lsnReached(undefined, '0/0')).toBe(false);
  });

  it('rejects what is not an LSN', () => {
    expect(isLsn('0/16B3748')).toBe(true);
    expect(isLsn('16B3748')).toBe(false);
    expect(() => lsnToBigInt("0/1'; DROP TABLE x")).toThrow(TypeError);
  });
});
