// The cache breakers count over a time window: a burst of late replies (one pipelined batch on a busy host) is
// a few failures among many calls, while a dead Redis still opens the breaker within `minimumCalls` calls.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { cacheBreakerConfig } from '../../../features/reads/cache.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { createBreaker } from '../../../machines/index.ts';

const config = loadConfig({ overrides: { profile: 'embedded' } });

function breaker(clock: SimulatedClock) {
  return createBreaker(cacheBreakerConfig(config), { clock, name: 'cache-redis0' });
}

describe('cache breaker window', () => {
  it('is time-based and counts failures only', () => {
    const c = cacheBreakerConfig(config);
    expect(c.windowType).toBe('time');
    expect(c.windowSize).toBe(config.reads.cacheBreakerWindow.seconds);
    expect(c.minimumCalls).toBe(config.reads.cacheBreakerWindow.minimumCalls);
    expect(c.slowCallMs).toBeGreaterThanOrEqual(60_000);
  });

  it('stays closed when one batch of 15 replies comes late among 2,000 reads a second', () => {
    const clock = new SimulatedClock(1_000);
    const b = breaker(clock);
    for (let ms = 0; ms < 3_000; ms++) {
      clock.increment(1);
      const late = ms >= 1_500 && ms < 1_515; // one pipelined batch: 15 calls time out together
      b.record({ ok: !late, durationMs: late ? 50 : 1 });
      b.record({ ok: true, durationMs: 1 });
    }
    expect(b.state()).toBe('closed');
  });

  it('opens within a few hundred failed calls when Redis dies (a tenth of a second at 2,000 reads a second)', () => {
    const clock = new SimulatedClock(1_000);
    const b = breaker(clock);
    for (let i = 0; i < 200; i++) b.record({ ok: true, durationMs: 1 });
    let failed = 0;
    for (let i = 0; i < 40 && b.state() === 'closed'; i++) {
      clock.increment(1);
      for (let k = 0; k < 10; k++, failed++) b.record({ ok: false, durationMs: 0, error: new Error('ECONNREFUSED') });
    }
    expect(b.state()).toBe('open');
    expect(failed).toBeLessThanOrEqual(200);
  });
});
