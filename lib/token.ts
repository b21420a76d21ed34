// Consistency tokens (contract 5): shard + commit LSN, HMAC-signed so a client cannot forge one to force
// primary reads. Format: base64url("v1.<shard>.<lsn>") + "." + base64url(hmac-sha256).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ErrorCodes, TagstreamError } from './errors.ts';
import { isLsn } from './lsn.ts';

export interface ConsistencyToken {
  shard: number;
  lsn: string;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export function signToken(t: ConsistencyToken, secret: string): string {
  const body = `v1.${t.shard}.${t.lsn}`;
  return `${b64(body)}.${b64(createHmac('sha256', secret).update(body).digest())}`;
}

export function verifyToken(token: string, secret: string, shardCount: number): ConsistencyToken {
  const bad = (why: string) => new TagstreamError(ErrorCodes.TOKEN_INVALID, `invalid consistency token: ${why}`);
  const [bodyB64, macB64, extra] = token.split('.');
  if (!bodyB64 || !macB64 || extra !== undefined || token.length > 256) throw bad('malformed');
  const body = Buffer.from(bodyB64, 'base64url').toString('utf8');
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(macB64, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad('signature does not match (tampered or from another deployment)');
  const [v, shardText, lsn] = body.split('.');
  const shard = Number(shardText);
  if (v !== 'v1' || !Number.isInteger(shard) || shard < 0 || shard >= shardCount || !lsn || !isLsn(lsn)) throw bad('unsupported contents');
  return { shard, lsn };
}
