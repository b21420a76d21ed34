// Messages of the shard writer. A WriteItem carries its own completion callbacks so the ingest can track
// offsets without the writer knowing about Kafka.
import type { PositionedCommand } from '../../lib/command.ts';

export interface Applied {
  shard: number;
  cluster: string;
  commitLsn: string;
  /** The association's state really changed (counters moved). */
  changed: boolean;
}

export interface WriteItem {
  command: PositionedCommand;
  shard: number;
  /** Applied on the primary (read-your-writes tokens can be issued). */
  onApplied?: (a: Applied) => void;
  /** Applied and replayed on at least one replica, or dead-lettered: the offset may be committed. */
  ack: () => void;
  /** Not applied (the writer crashed or stopped): the ingest must re-deliver from the committed offset. */
  fail: (err: unknown) => void;
}

export type ShardWriterMsg =
  | { type: 'shard.write'; items: WriteItem[] }
  | { type: 'shard.flush' }
  | { type: 'topology.promoted'; cluster: string };
