// UsageStore: the analytics roll-up — tag usage per tag per hour — written idempotently. Each event carries the
// command's log position (partition, offset); an event whose position was counted before changes nothing, so a
// consumer rewind, a second consumer group or a DLQ replay can never count a command twice.
// Real: PgUsageStore (PostgreSQL, routed by tag onto the shard clusters). Embedded: MemoryUsageStore.
import type { OutageHooks } from '../fault-hooks.ts';

export interface UsageEvent {
  tag: string;
  /** Start of the hour of the command's time (ms since epoch, a multiple of 3 600 000). */
  hour: number;
  op: 'attach' | 'detach';
  /** The command's position: (topic, partition, offset) identifies it for good. */
  topic: string;
  partition: number;
  offset: string;
}

export interface UsageRow {
  tag: string;
  hour: number;
  attaches: number;
  detaches: number;
}

export interface RecordResult {
  /** Events counted now. */
  counted: number;
  /** Events whose position had been counted before (or repeated within the call): ignored. */
  duplicates: number;
  /**
   * Where each cluster's statement committed (PostgreSQL stores only): the (timeline, LSN) a replica must replay
   * before the events count as kept — the same proof as the shard writers' (contract 3).
   */
  commits?: UsageCommit[];
}

export interface UsageCommit {
  cluster: string;
  lsn: string;
  timeline?: number;
}

export interface UsageQuery {
  tag?: string;
  /** Inclusive lower bound on the hour (ms). */
  from?: number;
  /** Exclusive upper bound on the hour (ms). */
  to?: number;
  limit?: number;
}

export interface UsageStore {
  /** Creates the tables idempotently. */
  migrate(): Promise<void>;
  /** All or nothing: either every new event is counted, or none (the call throws). */
  record(events: UsageEvent[]): Promise<RecordResult>;
  /** Roll-up rows ordered by tag, then hour. */
  usage(q?: UsageQuery): Promise<UsageRow[]>;
  /** Forgets positions counted before `beforeMs` (bounded storage; a replay older than that would count again). */
  prune(beforeMs: number): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Present on the embedded stand-in only: fault injection (adapters/fault-hooks.ts). */
  readonly faults?: OutageHooks;
}

export const HOUR_MS = 3_600_000;

export function hourOf(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/** Duplicate positions within one call are counted once (the first wins). */
export function uniqueByPosition(events: UsageEvent[]): { unique: UsageEvent[]; repeated: number } {
  const seen = new Set<string>();
  const unique: UsageEvent[] = [];
  for (const e of events) {
    const k = positionKey(e);
    if (seen.has(k)) continue;
    seen.add(k);
    unique.push(e);
  }
  return { unique, repeated: events.length - unique.length };
}

export function positionKey(e: Pick<UsageEvent, 'topic' | 'partition' | 'offset'>): string {
  return `${e.topic}\u0000${e.partition}\u0000${e.offset}`;
}
