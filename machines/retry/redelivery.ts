// A command-log partition whose handler threw, delivered again after a back-off decided by the retry machine
// (kind 'log-redelivery'): one run per partition from its first failure to its next successful batch; each
// failure of a batch delivered again fails the run's attempt in flight. The subscription (an adapter, which
// cannot reach machines/) receives this through its Redelivery port, from the composition root.
import type { Redelivery, RedeliveryFactory } from '../../adapters/kafka/delivery.ts';
import type { BackoffPolicy } from '../../lib/backoff.ts';
import { classify } from '../../lib/classify.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { InspectionBus } from '../inspection.ts';
import { retryEveryError, startRetrySession, type RetrySession } from './session.ts';

export interface RedeliveryOptions {
  /** config retryLoops.logRedelivery */
  policy: BackoffPolicy;
  clock: Clock;
  random?: () => number;
  inspect?: Pick<InspectionBus, 'publish'>;
  logger?: Logger;
}

const everyError = retryEveryError(classify);

export function redeliveryWithRetryMachine(opts: RedeliveryOptions): RedeliveryFactory {
  return (groupId) => createRedelivery(groupId, opts);
}

export function createRedelivery(groupId: string, opts: RedeliveryOptions): Redelivery {
  const runs = new Map<string, { tp: { topic: string; partition: number }; release: () => void; session: RetrySession }>();
  const stop = new AbortController();
  const key = (tp: { topic: string; partition: number }) => `${tp.topic}/${tp.partition}`;
  return {
    failed(tp, err, release) {
      const k = key(tp);
      const run = runs.get(k);
      if (run) {
        run.release = release;
        run.session.fail(err);
        return;
      }
      const entry = { tp: { ...tp }, release } as { tp: { topic: string; partition: number }; release: () => void; session: RetrySession };
      entry.session = startRetrySession(err, {
        kind: 'log-redelivery',
        detail: `${groupId}:${k}`,
        policy: { ...opts.policy, retries: Number.POSITIVE_INFINITY },
        clock: opts.clock,
        classify: everyError,
        signal: stop.signal,
        ...(opts.random ? { random: opts.random } : {}),
        ...(opts.inspect ? { inspect: opts.inspect } : {}),
        onRetry: ({ attempt, delayMs }) => opts.logger?.warn({ groupId, topic: tp.topic, partition: tp.partition, failures: attempt, retryInMs: delayMs }, 'the batch will be delivered again after a back-off'),
        resume: () => entry.release(),
        onEnd: () => {
          if (runs.get(k) === entry) runs.delete(k);
        },
      });
      runs.set(k, entry);
    },
    succeeded(tp) {
      const k = key(tp);
      const run = runs.get(k);
      if (!run || run.session.backingOff) return;
      runs.delete(k);
      run.session.succeed();
    },
    holding: (tp) => runs.get(key(tp))?.session.backingOff ?? false,
    held: () => [...runs.values()].filter((r) => r.session.backingOff).map((r) => ({ ...r.tp })),
    stop: () => stop.abort('subscription stopped'),
  };
}
