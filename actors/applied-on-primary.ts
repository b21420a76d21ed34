// `?wait=applied` through a daemon that does not consume the entity's partition (several daemons: the applied bus
// is per process, so its own writers never report the command). The answer comes from the primary itself: the
// row (entity, tag) written by this command or by a later one (last writer wins by offset, contract 2 — a later
// one means this one is applied or superseded). Read at a backing-off interval until the request's timeout; a
// read that fails (the primary is failing over) is read again. The token is the primary's WAL position as the
// row was read: at or past the commit that wrote it, so a read with it sees the write.
import type { RowPosition, ShardStore } from '../adapters/pg/port.ts';
import { sleep, type Clock } from '../lib/clock.ts';

export interface RowApplied {
  shard: number;
  cluster: string;
  commitLsn: string;
}

export interface RowWait {
  shard: number;
  entity: string;
  tag: string;
  offset: string;
}

const FIRST_MS = 10;
const MAX_MS = 200;

/** The row was written by the command at `offset` or by a later one (its offset is last-writer-wins). */
export function rowCovers(row: RowPosition | null, offset: string): boolean {
  return row !== null && BigInt(row.offset) >= BigInt(offset);
}

export async function waitRowApplied(store: Pick<ShardStore, 'cluster' | 'rowPosition'>, clock: Clock, q: RowWait, timeoutMs: number, signal: AbortSignal): Promise<RowApplied | null> {
  const deadline = clock.now() + timeoutMs;
  for (let delay = FIRST_MS; !signal.aborted; delay = Math.min(delay * 2, MAX_MS)) {
    // Each read within what is left of the timeout: a frozen primary must not hold the answer past it.
    if (deadline - clock.now() <= 0) return null;
    const row = await within(clock, store.rowPosition(q.shard, q.entity, q.tag), deadline - clock.now(), signal).catch(() => null);
    if (signal.aborted) return null;
    if (rowCovers(row, q.offset)) return { shard: q.shard, cluster: store.cluster, commitLsn: row!.lsn };
    const left = deadline - clock.now();
    if (left <= 0) return null;
    await sleep(clock, Math.min(delay, left), signal).catch(() => undefined);
  }
  return null;
}

/** `p`, or null once `ms` passed or `signal` aborted (p is left to settle on its own; its failure is ignored then). */
function within<T>(clock: Clock, p: Promise<T>, ms: number, signal: AbortSignal): Promise<T | null> {
  p.catch(() => undefined); // a read abandoned at the deadline may fail later: never an unhandled rejection
  if (ms <= 0) return Promise.resolve(null);
  return new Promise<T | null>((resolve, reject) => {
    const done = () => {
      clock.clearTimeout(t);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => (done(), resolve(null));
    const t = clock.setTimeout(() => (done(), resolve(null)), ms);
    signal.addEventListener('abort', onAbort);
    p.then(
      (v) => (done(), resolve(v)),
      (e: unknown) => (done(), reject(e)),
    );
  });
}
