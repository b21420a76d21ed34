// The admin token check for operator actions: `Authorization: Bearer <http.adminToken>`, compared in constant
// time. A refusal says exactly what is wrong (missing header, wrong scheme, wrong token) but never the token.
import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Returns null when the header carries the token, else the error to answer with (401). */
export function checkAdminToken(header: string | undefined, adminToken: string): TagstreamError | null {
  if (header === undefined || header.trim() === '') {
    return new TagstreamError(ErrorCodes.UNAUTHORIZED, 'this is an operator action and needs the admin token: send "Authorization: Bearer <token>" with the value of http.adminToken from the daemon\'s config (the tagstream CLI sends it for you; on the dashboard, enter it under "Operator actions")');
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return new TagstreamError(ErrorCodes.UNAUTHORIZED, 'the Authorization header must have the form "Bearer <admin token>"');
  if (!timingSafeEqual(digest(m[1]!), digest(adminToken))) {
    return new TagstreamError(ErrorCodes.UNAUTHORIZED, 'the admin token is wrong: it must equal http.adminToken of this daemon');
  }
  return null;
}
