// A pacing rate limiter on the injected Clock: take() resolves at most `ratePerSec` times a second (evenly
// spaced, a burst of one), and rejects at once when the signal aborts.
import { sleep, type Clock } from './clock.ts';

export class RateLimiter {
  private next = 0;

  constructor(
    private readonly ratePerSec: number,
    private readonly clock: Clock,
  ) {
    if (!(ratePerSec > 0)) throw new RangeError(`ratePerSec must be positive (got ${ratePerSec})`);
  }

  async take(signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    const at = Math.max(now, this.next);
    this.next = at + 1_000 / this.ratePerSec;
    if (at > now) await sleep(this.clock, at - now, signal);
  }
}
