// A rewind's read of its consumer group's committed offsets, on the retry machine until it works or the daemon
// stops: a rewind that gave up after clearing its trackers, without its seek, would skip records. Shared by the
// ingest (kind ingest-rewind) and the re-feeders (kind refeeder-rewind).
import { classify } from '../../lib/classify.ts';
import type { Clock } from '../../lib/clock.ts';
import type { InspectionBus } from '../../machines/inspection.ts';
import { runWithRetry, type RetryResult } from '../../machines/retry/run-with-retry.ts';
import { retryEveryError } from '../../machines/retry/session.ts';

export interface ReadCommittedOptions {
  kind: 'ingest-rewind' | 'refeeder-rewind';
  detail?: string;
  clock: Clock;
  signal: AbortSignal;
  /** Where the retries are reported (the dashboard's retry card). */
  inspect?: Pick<InspectionBus, 'publish'>;
  onRetry: (err: unknown, delayMs: number) => void;
}

export function readCommitted<T>(read: () => Promise<T>, o: ReadCommittedOptions): Promise<RetryResult<T>> {
  return runWithRetry(read, {
    kind: o.kind,
    ...(o.detail ? { detail: o.detail } : {}),
    clock: o.clock,
    signal: o.signal,
    policy: { initialMs: 100, multiplier: 2, maxMs: 5_000, jitter: 0.2, retries: Number.POSITIVE_INFINITY },
    classify: retryEveryError(classify),
    rebuildOnReroute: false,
    ...(o.inspect ? { inspect: o.inspect } : {}),
    onRetry: ({ error, delayMs }) => o.onRetry(error, delayMs),
  });
}
