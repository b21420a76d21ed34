// What both CommandLog implementations share about delivery: the back-off before a batch whose handler
// threw is delivered again, the errors a log raises, and small offset helpers.
import { backoffDelay, type BackoffPolicy } from '../../lib/backoff.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';

/**
 * A handler that throws gets the same batch again (from the first record it did not finish) after this
 * back-off, counted per partition and reset by the next successful batch. Other partitions keep flowing.
 */
export const redeliveryBackoff: BackoffPolicy = { initialMs: 100, multiplier: 2, maxMs: 5_000, jitter: 0.2 };

/**
 * Waits out the back-off before a partition whose handler threw is delivered again: one per subscription.
 * The daemon gives the retry machine's (machines/retry/redelivery.ts, kind 'log-redelivery'); adapters cannot
 * reach machines/, so this is the port, and timerRedelivery the stand-alone one (tools, adapter tests).
 */
export interface Redelivery {
  /** The handler threw: the partition is held; `release` is called when it may be fetched again. */
  failed(tp: { topic: string; partition: number }, err: unknown, release: () => void): void;
  /** The handler finished a batch of this partition: its back-off starts from the beginning next time. */
  succeeded(tp: { topic: string; partition: number }): void;
  /** Whether the partition is waiting out a back-off. */
  holding(tp: { topic: string; partition: number }): boolean;
  /** The partitions waiting out a back-off. */
  held(): Array<{ topic: string; partition: number }>;
  /** The subscription stopped: no partition is released any more. */
  stop(): void;
}

export type RedeliveryFactory = (groupId: string) => Redelivery;

/** redeliveryBackoff on timers, without the retry machine (what a subscription does when none is given). */
export function timerRedelivery(clock: Clock, random: () => number, policy: BackoffPolicy = redeliveryBackoff): Redelivery {
  const failures = new Map<string, number>();
  const timers = new Map<string, { tp: { topic: string; partition: number }; timer: TimerHandle }>();
  return {
    failed(tp, _err, release) {
      const key = tpKey(tp.topic, tp.partition);
      const n = (failures.get(key) ?? 0) + 1;
      failures.set(key, n);
      const timer = clock.setTimeout(() => {
        timers.delete(key);
        release();
      }, backoffDelay(n, policy, random));
      timers.set(key, { tp, timer });
    },
    succeeded: (tp) => void failures.delete(tpKey(tp.topic, tp.partition)),
    holding: (tp) => timers.has(tpKey(tp.topic, tp.partition)),
    held: () => [...timers.values()].map((t) => ({ ...t.tp })),
    stop() {
      for (const t of timers.values()) clock.clearTimeout(t.timer);
      timers.clear();
    },
  };
}

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** An error shaped like the driver's own, so lib/classify.ts treats the stand-in and Kafka alike. */
export class LogError extends Error {
  readonly retriable: boolean;
  readonly type?: string;
  constructor(name: string, message: string, opts: { retriable: boolean; type?: string; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = name;
    this.retriable = opts.retriable;
    if (opts.type) this.type = opts.type;
  }
}

/** The broker cannot be reached (kafkajs: KafkaJSConnectionError) — classified `retry`. */
export function unavailable(what: string): LogError {
  return new LogError('KafkaJSConnectionError', `Connection error: ${what}`, { retriable: true });
}

/** The topic does not exist (Kafka: UNKNOWN_TOPIC_OR_PARTITION) — classified `retry`. */
export function unknownTopic(topic: string): LogError {
  return new LogError('KafkaJSProtocolError', `This server does not host this topic-partition: ${topic}`, { retriable: true, type: 'UNKNOWN_TOPIC_OR_PARTITION' });
}

/** A call on a subscription after stop(): a programming error, classified `fatal`. */
export function subscriptionStopped(groupId: string): LogError {
  return new LogError('KafkaJSNonRetriableError', `subscription of group "${groupId}" is stopped`, { retriable: false });
}

/** Parses a decimal offset string (Kafka int64; in-process logs stay far below 2^53). */
export function parseOffset(offset: string): number {
  if (!/^\d+$/.test(offset)) throw new RangeError(`offset must be a non-negative decimal string (got "${offset}")`);
  return Number(offset);
}

/** Settles like `p`, or rejects with a retriable TS_ERR_TIMEOUT after `ms` on `clock` (`p` runs on regardless). */
export function deadline<T>(clock: Clock, p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = clock.setTimeout(() => reject(new TagstreamError(ErrorCodes.TIMEOUT, `${what} did not finish within ${ms} ms`, { retriable: true })), ms);
    p.then(
      (v) => {
        clock.clearTimeout(t);
        resolve(v);
      },
      (err: unknown) => {
        clock.clearTimeout(t);
        reject(err);
      },
    );
  });
}
