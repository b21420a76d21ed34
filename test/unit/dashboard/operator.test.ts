// Operator actions: carried out through the feature that offers them, refused with a stable code otherwise,
// and every outcome recorded (flight recorder, live stream, metric).
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../config/index.ts';
import type { DaemonContext, FaultAction, Feature } from '../../../features/feature.ts';
import { createFlightRecorder } from '../../../features/dashboard/flight-recorder.ts';
import { createOperator } from '../../../features/dashboard/operator.ts';
import { FeatureRegistry } from '../../../features/registry.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { ErrorCodes } from '../../../lib/errors.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { createMetrics } from '../../../lib/metrics.ts';

function setup(config: Readonly<Config>, features: Feature[] = []) {
  const clock = new SimulatedClock(0);
  const faults = new Map<string, FaultAction>();
  const registry = new FeatureRegistry();
  for (const f of features) registry.attach(f);
  const ctx = { config, clock, logger: silentLogger(), metrics: createMetrics(), faults, features: registry, adapters: { stores: new Map([['pg0', {}]]) } } as unknown as DaemonContext;
  const recorder = createFlightRecorder({ capacity: 100, clock, state: () => null });
  const live: unknown[] = [];
  const operator = createOperator(ctx, { recorder, metrics: ctx.metrics, onRecord: (r) => live.push(r) });
  return { ctx, faults, recorder, operator, live };
}

const embedded = loadConfig({ env: {} });

describe('operator actions', () => {
  it('forces a breaker through the feature that lists it, and records the action', async () => {
    const forced: string[] = [];
    const reads: Feature = { name: 'reads', controls: { breakers: { list: () => [{ name: 'cache-redis0', state: 'closed' }], force: (n: string, s: string) => void forced.push(`${n}=${s}`) } } };
    const { operator, recorder, live } = setup(embedded, [reads]);
    await expect(operator.forceBreaker('cache-redis0', 'open')).resolves.toEqual({ breaker: 'cache-redis0', state: 'open' });
    expect(forced).toEqual(['cache-redis0=open']);
    expect(recorder.entries()).toMatchObject([{ source: 'operator', action: 'breaker.force', target: 'cache-redis0', outcome: 'ok' }]);
    expect(live).toHaveLength(1);
    await expect(operator.forceBreaker('nope', 'open')).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND, message: expect.stringContaining('known: cache-redis0') });
    await expect(operator.forceBreaker('cache-redis0', 'ajar')).rejects.toMatchObject({ code: ErrorCodes.BAD_REQUEST });
    expect(recorder.entries().map((e) => (e.source === 'operator' ? e.outcome : ''))).toEqual(['ok', 'refused', 'refused']);
  });

  it('says which control is missing when no feature offers it: not supported here, which no retry changes', async () => {
    const { operator } = setup(embedded);
    await expect(operator.forceBreaker('x', 'open')).rejects.toMatchObject({ code: ErrorCodes.NOT_SUPPORTED, message: expect.stringContaining('controls.breakers') });
    await expect(operator.replayDlq()).rejects.toMatchObject({ code: ErrorCodes.NOT_SUPPORTED, message: expect.stringContaining('controls.dlq') });
    await expect(operator.switchover('pg0')).rejects.toMatchObject({ code: ErrorCodes.NOT_SUPPORTED });
    await expect(operator.switchover('pg9')).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
  });

  it('carries out a switchover and a DLQ replay through the features that offer them', async () => {
    const calls: string[] = [];
    const failover: Feature = { name: 'failover', controls: { switchover: { switchover: async (c: string) => void calls.push(`switchover ${c}`) } } };
    const indexing: Feature = { name: 'indexing', controls: { dlq: { depth: async () => 4, replay: async (o: { limit?: number }) => (calls.push(`replay ${o.limit}`), { replayed: 4 }) } } };
    const { operator } = setup(embedded, [failover, indexing]);
    await expect(operator.switchover('pg0')).resolves.toEqual({ cluster: 'pg0', started: true });
    await expect(operator.replayDlq(10)).resolves.toEqual({ replayed: 4 });
    await expect(operator.replayDlq(0)).rejects.toMatchObject({ code: ErrorCodes.BAD_REQUEST });
    expect(calls).toEqual(['switchover pg0', 'replay 10']);
  });

  it('injects and heals faults, tracking which are active; refuses them in production', async () => {
    const { operator, faults } = setup(embedded);
    let down = false;
    faults.set('stop-redis:redis0', { name: 'stop-redis:redis0', description: 'd', inject: async () => void (down = true), heal: async () => void (down = false) });
    faults.set('kill-primary:pg0', { name: 'kill-primary:pg0', description: 'd', inject: async () => undefined });
    await operator.injectFault('stop-redis:redis0');
    expect(down).toBe(true);
    expect(operator.faults()).toEqual([
      { name: 'kill-primary:pg0', description: 'd', active: false, healable: false },
      { name: 'stop-redis:redis0', description: 'd', active: true, healable: true },
    ]);
    await operator.healFault('stop-redis:redis0');
    expect(down).toBe(false);
    await expect(operator.healFault('kill-primary:pg0')).rejects.toMatchObject({ code: ErrorCodes.NOT_SUPPORTED });

    const production = loadConfig({ env: {}, overrides: { profile: 'production', http: { adminToken: 'x'.repeat(20), tokenSecret: 'y'.repeat(20) }, postgres: { clusters: [{ name: 'pg0', nodes: [{ name: 'n0', host: 'db', port: 5432 }], database: 'd', user: 'u' }] }, redis: { instances: [{ name: 'r', host: 'r', port: 6379 }] }, kafka: { brokers: ['k:9092'] }, elasticsearch: { node: 'http://es:9200' } } });
    const prod = setup(production);
    prod.faults.set('stop-redis:redis0', faults.get('stop-redis:redis0')!);
    await expect(prod.operator.injectFault('stop-redis:redis0')).rejects.toMatchObject({ code: ErrorCodes.FAULT_INJECTION_OFF });
    expect(down).toBe(false);
  });
});
