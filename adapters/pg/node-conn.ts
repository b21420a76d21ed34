// What the shard-cluster router needs from one node, whatever reaches it: pg pools on real servers, or a
// view of the one PGlite instance that emulates a whole cluster.
import type { NodeProbe } from './port.ts';
import type { Queryable } from './queryable.ts';

/** Our connections to one node (a pool). Opening one is the only way anything of ours reaches the node. */
export interface NodeConn {
  readonly node: string;
  /** Runs `fn` on one exclusive session of the node (BEGIN … COMMIT inside `fn` is safe). */
  session<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** pg_last_wal_replay_lsn(): null when the node is not replaying WAL (a primary). */
  replayLsn(): Promise<string | null>;
  /** The replay LSN and the timeline it was replayed on (null when the node cannot say it consistently). */
  replayPoint(): Promise<ReplayPoint>;
  /** On a session of this node (`q`, right after a COMMIT): the timeline the node writes on, if it can tell. */
  writeTimeline(q: Queryable): Promise<number | undefined>;
  /** Closes every connection; later calls reject with a reroute-class error. */
  close(): Promise<void>;
}

export interface ReplayPoint {
  lsn: string | null;
  timeline: number | null;
}

export interface NodeDriver {
  open(node: string): NodeConn;
  /** Short, self-contained health check with its own timeout; never throws. */
  probe(node: string): Promise<NodeProbe>;
  close(): Promise<void>;
}
