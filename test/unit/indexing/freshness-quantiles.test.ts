// Every search answer carries the index's freshness; its lag percentiles sort up to 2,048 samples. They are now
// computed at most once a second and reused in between (the sort was 2 % of the daemon's CPU at 250 searches/s,
// issue 16): a snapshot within the second shows the percentiles of its start, the next second's shows new samples.
import { describe, expect, it } from 'vitest';
import type { CommandLog } from '../../../adapters/kafka/port.ts';
import { Freshness } from '../../../features/indexing/freshness.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { createMetrics } from '../../../lib/metrics.ts';

describe('index freshness: lag percentiles', () => {
  it('are computed at most once a second; the rest of the snapshot is current', () => {
    const clock = new SimulatedClock(10_000);
    const f = new Freshness({ log: {} as CommandLog, topic: 't', clock, metrics: createMetrics(), refreshIntervalMs: 1_000 });
    f.track('search', 'g', () => new Map());
    f.written('search', clock.now() - 100, true);
    const a = f.snapshot('search')!;
    expect(a.writeToIndexedMs).toEqual({ p50: 100, p99: 100 });
    clock.increment(500);
    for (let i = 0; i < 50; i++) f.written('search', clock.now() - 900, true);
    const b = f.snapshot('search')!;
    expect(b.writeToIndexedMs).toEqual({ p50: 100, p99: 100 }); // reused within the second
    expect(b.lastCommandAgeMs).toBe(600); // the rest is as of now (the newest command was appended 600 ms ago)
    clock.increment(500);
    expect(f.snapshot('search')!.writeToIndexedMs).toEqual({ p50: 900, p99: 900 });
  });
});
