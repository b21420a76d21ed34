// What both CommandLog implementations share about delivery: the back-off before a batch whose handler
// threw is delivered again, the errors a log raises, and small offset helpers.
import type { BackoffPolicy } from '../../lib/backoff.ts';
import type { Clock } from '../../lib/clock.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';

/**
 * A handler that throws gets the same batch again (from the first record it did not finish) after this
 * back-off, counted per partition and reset by the next successful batch. Other partitions keep flowing.
 */
export const redeliveryBackoff: BackoffPolicy = { initialMs: 100, multiplier: 2, maxMs: 5_000, jitter: 0.2 };

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
