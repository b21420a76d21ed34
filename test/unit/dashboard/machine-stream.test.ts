// What the dashboard derives from the inspection stream: each machine's current state and recent transitions
// (the directory), and the breaker/failover/retry metrics — checked against a real breaker on simulated time.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { createMachineDirectory } from '../../../features/dashboard/machine-directory.ts';
import { createMachineMetrics } from '../../../features/dashboard/machine-metrics.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { createMetrics } from '../../../lib/metrics.ts';
import { createBreaker, createInspectionBus, machineDefinitions, type MachineRecord } from '../../../machines/index.ts';
import { parsePrometheus, samples } from '../../support/prometheus.ts';

const defs = machineDefinitions();
const names = (k: keyof typeof defs) => defs[k].states.map((s) => s.path).filter(Boolean);

function setup() {
  const clock = new SimulatedClock(10_000);
  const bus = createInspectionBus();
  const metrics = createMetrics();
  const internal = new Set(defs.breaker.transitions.filter((t) => t.target === null).map((t) => t.id));
  const directory = createMachineDirectory({ finalStates: () => new Set(), internalTransitions: () => internal, maxInstances: 3 });
  const feed = createMachineMetrics(metrics, { breaker: names('breaker'), failover: names('failover') });
  bus.subscribe((r) => {
    directory.apply(r);
    feed(r);
  });
  const config = loadConfig({ env: {} });
  const breaker = createBreaker(config.breaker, { clock, name: 'cache-redis0', inspect: bus });
  return { clock, bus, metrics, directory, breaker, feed };
}

describe('machine directory and metrics from the inspection stream', () => {
  it('tracks a breaker through a trip and an operator force, with one-hot state gauges and transition counts', async () => {
    const { clock, metrics, directory, breaker } = setup();
    expect(directory.get('breaker:cache-redis0')).toMatchObject({ kind: 'breaker', name: 'cache-redis0', state: 'closed', status: 'active', since: 10_000 });
    for (let i = 0; i < 20; i++) await breaker.call(() => Promise.reject(new Error('ECONNREFUSED'))).catch(() => undefined);
    clock.increment(5);
    breaker.force('disabled');
    const v = directory.get('breaker:cache-redis0')!;
    expect(v.state).toBe('disabled');
    expect(v.recent.map((t) => [t.from, t.to, t.event])).toEqual([
      ['closed', 'open', 'WINDOW.TRIPPED'],
      ['open', 'disabled', 'FORCE.DISABLED'],
    ]);
    expect(v.recent[0]!.transitions).toEqual(['closed|WINDOW.TRIPPED|0']);
    const f = parsePrometheus(await metrics.registry.metrics());
    const state = Object.fromEntries(samples(f, 'tagstream_breaker_state', { breaker: 'cache-redis0' }).map((s) => [s.labels.state, s.value]));
    expect(state).toEqual({ closed: 0, open: 0, 'half-open': 0, 'forced-open': 0, disabled: 1, 'metrics-only': 0 });
    expect(samples(f, 'tagstream_breaker_transitions_total', { breaker: 'cache-redis0', from: 'closed', to: 'open' })[0]!.value).toBe(1);
    breaker.stop();
  });

  it('counts retries by component and error class, and keeps internal transitions out of `recent`', async () => {
    const { metrics, directory, feed } = setup();
    const rec = (over: Partial<MachineRecord>): MachineRecord => ({ machineId: 'retry:search', type: 'machine.transition', from: 'attempting', to: 'backing-off', event: { type: 'xstate.error.actor.attempt' }, transitions: ['attempting|xstate.error.actor.attempt|5'], at: 1, context: { history: [{ class: 'retry' }] }, ...over });
    feed(rec({}));
    feed(rec({ to: 'rerouting', context: { history: [{ class: 'reroute' }] } }));
    feed(rec({ from: 'backing-off', to: 'attempting' }));
    const f = parsePrometheus(await metrics.registry.metrics());
    expect(samples(f, 'tagstream_retries_total').map((s) => [s.labels, s.value])).toEqual([
      [{ component: 'search', class: 'retry' }, 1],
      [{ component: 'search', class: 'reroute' }, 1],
    ]);
    directory.apply(rec({ machineId: 'breaker:x', type: 'machine.init', from: null, to: 'half-open', transitions: [] }));
    directory.apply(rec({ machineId: 'breaker:x', from: 'half-open', to: 'half-open', event: { type: 'PROBE.SUCCESS' }, transitions: ['half-open|PROBE.SUCCESS|2'] }));
    expect(directory.get('breaker:x')!.recent).toEqual([]);
  });

  it('stays bounded, evicting finished and stopped machines first', () => {
    const { directory } = setup(); // holds breaker:cache-redis0 already; max 3
    const init = (id: string, at: number): MachineRecord => ({ machineId: id, type: 'machine.init', from: null, to: 'closed', event: { type: 'xstate.init' }, transitions: [], at, context: {} });
    directory.apply(init('breaker:a', 1));
    directory.apply({ ...init('breaker:a', 2), type: 'machine.stop' });
    directory.apply(init('breaker:b', 3));
    directory.apply(init('breaker:c', 4));
    expect(directory.list().map((m) => m.id).sort()).toEqual(['breaker:b', 'breaker:c', 'breaker:cache-redis0']);
  });
});
