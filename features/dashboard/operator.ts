// Operator actions, whoever asks (dashboard, CLI, a test): force a breaker, replay the DLQ, switch a cluster
// over, inject and heal faults. Each action is validated, carried out through the feature that owns the thing,
// and written to the flight recorder, the live stream and tagstream_operator_actions_total — refused or not.
import { ErrorCodes, TagstreamError, errorMessage } from '../../lib/errors.ts';
import type { Metrics } from '../../lib/metrics.ts';
import { findControls, listBreakers, type BreakerView, type DlqReplayResult, type ForcedBreakerState, type OperatorControls, type SwitchoverResult } from '../controls.ts';
import type { DaemonContext } from '../feature.ts';
import type { FlightRecorder, OperatorRecord } from './flight-recorder.ts';

export const FORCED_STATES: readonly ForcedBreakerState[] = ['open', 'closed', 'disabled', 'metrics-only'];

export interface FaultView {
  name: string;
  description: string;
  active: boolean;
  healable: boolean;
}

export interface Operator {
  controls(): OperatorControls;
  breakers(): Array<BreakerView & { feature: string }>;
  faults(): FaultView[];
  forceBreaker(name: string, state: string): Promise<{ breaker: string; state: ForcedBreakerState }>;
  replayDlq(limit?: number): Promise<DlqReplayResult>;
  switchover(cluster: string, target?: string): Promise<SwitchoverResult | { cluster: string; started: true }>;
  injectFault(name: string): Promise<FaultView>;
  healFault(name: string): Promise<FaultView>;
  /** Records a refusal that happened before an action ran (e.g. a missing admin token). */
  refused(action: string, target: string | null, message: string): void;
}

export function createOperator(ctx: DaemonContext, deps: { recorder: FlightRecorder; metrics: Metrics; onRecord: (r: OperatorRecord) => void }): Operator {
  const active = new Set<string>();
  const note = (action: string, target: string | null, outcome: OperatorRecord['outcome'], message: string) => {
    deps.metrics.operatorActions.inc({ action, outcome });
    deps.onRecord(deps.recorder.operator({ action, target, outcome, message }));
    ctx.logger[outcome === 'ok' ? 'info' : 'warn']({ action, target, outcome }, `operator: ${message}`);
  };
  /** Runs an action and records its outcome; TagstreamErrors are refusals, anything else a failure. */
  const act = async <T>(action: string, target: string | null, run: () => Promise<T>, describe: (v: T) => string): Promise<T> => {
    try {
      const value = await run();
      note(action, target, 'ok', describe(value));
      return value;
    } catch (err) {
      const refused = err instanceof TagstreamError && err.code !== ErrorCodes.TIMEOUT;
      note(action, target, refused ? 'refused' : 'failed', `${action}${target ? ` ${target}` : ''}: ${errorMessage(err)}`);
      throw err;
    }
  };
  const faultsOn = () => {
    if (ctx.config.profile === 'production' || !ctx.config.faultInjection) throw new TagstreamError(ErrorCodes.FAULT_INJECTION_OFF, `fault injection is off in the ${ctx.config.profile} profile${ctx.config.faultInjection ? '' : ' (faultInjection: false)'}`);
  };
  const fault = (name: string) => {
    faultsOn();
    const f = ctx.faults.get(name);
    if (!f) throw new TagstreamError(ErrorCodes.NOT_FOUND, `no fault named "${name}"; known: ${[...ctx.faults.keys()].join(', ') || 'none'}`);
    return f;
  };
  const view = (name: string): FaultView => {
    const f = ctx.faults.get(name)!;
    return { name, description: f.description, active: active.has(name), healable: typeof f.heal === 'function' };
  };
  const controls = () => findControls(ctx.features.values());

  return {
    controls,
    breakers: () => listBreakers(controls()),
    faults: () => [...ctx.faults.keys()].sort().map(view),
    forceBreaker: (name, state) =>
      act(
        'breaker.force',
        name,
        async () => {
          if (!FORCED_STATES.includes(state as ForcedBreakerState)) throw new TagstreamError(ErrorCodes.BAD_REQUEST, `state must be one of ${FORCED_STATES.join(', ')} (got "${state}")`);
          const c = controls();
          if (c.breakers.length === 0) throw new TagstreamError(ErrorCodes.NOT_SUPPORTED, 'no attached feature offers breaker control (controls.breakers)');
          const owner = c.breakers.find(({ control }) => safeList(control).some((b) => b.name === name));
          if (!owner) throw new TagstreamError(ErrorCodes.NOT_FOUND, `no breaker named "${name}"; known: ${listBreakers(c).map((b) => b.name).join(', ') || 'none'}`);
          await owner.control.force(name, state as ForcedBreakerState);
          return { breaker: name, state: state as ForcedBreakerState };
        },
        (v) => `breaker ${v.breaker} forced ${v.state}`,
      ),
    replayDlq: (limit) =>
      act(
        'dlq.replay',
        null,
        async () => {
          if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new TagstreamError(ErrorCodes.BAD_REQUEST, `limit must be a positive integer (got ${limit})`);
          const dlq = controls().dlq;
          if (!dlq) throw new TagstreamError(ErrorCodes.NOT_SUPPORTED, 'no attached feature offers DLQ replay (controls.dlq)');
          return dlq.control.replay(limit !== undefined ? { limit } : {});
        },
        (r) => `DLQ replay: ${r.replayed} replayed${r.parked !== undefined ? `, ${r.parked} parked` : ''}${r.remaining !== undefined ? `, ${r.remaining} left` : ''}`,
      ),
    switchover: (cluster, target) =>
      act(
        'switchover',
        cluster,
        async () => {
          if (!ctx.adapters.stores.has(cluster)) throw new TagstreamError(ErrorCodes.NOT_FOUND, `no cluster named "${cluster}"; known: ${[...ctx.adapters.stores.keys()].join(', ')}`);
          const s = controls().switchover;
          if (!s) throw new TagstreamError(ErrorCodes.NOT_SUPPORTED, 'no attached feature offers switchover (controls.switchover)');
          const r = await s.control.switchover(cluster, target !== undefined ? { target } : {});
          return r ?? { cluster, started: true as const };
        },
        (r) => ('from' in r ? `switchover of ${r.cluster}: ${r.from} → ${r.to}` : `switchover of ${r.cluster} started`),
      ),
    injectFault: (name) =>
      act(
        'fault.inject',
        name,
        async () => {
          await fault(name).inject();
          active.add(name);
          return view(name);
        },
        () => `fault ${name} injected`,
      ),
    healFault: (name) =>
      act(
        'fault.heal',
        name,
        async () => {
          const f = fault(name);
          if (!f.heal) throw new TagstreamError(ErrorCodes.NOT_SUPPORTED, `fault ${name} cannot be healed from here`);
          await f.heal();
          active.delete(name);
          return view(name);
        },
        () => `fault ${name} healed`,
      ),
    refused: (action, target, message) => note(action, target, 'refused', message),
  };
}

function safeList(control: { list(): BreakerView[] }): BreakerView[] {
  try {
    return control.list();
  } catch {
    return [];
  }
}
