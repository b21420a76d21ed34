// Degradation guards of one cluster's database reads: two bulkheads (critical and non-critical lanes, so
// popular tags can never take the slots entity reads need) and a slow-call breaker. Critical reads are always
// attempted and feed the breaker with their outcome; non-critical reads are shed while it is open.
import type { Config } from '../../config/index.ts';
import { Bulkhead } from '../../lib/bulkhead.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Metrics } from '../../lib/metrics.ts';
import { BreakerOpenError, createBreaker, type Breaker, type InspectionBus } from '../../machines/index.ts';

export class ClusterGuards {
  readonly breaker: Breaker;
  readonly critical: Bulkhead;
  readonly nonCritical: Bulkhead;

  constructor(
    readonly cluster: string,
    private readonly deps: { config: Readonly<Config>; clock: Clock; inspection: InspectionBus; metrics: Metrics },
  ) {
    const { reads, breaker } = deps.config;
    this.breaker = createBreaker({ ...breaker, slowCallMs: reads.dbSlowCallMs }, { clock: deps.clock, name: `${cluster}-reads`, inspect: deps.inspection });
    this.critical = new Bulkhead(`${cluster}-reads-critical`, reads.bulkhead.critical, deps.clock);
    this.nonCritical = new Bulkhead(`${cluster}-reads-noncritical`, reads.bulkhead.nonCritical, deps.clock);
  }

  /** Entity tags: under the critical bulkhead whatever the breaker says; the outcome is counted. */
  criticalRead<T>(fn: () => Promise<T>): Promise<T> {
    return this.lane(this.critical, async () => {
      const start = this.deps.clock.now();
      try {
        const value = await fn();
        this.breaker.record({ ok: true, durationMs: this.deps.clock.now() - start });
        return value;
      } catch (err) {
        this.breaker.record({ ok: false, durationMs: this.deps.clock.now() - start, error: err });
        throw err;
      }
    });
  }

  /** Popular tags: refused at once while the breaker is open, else under the non-critical bulkhead. */
  nonCriticalRead<T>(fn: () => Promise<T>): Promise<T> {
    const state = this.breaker.state();
    if (state === 'open' || state === 'forced-open') return Promise.reject(new BreakerOpenError(this.breaker.name, state, this.breaker.stats().retryAt));
    return this.lane(this.nonCritical, () => this.breaker.call(fn));
  }

  stop(): void {
    this.breaker.stop();
  }

  private async lane<T>(b: Bulkhead, fn: () => Promise<T>): Promise<T> {
    const gauge = this.deps.metrics.bulkheadInFlight;
    try {
      return await b.run(async () => {
        gauge.inc({ bulkhead: b.name });
        try {
          return await fn();
        } finally {
          gauge.dec({ bulkhead: b.name });
        }
      });
    } catch (err) {
      if ((err as { name?: unknown }).name === 'BulkheadFullError') this.deps.metrics.bulkheadRejected.inc({ bulkhead: b.name });
      throw err;
    }
  }
}
