// Bulkhead: at most `maxConcurrent` calls run at once, at most `maxQueue` wait (FIFO), none waits longer than
// `queueTimeoutMs`. Beyond that a call is refused at once (TS_ERR_BULKHEAD_FULL) instead of piling up on a
// dependency that is already saturated: the degradation path decides what to answer instead.
import type { Clock, TimerHandle } from './clock.ts';
import { ErrorCodes, TagstreamError } from './errors.ts';

export interface BulkheadLimits {
  maxConcurrent: number;
  maxQueue: number;
  queueTimeoutMs: number;
}

export interface BulkheadStats extends BulkheadLimits {
  name: string;
  inFlight: number;
  queued: number;
  /** Calls refused (queue full or waited too long) since creation. */
  rejected: number;
}

export class BulkheadFullError extends TagstreamError {
  constructor(name: string, why: 'queue full' | 'queue timeout') {
    super(ErrorCodes.BULKHEAD_FULL, `bulkhead "${name}": ${why}`, { retriable: true, details: { bulkhead: name, why } });
    this.name = 'BulkheadFullError';
  }
}

interface Waiter {
  start: () => void;
  timer: TimerHandle;
}

export class Bulkhead {
  private inFlight = 0;
  private rejected = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    readonly name: string,
    private readonly limits: BulkheadLimits,
    private readonly clock: Clock,
  ) {
    if (limits.maxConcurrent < 1) throw new RangeError(`bulkhead ${name}: maxConcurrent must be at least 1`);
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inFlight < this.limits.maxConcurrent && this.queue.length === 0) return this.execute(fn);
    if (this.queue.length >= this.limits.maxQueue) return this.refuse('queue full');
    return new Promise<T>((resolve, reject) => {
      const w: Waiter = {
        start: () => {
          this.clock.clearTimeout(w.timer);
          this.execute(fn).then(resolve, reject);
        },
        timer: this.clock.setTimeout(() => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          this.refuse('queue timeout').catch(reject);
        }, this.limits.queueTimeoutMs),
      };
      this.queue.push(w);
    });
  }

  stats(): BulkheadStats {
    return { name: this.name, ...this.limits, inFlight: this.inFlight, queued: this.queue.length, rejected: this.rejected };
  }

  private async execute<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await fn();
    } finally {
      this.inFlight--;
      this.queue.shift()?.start();
    }
  }

  private refuse(why: 'queue full' | 'queue timeout'): Promise<never> {
    this.rejected++;
    return Promise.reject(new BulkheadFullError(this.name, why));
  }
}

export function isBulkheadFull(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === ErrorCodes.BULKHEAD_FULL;
}
