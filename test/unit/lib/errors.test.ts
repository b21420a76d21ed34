import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, TagstreamError } from '../../../lib/errors.ts';

describe('error codes', () => {
  const doc = readFileSync(path.resolve(import.meta.dirname, '../../../docs/errors.md'), 'utf8');
  it.each(Object.values(ErrorCodes))('%s is documented in docs/errors.md', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });

  it('serialises code, message and retriable flag', () => {
    const e = new TagstreamError(ErrorCodes.TIMEOUT, 'slow', { retriable: true, cause: new Error('x') });
    expect(e.toJSON()).toMatchObject({ code: 'TS_ERR_TIMEOUT', message: 'slow', retriable: true });
    expect(e.cause).toBeInstanceOf(Error);
  });
});
