// The one way a machine actor is made: it gets the injected clock, publishes every transition on the
// inspection bus, and, when restored from a persisted snapshot, re-arms the timers of its active states.
//
// Why re-arming is needed: xstate persists context and state but not its scheduled `after` events. Our
// machines keep their deadlines as absolute times in context and compute named delays from them, so
// re-scheduling each active `after` event with the delay evaluated now fires it at the original deadline.
import { createActor, type Actor, type AnyStateMachine, type InputFrom, type InspectionEvent, type Snapshot } from 'xstate';
import type { Clock } from '../lib/clock.ts';
import { stateValueToPath, transitionId } from './describe.ts';
import { recordEvent, type InspectionBus, type MachineRecord } from './inspection.ts';

export interface MachineActorOptions<TMachine extends AnyStateMachine> {
  clock: Clock;
  /** Names the actor on the bus, e.g. 'breaker:redis0' or 'failover:pg1'. */
  id: string;
  /** Where transitions are published: an InspectionBus, or any sink with publish(). */
  inspect?: Pick<InspectionBus, 'publish'>;
  /** A persisted snapshot (actor.getPersistedSnapshot()) to resume from. */
  snapshot?: Snapshot<unknown>;
  input?: InputFrom<TMachine>;
  /** Start the actor (default true). */
  start?: boolean;
}

interface MachineLikeSnapshot {
  value: unknown;
  context: unknown;
  _nodes: Array<{ after: Array<{ eventType: string; delay?: string | number }> }>;
}

export function createMachineActor<TMachine extends AnyStateMachine>(machine: TMachine, opts: MachineActorOptions<TMachine>): Actor<TMachine> {
  const { clock, id, inspect: bus } = opts;
  let root: Actor<TMachine> | undefined;
  let current: string | null = null;

  const publish = (record: Omit<MachineRecord, 'machineId' | 'at'>) => bus?.publish({ machineId: id, at: clock.now(), ...record });

  const inspect = bus
    ? (ev: InspectionEvent) => {
        if (ev.actorRef !== root) return;
        if (ev.type === '@xstate.snapshot' && current === null) {
          const snap = ev.snapshot as unknown as MachineLikeSnapshot;
          current = stateValueToPath(snap.value);
          publish({ type: 'machine.init', from: null, to: current, event: recordEvent(ev.event), transitions: [], context: snap.context });
        } else if (ev.type === '@xstate.microstep') {
          const snap = ev.snapshot as unknown as MachineLikeSnapshot;
          const to = stateValueToPath(snap.value);
          const type = ev.event.type === 'xstate.stop' ? 'machine.stop' : 'machine.transition';
          publish({ type, from: current, to, event: recordEvent(ev.event), transitions: ev._transitions.map(transitionId), context: snap.context });
          current = to;
        }
      }
    : undefined;

  // Options are assembled loosely: xstate's conditional `input` requirement does not survive generics.
  const actorOptions = { clock, id, ...(opts.snapshot ? { snapshot: opts.snapshot } : {}), ...(opts.input !== undefined ? { input: opts.input } : {}), ...(inspect ? { inspect } : {}) };
  root = (createActor as (m: TMachine, o: typeof actorOptions) => Actor<TMachine>)(machine, actorOptions);
  if (opts.start ?? true) {
    root.start();
    if (opts.snapshot) rearmTimers(machine, root);
  }
  return root;
}

/** Re-schedules the `after` events of the active states, with delays evaluated against the restored context. */
export function rearmTimers(machine: AnyStateMachine, actor: Actor<AnyStateMachine>): void {
  const snap = actor.getSnapshot() as unknown as MachineLikeSnapshot & { status: string };
  if (snap.status !== 'active') return;
  const delays = (machine.implementations.delays ?? {}) as Record<string, unknown>;
  const seen = new Set<string>();
  for (const node of snap._nodes) {
    for (const t of node.after) {
      if (seen.has(t.eventType)) continue;
      seen.add(t.eventType);
      const impl = typeof t.delay === 'string' ? delays[t.delay] : t.delay;
      const ms = typeof impl === 'function' ? (impl as (a: { context: unknown; event: { type: string } }) => number)({ context: snap.context, event: { type: 'xstate.resume' } }) : typeof impl === 'number' ? impl : 0;
      actor.system.scheduler.cancel(actor, t.eventType);
      actor.system.scheduler.schedule(actor, actor, { type: t.eventType }, Math.max(0, ms), t.eventType);
    }
  }
}
