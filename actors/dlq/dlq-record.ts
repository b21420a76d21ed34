// Reading a dead letter back: where it came from (its original position, which stays its version for good),
// who failed it and why, and how often it was replayed. Also the headers of its next life: re-appended to the
// DLQ after a failed replay, or moved to the parking topic.
import type { LogRecord } from '../../adapters/kafka/port.ts';
import type { ErrorClass } from '../../lib/classify.ts';
import type { SourceRecord } from '../sink/target.ts';
import { H } from './dead-letter.ts';

export const PARK_H = { parkedAt: 'x-parked-at', parkedReason: 'x-parked-reason', dlqOffset: 'x-dlq-offset' } as const;

export interface DeadLetterView {
  /** Position in the DLQ (or parking) topic. */
  partition: number;
  offset: string;
  timestamp: number;
  source: { topic: string; partition: number; offset: string };
  consumer: string;
  errorClass: string;
  code: string;
  message: string;
  attempts: number;
  firstFailureAt: string;
  lastFailureAt: string;
  replays: number;
  key: string | null;
  value: string | null;
  parkedAt?: string;
  parkedReason?: string;
}

export function viewOf(rec: LogRecord): DeadLetterView {
  const h = rec.headers;
  return {
    partition: rec.partition,
    offset: rec.offset,
    timestamp: rec.timestamp,
    source: { topic: h[H.sourceTopic] ?? '?', partition: Number(h[H.sourcePartition] ?? -1), offset: h[H.sourceOffset] ?? '?' },
    consumer: h[H.consumer] ?? '?',
    errorClass: h[H.errorClass] ?? '?',
    code: h[H.errorCode] ?? '?',
    message: h[H.errorMessage] ?? '',
    attempts: Number(h[H.attempts] ?? 0),
    firstFailureAt: h[H.firstFailureAt] ?? '',
    lastFailureAt: h[H.lastFailureAt] ?? '',
    replays: Number(h[H.replays] ?? 0),
    key: rec.key,
    value: rec.value,
    ...(h[PARK_H.parkedAt] ? { parkedAt: h[PARK_H.parkedAt] } : {}),
    ...(h[PARK_H.parkedReason] ? { parkedReason: h[PARK_H.parkedReason] } : {}),
  };
}

/** The record as its consumer first saw it: original topic, partition and offset (its version), same bytes. */
export function sourceOf(rec: LogRecord): SourceRecord | null {
  const h = rec.headers;
  const topic = h[H.sourceTopic];
  const partition = Number(h[H.sourcePartition]);
  const offset = h[H.sourceOffset];
  if (!topic || !Number.isInteger(partition) || partition < 0 || !offset || !/^\d+$/.test(offset)) return null;
  const headers = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith('x-')));
  return { topic, partition, offset, key: rec.key, value: rec.value, headers, timestamp: rec.timestamp };
}

export interface Failure {
  errorClass: ErrorClass;
  code: string;
  message: string;
  attempts: number;
  at: number;
}

/** Headers of a dead letter that failed its replay: same origin, one more replay, the new failure. */
export function replayFailedHeaders(rec: LogRecord, f: Failure): Record<string, string> {
  const h = rec.headers;
  return {
    ...h,
    [H.errorClass]: f.errorClass,
    [H.errorCode]: f.code,
    [H.errorMessage]: f.message.slice(0, 1_000),
    [H.attempts]: String(Number(h[H.attempts] ?? 0) + f.attempts),
    [H.lastFailureAt]: new Date(f.at).toISOString(),
    [H.replays]: String(Number(h[H.replays] ?? 0) + 1),
  };
}

export function parkedHeaders(rec: LogRecord, reason: string, at: number): Record<string, string> {
  return { ...rec.headers, [PARK_H.parkedAt]: new Date(at).toISOString(), [PARK_H.parkedReason]: reason.slice(0, 1_000), [PARK_H.dlqOffset]: `${rec.partition}:${rec.offset}` };
}
