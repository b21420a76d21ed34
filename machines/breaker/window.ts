// The breaker's sliding window, kept outside the machine so that counting a call in the closed state costs a
// few array writes, not an xstate event. Count-based: a ring buffer of the last N outcomes. Time-based: N
// one-second buckets (Resilience4j's model), expired lazily as time moves. Both answer "should we trip?".
import type { BreakerConfig } from '../../config/schema.ts';

export type TripReason = 'failure-rate' | 'slow-call-rate';

export interface WindowCounts {
  calls: number;
  failures: number;
  slow: number;
}

export interface SlidingWindow {
  /** Counts one finished call; returns why the window trips now, or null. */
  record(now: number, failed: boolean, slow: boolean): TripReason | null;
  counts(now: number): WindowCounts;
  reset(): void;
}

export type WindowConfig = Pick<BreakerConfig, 'windowType' | 'windowSize' | 'minimumCalls' | 'failureRateThreshold' | 'slowCallRateThreshold'>;

export const TIME_BUCKET_MS = 1_000;

/**
 * The trip rule, shared by both windows: at least `minimumCalls` calls seen, and the failure rate or the
 * slow-call rate at or above its threshold (a rate needs at least one such call, so a threshold of 0 means
 * "trip on the first one" rather than "always").
 */
export function tripReason(c: WindowCounts, minimumCalls: number, failureRateThreshold: number, slowCallRateThreshold: number): TripReason | null {
  return trip(c.calls, c.failures, c.slow, minimumCalls, failureRateThreshold, slowCallRateThreshold);
}

function trip(calls: number, failures: number, slow: number, minimumCalls: number, fr: number, sr: number): TripReason | null {
  if (calls < minimumCalls || calls === 0) return null;
  if (failures > 0 && failures / calls >= fr) return 'failure-rate';
  if (slow > 0 && slow / calls >= sr) return 'slow-call-rate';
  return null;
}

const FAILED = 1;
const SLOW = 2;

export class CountWindow implements SlidingWindow {
  private readonly ring: Uint8Array;
  private next = 0;
  private calls = 0;
  private failures = 0;
  private slow = 0;
  private readonly minimumCalls: number;

  constructor(private readonly cfg: WindowConfig) {
    this.ring = new Uint8Array(cfg.windowSize);
    // A count window can never hold more than windowSize calls (Resilience4j clamps the same way).
    this.minimumCalls = Math.min(cfg.minimumCalls, cfg.windowSize);
  }

  record(_now: number, failed: boolean, slow: boolean): TripReason | null {
    const size = this.ring.length;
    if (this.calls === size) {
      const old = this.ring[this.next]!;
      if (old & FAILED) this.failures--;
      if (old & SLOW) this.slow--;
    } else {
      this.calls++;
    }
    this.ring[this.next] = (failed ? FAILED : 0) | (slow ? SLOW : 0);
    if (failed) this.failures++;
    if (slow) this.slow++;
    this.next = this.next + 1 === size ? 0 : this.next + 1;
    if (this.calls < this.minimumCalls) return null;
    return trip(this.calls, this.failures, this.slow, this.minimumCalls, this.cfg.failureRateThreshold, this.cfg.slowCallRateThreshold);
  }

  counts(): WindowCounts {
    return { calls: this.calls, failures: this.failures, slow: this.slow };
  }

  reset(): void {
    this.ring.fill(0);
    this.next = this.calls = this.failures = this.slow = 0;
  }
}

export class TimeWindow implements SlidingWindow {
  private readonly callsB: Uint32Array;
  private readonly failuresB: Uint32Array;
  private readonly slowB: Uint32Array;
  /** Bucket epoch (floor(now / bucket)) of the newest bucket, or -1 before the first call. */
  private head = -1;
  private calls = 0;
  private failures = 0;
  private slow = 0;

  constructor(private readonly cfg: WindowConfig) {
    const n = cfg.windowSize; // seconds
    this.callsB = new Uint32Array(n);
    this.failuresB = new Uint32Array(n);
    this.slowB = new Uint32Array(n);
  }

  private advance(now: number): number {
    const epoch = Math.floor(now / TIME_BUCKET_MS);
    // A clock that steps back keeps counting into the newest bucket rather than corrupting the ring.
    if (epoch <= this.head) return this.head % this.callsB.length;
    const n = this.callsB.length;
    const steps = this.head < 0 ? n : Math.min(n, epoch - this.head);
    for (let k = 1; k <= steps; k++) {
      const i = (epoch - steps + k) % n;
      this.calls -= this.callsB[i]!;
      this.failures -= this.failuresB[i]!;
      this.slow -= this.slowB[i]!;
      this.callsB[i] = this.failuresB[i] = this.slowB[i] = 0;
    }
    this.head = epoch;
    return epoch % n;
  }

  record(now: number, failed: boolean, slow: boolean): TripReason | null {
    const i = this.advance(now);
    this.callsB[i]!++;
    this.calls++;
    if (failed) {
      this.failuresB[i]!++;
      this.failures++;
    }
    if (slow) {
      this.slowB[i]!++;
      this.slow++;
    }
    if (this.calls < this.cfg.minimumCalls) return null;
    return trip(this.calls, this.failures, this.slow, this.cfg.minimumCalls, this.cfg.failureRateThreshold, this.cfg.slowCallRateThreshold);
  }

  counts(now: number): WindowCounts {
    this.advance(now);
    return { calls: this.calls, failures: this.failures, slow: this.slow };
  }

  reset(): void {
    this.callsB.fill(0);
    this.failuresB.fill(0);
    this.slowB.fill(0);
    this.head = -1;
    this.calls = this.failures = this.slow = 0;
  }
}

export function createWindow(cfg: WindowConfig): SlidingWindow {
  return cfg.windowType === 'count' ? new CountWindow(cfg) : new TimeWindow(cfg);
}
