// Key layout of a cache shard and the codecs of its entries. Entries live under the shard's key epoch, so a
// new epoch makes every older entry unreachable at once. Floors are outside the epoch: a floor is the commit
// LSN of an entity's latest write, and an entry read before it (a lower LSN) is never served, whatever epoch.
import { compareLsn, isLsn } from '../../adapters/pg/lsn.ts';

export const EPOCH_KEY = 'ts:epoch';
/** The epoch key outlives any entry; if it ever disappears (restart, eviction) the shard moves on. */
export const EPOCH_TTL_SECONDS = 7 * 24 * 3600;

export const entityKey = (epoch: string, entity: string): string => `ts:${epoch}:e:${entity}`;
export const floorKey = (entity: string): string => `ts:f:${entity}`;
export const popularKey = (epoch: string, limit: number): string => `ts:${epoch}:p:${limit}`;

/** An entity's tags as read from a node whose position was at least `lsn` before the read. */
export interface EntityEntry {
  tags: string[];
  lsn: string;
}

export interface PopularTag {
  tag: string;
  count: number;
}

/** Popular tags as computed from the databases at `at` (ms since epoch, on the daemon's clock). */
export interface PopularEntry {
  tags: PopularTag[];
  at: number;
}

export function encodeEntity(e: EntityEntry): string {
  return JSON.stringify({ t: e.tags, l: e.lsn });
}

/** Anything malformed (another version's format, a foreign key) reads as absent. */
export function decodeEntity(raw: string | null | undefined): EntityEntry | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as { t?: unknown; l?: unknown };
    if (!Array.isArray(v.t) || !v.t.every((x) => typeof x === 'string') || typeof v.l !== 'string' || !isLsn(v.l)) return null;
    return { tags: v.t as string[], lsn: v.l };
  } catch {
    return null;
  }
}

export function encodePopular(e: PopularEntry): string {
  return JSON.stringify({ t: e.tags.map((x) => [x.tag, x.count]), a: e.at });
}

export function decodePopular(raw: string | null | undefined): PopularEntry | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as { t?: unknown; a?: unknown };
    if (!Array.isArray(v.t) || typeof v.a !== 'number') return null;
    const tags: PopularTag[] = [];
    for (const x of v.t) {
      if (!Array.isArray(x) || typeof x[0] !== 'string' || typeof x[1] !== 'number') return null;
      tags.push({ tag: x[0], count: x[1] });
    }
    return { tags, at: v.a };
  } catch {
    return null;
  }
}

/** The higher of two optional LSNs (a malformed one counts as absent). */
export function higherLsn(a: string | null | undefined, b: string | null | undefined): string | undefined {
  const x = a && isLsn(a) ? a : undefined;
  const y = b && isLsn(b) ? b : undefined;
  if (!x) return y;
  if (!y) return x;
  return compareLsn(x, y) >= 0 ? x : y;
}

export function lsnAtLeast(lsn: string, bar: string | undefined): boolean {
  return bar === undefined || compareLsn(lsn, bar) >= 0;
}
