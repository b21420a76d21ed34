import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../lib/clock.ts';
import { readWindow, startEventLoopDelay, type DelayHistogram, type DelayWindow } from '../../../lib/event-loop-delay.ts';

/** A histogram that holds the samples given to it (nanoseconds), like perf_hooks' but fed by the test. */
function fakeHistogram() {
  let samples: number[] = [];
  let enabled = false;
  const h: DelayHistogram & { add(ns: number): void; enabled(): boolean } = {
    enable: () => void (enabled = true),
    disable: () => void (enabled = false),
    reset: () => void (samples = []),
    percentile: (p) => {
      const s = [...samples].sort((a, b) => a - b);
      return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
    },
    get max() {
      return samples.length ? Math.max(...samples) : 0;
    },
    get count() {
      return samples.length;
    },
    add: (ns) => void samples.push(ns),
    enabled: () => enabled,
  };
  return h;
}

describe('event-loop delay windows', () => {
  it('reports each window in seconds and starts the next one empty', () => {
    const clock = new SimulatedClock();
    const h = fakeHistogram();
    const windows: DelayWindow[] = [];
    const stop = startEventLoopDelay({ clock, windowMs: 10_000, histogram: h, onWindow: (w) => windows.push(w) });
    expect(h.enabled()).toBe(true);
    for (let i = 1; i <= 100; i++) h.add(i * 1e6); // 1..100 ms
    clock.increment(10_000);
    expect(windows).toHaveLength(1);
    expect(windows[0]).toEqual({ p50: 0.05, p99: 0.099, max: 0.1, samples: 100 });
    h.add(2e6);
    clock.increment(10_000);
    expect(windows[1]).toEqual({ p50: 0.002, p99: 0.002, max: 0.002, samples: 1 });
    clock.increment(10_000);
    expect(windows[2]).toEqual({ p50: 0, p99: 0, max: 0, samples: 0 });
    stop();
    expect(h.enabled()).toBe(false);
    clock.increment(30_000);
    expect(windows).toHaveLength(3);
  });

  it('an empty histogram reads as zeros, not as perf_hooks NaN/huge defaults', () => {
    const h = fakeHistogram();
    expect(readWindow(h)).toEqual({ p50: 0, p99: 0, max: 0, samples: 0 });
  });
});
