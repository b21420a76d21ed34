// Messages between a sink's consumer and its pool workers. A SinkItem carries its own completion callbacks,
// so the worker knows nothing about offsets and the consumer nothing about the dependency.
import type { SourceRecord } from './target.ts';

export type ItemDone = 'written' | 'stale' | 'superseded' | 'dead-lettered';

export interface SinkItem<I> {
  record: SourceRecord;
  payload: I;
  key?: string | undefined;
  version?: bigint | undefined;
  /** False once the consumer rewound or paused: the item will be delivered again, writing it is pointless. */
  live(): boolean;
  /** Finished for good (written, stale, superseded by a newer one, or dead-lettered): the offset may be committed. */
  done(how: ItemDone): void;
  /** Not finished (dependency unavailable, worker crashed): the consumer re-delivers from the committed offset. */
  fail(err: unknown): void;
}

export type SinkWorkerMsg<I> = { type: 'sink.items'; items: Array<SinkItem<I>> } | { type: 'sink.flush' };
