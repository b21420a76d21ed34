// The database side of degradation on simulated time: slow critical reads trip the slow-call breaker, which then
// sheds non-critical reads at once while critical reads keep being served (and close it again when fast).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { ClusterGuards } from '../../../features/reads/guards.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { createMetrics } from '../../../lib/metrics.ts';
import { createInspectionBus, isBreakerOpenError } from '../../../machines/index.ts';

const config = loadConfig({ env: {}, overrides: { breaker: { windowSize: 10, minimumCalls: 5, slowCallRateThreshold: 0.8, openMs: 1_000, halfOpenProbes: 2 }, reads: { dbSlowCallMs: 100 } } });

describe('ClusterGuards', () => {
  it('slow critical reads open the breaker: non-critical reads are shed, critical ones still run and close it when fast again', async () => {
    const clock = new SimulatedClock(1_000);
    const g = new ClusterGuards('pg0', { config, clock, inspection: createInspectionBus(), metrics: createMetrics() });
    const slow = () => g.criticalRead(async () => (clock.increment(150), 'slow'));
    for (let i = 0; i < 5; i++) expect(await slow()).toBe('slow');
    expect(g.breaker.state()).toBe('open');
    let called = false;
    const shed = await g.nonCriticalRead(async () => (called = true)).catch((e: unknown) => e);
    expect(isBreakerOpenError(shed)).toBe(true);
    expect(called).toBe(false);
    expect(await g.criticalRead(async () => 'still served')).toBe('still served');
    clock.increment(1_000);
    expect(g.breaker.state()).toBe('half-open');
    await g.criticalRead(async () => 'fast');
    await g.criticalRead(async () => 'fast');
    expect(g.breaker.state()).toBe('closed');
    expect(await g.nonCriticalRead(async () => 'served')).toBe('served');
    g.stop();
  });
});
