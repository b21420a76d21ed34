// A sink target: what one sink does with the command stream (search index, analytics roll-up…). The sink
// machinery (consume → transform → write → retry → dead-letter, with a breaker) is the same for every target.
import type { LogRecord } from '../../adapters/kafka/port.ts';

/** A record as a sink sees it: from the command topic, or re-driven from the DLQ with its original position. */
export type SourceRecord = Pick<LogRecord, 'topic' | 'partition' | 'offset' | 'key' | 'value' | 'headers' | 'timestamp'>;

export type Transformed<I> =
  | {
      kind: 'item';
      payload: I;
      /** Targets that keep one state per key (search: one document per entity+tag) write only the newest. */
      key?: string;
      version?: bigint;
    }
  /** Nothing to write (e.g. an invalid command: the edge consumer dead-letters those). */
  | { kind: 'skip'; code: string; reason: string };

export type ItemResult = { status: 'ok' } | { status: 'stale' } | { status: 'error'; error: unknown };

export interface SinkTarget<I> {
  /** Names the sink's breaker, actors and metrics: 'search', 'analytics'. */
  readonly name: string;
  /** Within one write, only the newest payload per key is sent; the others are superseded by it. */
  readonly coalesce: boolean;
  /** Creates the index or tables, idempotently; the sink consumes only once this succeeded. */
  prepare(): Promise<void>;
  transform(rec: SourceRecord): Transformed<I>;
  /** One result per payload, in order. A failure of the whole request throws. */
  write(payloads: I[], signal: AbortSignal): Promise<ItemResult[]>;
  /** A cheap call that says whether the dependency is back (the breaker's half-open probe). */
  probe(): Promise<void>;
}

/** A per-item failure shaped like the driver's response errors, so lib/classify.ts reads its HTTP status. */
export class ItemError extends Error {
  readonly meta: { statusCode: number };
  readonly type: string;
  constructor(statusCode: number, type: string, reason: string) {
    super(`${type}: ${reason}`);
    this.name = 'ItemError';
    this.meta = { statusCode };
    this.type = type;
  }
}
