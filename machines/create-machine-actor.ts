// The one way a machine actor is made: it gets the injected clock, publishes every transition on the
// inspection bus, and, when restored from a persisted snapshot, re-arms the timers of its active states.
// xstate's public API only (createActor's `inspect` option, machine.getTransitionData, getStateNodes,
// StateNode.after, actor.send): the next minor cannot break the visualizer behind our back.
//
// Why re-arming is needed: xstate persists context and state but not its scheduled `after` events. Our
// machines keep their deadlines as absolute times in context and compute named delays from them, so a timer
// set on our clock for the delay evaluated now, which sends the `after` event, fires it at the original deadline.
import { createActor, getStateNodes, type Actor, type AnyMachineSnapshot, type AnyStateMachine, type EventObject, type InputFrom, type InspectionEvent, type Snapshot } from 'xstate';
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

/** A machine actor's snapshots are machine snapshots; the inspection events type them as any actor's. */
const machineSnapshot = (s: Snapshot<unknown>): AnyMachineSnapshot => s as AnyMachineSnapshot;

export function createMachineActor<TMachine extends AnyStateMachine>(machine: TMachine, opts: MachineActorOptions<TMachine>): Actor<TMachine> {
  const { clock, id, inspect: bus } = opts;
  let root: Actor<TMachine> | undefined;
  let current: string | null = null;
  // The snapshot before the microstep being reported: the transitions it took are the machine's own answer to
  // (that snapshot, that event) — machine.getTransitionData, pure.
  let before: AnyMachineSnapshot | null = null;

  const publish = (record: Omit<MachineRecord, 'machineId' | 'at'>) => bus?.publish({ machineId: id, at: clock.now(), ...record });

  const inspect = bus
    ? (ev: InspectionEvent) => {
        if (ev.actorRef !== root) return;
        if (ev.type === '@xstate.snapshot' && current === null) {
          const snap = machineSnapshot(ev.snapshot);
          current = stateValueToPath(snap.value);
          before = snap;
          publish({ type: 'machine.init', from: null, to: current, event: recordEvent(ev.event), transitions: [], context: snap.context });
        } else if (ev.type === '@xstate.microstep') {
          const snap = machineSnapshot(ev.snapshot);
          const to = stateValueToPath(snap.value);
          const stop = ev.event.type === 'xstate.stop';
          const taken = stop || !before ? [] : machine.getTransitionData(before, ev.event);
          publish({ type: stop ? 'machine.stop' : 'machine.transition', from: current, to, event: recordEvent(ev.event), transitions: taken.map(transitionId), context: snap.context });
          current = to;
          before = snap;
        }
      }
    : undefined;

  // Options are assembled loosely: xstate's conditional `input` requirement does not survive generics.
  const actorOptions = { clock, id, ...(opts.snapshot ? { snapshot: opts.snapshot } : {}), ...(opts.input !== undefined ? { input: opts.input } : {}), ...(inspect ? { inspect } : {}) };
  root = (createActor as (m: TMachine, o: typeof actorOptions) => Actor<TMachine>)(machine, actorOptions);
  if (opts.start ?? true) {
    root.start();
    if (opts.snapshot) rearmTimers(machine, root, clock);
  }
  return root;
}

type DelayImpl = number | ((args: { context: unknown; event: EventObject }) => number);

/**
 * Re-arms the `after` events of the active states of a restored actor, with delays evaluated against the
 * restored context, on `clock`. A re-armed timer sends its event only if, when it fires, the state that armed
 * it is still the active one and its delay (from the context now) has run out: a state left and re-entered
 * since has a new deadline in its context and a timer of xstate's own for it.
 */
export function rearmTimers(machine: AnyStateMachine, actor: Actor<AnyStateMachine>, clock: Clock): void {
  const snap = actor.getSnapshot() as AnyMachineSnapshot;
  if (snap.status !== 'active') return;
  const delays = (machine.implementations.delays ?? {}) as Record<string, DelayImpl | undefined>;
  // A named delay (setup({ delays })), an inline expression, or a number.
  const delayOf = (delay: unknown, context: unknown): number => {
    const impl = (typeof delay === 'string' ? delays[delay] : delay) as DelayImpl | undefined;
    return typeof impl === 'function' ? impl({ context, event: { type: 'xstate.resume' } }) : typeof impl === 'number' ? impl : 0;
  };
  const armedIn = stateValueToPath(snap.value);
  const seen = new Set<string>();
  for (const node of getStateNodes(machine.root, snap.value)) {
    for (const t of node.after) {
      if (seen.has(t.eventType)) continue;
      seen.add(t.eventType);
      clock.setTimeout(() => {
        const now = actor.getSnapshot() as AnyMachineSnapshot;
        if (now.status !== 'active' || stateValueToPath(now.value) !== armedIn) return;
        if (delayOf(t.delay, now.context) > 0) return;
        actor.send({ type: t.eventType });
      }, Math.max(0, delayOf(t.delay, snap.context)));
    }
  }
}
