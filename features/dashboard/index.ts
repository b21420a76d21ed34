// The operator's view of the daemon: metrics derived from the event streams, the dashboard at /dashboard
// (supervision tree, statecharts, shard map, charts, live over SSE), operator actions behind the admin token,
// fault injection in the embedded and local profiles, and the flight recorder.
import { machineDefinitions } from '../../machines/index.ts';
import { maskSecrets } from '../../config/index.ts';
import type { FeatureFactory } from '../feature.ts';
import { dashboardKey } from '../keys.ts';
import { createFlightRecorder, type FlightRecorder } from './flight-recorder.ts';
import { registerFaults } from './faults.ts';
import { createLiveHub } from './live-hub.ts';
import { createMachineDirectory } from './machine-directory.ts';
import { createMachineMetrics } from './machine-metrics.ts';
import { createOperator, type Operator } from './operator.ts';
import { registerDashboardRoutes } from './routes.ts';
import { createSampler } from './sampler.ts';
import { pulse, snapshot, type ViewParts } from './view.ts';

/** What this feature offers the others and main.ts (the crash hook). */
export interface DashboardApi {
  flightRecorder: FlightRecorder;
  operator: Operator;
}

/** The dashboard section of /status: live page clients, the flight recorder's fill, the faults injected now. */
export interface DashboardStatus {
  liveClients: number;
  flightRecorder: { size: number; capacity: number };
  faults: string[];
}

export const dashboardFeature: FeatureFactory<DashboardStatus> = (ctx) => {
  const { config, clock, metrics } = ctx;
  const definitions = machineDefinitions() as Record<string, ReturnType<typeof machineDefinitions>[keyof ReturnType<typeof machineDefinitions>]>;
  const finals = new Map(Object.entries(definitions).map(([k, d]) => [k, new Set(d.states.filter((s) => s.type === 'final').map((s) => s.path))]));
  const internal = new Map(Object.entries(definitions).map(([k, d]) => [k, new Set(d.transitions.filter((t) => t.target === null).map((t) => t.id))]));
  const none = new Set<string>();
  const directory = createMachineDirectory({ finalStates: (kind) => finals.get(kind) ?? none, internalTransitions: (kind) => internal.get(kind) ?? none });
  const stateNames = (k: string) => definitions[k]?.states.map((s) => s.path).filter((p) => p !== '') ?? [];
  const machineMetrics = createMachineMetrics(metrics, { breaker: stateNames('breaker'), failover: stateNames('failover') });
  const hub = createLiveHub({ clock });
  const startedAt = clock.now();

  const recorder = createFlightRecorder({
    capacity: config.flightRecorder.capacity,
    clock,
    state: () => ({
      profile: config.profile,
      startedAt,
      tree: ctx.tree.system.tree(),
      topology: Object.fromEntries([...ctx.adapters.stores].map(([n, s]) => [n, s.topology()])),
      machines: directory.list(),
      faults: operator.faults(),
      history: sampler.history(),
      config: maskSecrets(config),
    }),
  });
  // An action's record carries what it changed (faults, breakers), so pages redraw without waiting for a sample.
  const operator: Operator = createOperator(ctx, { recorder, metrics, onRecord: (r) => hub.publish({ type: 'operator', data: { ...r, faults: operator.faults(), breakers: operator.breakers() } }) });

  // The bus remembers what happened before we attached (machines created by earlier features): replay it.
  for (const r of ctx.inspection.recent()) {
    directory.apply(r);
    machineMetrics(r);
    recorder.machine(r);
  }
  // Never unsubscribed: the recorder keeps recording through shutdown (a crash dump then shows the drain).
  ctx.inspection.subscribe((r) => {
    directory.apply(r);
    machineMetrics(r);
    recorder.machine(r);
    hub.publish({ type: 'machine', data: r });
  });
  ctx.tree.system.onLifecycle((e) => {
    recorder.actor(e);
    hub.publish({ type: 'actor', data: e });
  });

  const sampler = createSampler({
    config,
    clock,
    log: ctx.adapters.log,
    stores: ctx.adapters.stores,
    metrics,
    actors: () => ctx.tree.system.tree(),
    dlqDepth: () => {
      const own = operator.controls().dlq?.control.depth;
      return own ? Promise.resolve(own()) : null;
    },
    onSample: (sample, clusters) => hub.publish({ type: 'sample', data: pulse(parts, sample, clusters) }),
  });
  const parts: ViewParts = { ctx, startedAt, definitions, directory, sampler, operator, recorder };
  const faults = registerFaults(ctx);
  if (faults.length > 0) ctx.logger.info({ faults }, 'fault injection available (operator actions)');

  registerDashboardRoutes(ctx.app, { adminToken: config.http.adminToken, hub, operator, recorder, snapshot: () => snapshot(parts) });

  ctx.features.provide(dashboardKey, { flightRecorder: recorder, operator });
  return {
    name: 'dashboard',
    async start() {
      sampler.start();
    },
    async stop() {
      sampler.stop();
      hub.close();
    },
    status: () => ({ liveClients: hub.clients(), flightRecorder: { size: recorder.size(), capacity: config.flightRecorder.capacity }, faults: operator.faults().filter((f) => f.active).map((f) => f.name) }),
  };
};
