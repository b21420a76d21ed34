// PostgreSQL LSNs in text form ('16/B374D848': two hex halves of a 64-bit WAL position), compared exactly.

/** Parses an LSN into a bigint; null for a missing or malformed value. */
export function parseLsn(lsn: string | null | undefined): bigint | null {
  if (!lsn) return null;
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!m) return null;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Orders LSNs; a missing/malformed LSN sorts below every real one. */
export function compareLsn(a: string | null | undefined, b: string | null | undefined): number {
  const x = parseLsn(a);
  const y = parseLsn(b);
  if (x === y) return 0;
  if (x === null) return -1;
  if (y === null) return 1;
  return x < y ? -1 : 1;
}

/** The highest of the given LSNs; undefined when none is a real one. */
export function maxLsn(...lsns: ReadonlyArray<string | null | undefined>): string | undefined {
  let max: string | undefined;
  for (const l of lsns) if (parseLsn(l) !== null && compareLsn(l, max) > 0) max = l!;
  return max;
}
