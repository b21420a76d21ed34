// Operator actions need `Authorization: Bearer <http.adminToken>`; a refusal says what is wrong.
import { describe, expect, it } from 'vitest';
import { checkAdminToken } from '../../../features/dashboard/auth.ts';
import { ErrorCodes } from '../../../lib/errors.ts';

const token = 'the-admin-token-0123456789';

describe('checkAdminToken', () => {
  it('accepts the token, with any case of "Bearer" and trailing space', () => {
    expect(checkAdminToken(`Bearer ${token}`, token)).toBeNull();
    expect(checkAdminToken(`bearer ${token}  `, token)).toBeNull();
  });

  it.each([
    [undefined, /needs the admin token.*Authorization: Bearer/],
    ['', /needs the admin token/],
    [token, /must have the form "Bearer <admin token>"/],
    [`Basic ${token}`, /must have the form/],
    ['Bearer nope', /admin token is wrong/],
    [`Bearer ${token}x`, /admin token is wrong/],
  ])('refuses %j with a message saying why', (header, message) => {
    const err = checkAdminToken(header, token);
    expect(err?.code).toBe(ErrorCodes.UNAUTHORIZED);
    expect(err?.message).toMatch(message);
    expect(err?.message).not.toContain(token);
  });
});
