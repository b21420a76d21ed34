// PostgreSQL WAL positions ('16/B374D848': two hex halves of a 64-bit byte position) compared in JS.
// Used to route read-your-writes reads and to decide whether a replica has replayed a commit.

const LSN_RE = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function isLsn(s: string): boolean {
  return LSN_RE.test(s);
}

export function lsnToBigInt(lsn: string): bigint {
  const m = LSN_RE.exec(lsn);
  if (!m) throw new TypeError(`not a PostgreSQL LSN: "${lsn.slice(0, 40)}"`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function bigIntToLsn(n: bigint): string {
  return `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Negative, zero or positive as a is before, at or after b. */
export function compareLsn(a: string, b: string): number {
  const x = lsnToBigInt(a);
  const y = lsnToBigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** True when `replayed` (null on a node that is not replaying, e.g. a primary) has reached `target`. */
export function lsnReached(replayed: string | null | undefined, target: string): boolean {
  return replayed != null && compareLsn(replayed, target) >= 0;
}

export function maxLsn(a: string, b: string): string {
  return compareLsn(a, b) >= 0 ? a : b;
}
