// A token bucket on the injected clock: the re-feeder's bounded drain rate.
import type { Clock } from '../../lib/clock.ts';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
  }

  /** Takes up to `n` whole tokens; returns how many it took. */
  take(n: number): number {
    this.refill();
    const got = Math.max(0, Math.min(n, Math.floor(this.tokens)));
    this.tokens -= got;
    return got;
  }

  /** Milliseconds until at least one token is there. */
  msUntilNext(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSec) * 1000);
  }
}
