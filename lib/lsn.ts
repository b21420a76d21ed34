// PostgreSQL LSNs ('16/B374D848') as bigints, for comparing replay positions.

export function lsnToBigInt(lsn: string): bigint {
  const [hi, lo] = lsn.split('/');
  if (hi === undefined || lo === undefined || !/^[0-9A-Fa-f]+$/.test(hi) || !/^[0-9A-Fa-f]+$/.test(lo)) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

export function bigIntToLsn(n: bigint): string {
  return `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function lsnGte(a: string, b: string): boolean {
  return lsnToBigInt(a) >= lsnToBigInt(b);
}

export function isLsn(s: string): boolean {
  return /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(s);
}
