// Model-based testing for our machines with @xstate/graph. createTestModel refuses machines with `after`
// transitions and invocations, which ours need, so we use getShortestPaths directly with a state
// serialization that includes the incoming edge: a shortest path to every (state, incoming transition) pair
// is a path over every transition. Each path is then replayed on a real actor made by createMachineActor, on
// simulated time: timers fire by moving the clock to the deadline in context, invoked effects are deferreds
// the path resolves or rejects, and (on alternate paths) the actor is persisted and restored before a timer
// fires, so every timed state is also checked to re-arm from a snapshot.
import { getShortestPaths, type StatePath } from '@xstate/graph';
import { fromPromise, type AnyEventObject, type AnyStateMachine, type SnapshotFrom } from 'xstate';
import assert from 'node:assert/strict';
import { SimulatedClock } from '../../../../lib/clock.ts';
import { createMachineActor } from '../../../../machines/create-machine-actor.ts';
import { describeMachine, stateValueToPath } from '../../../../machines/describe.ts';
import { createInspectionBus, type MachineRecord } from '../../../../machines/inspection.ts';

/** What every machine snapshot has; SnapshotFrom of a generic machine does not expose it. */
type Loose = { status: string; value: unknown; context: unknown };

export interface Deferred {
  input: unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** Invoked effects under test control: each call parks a deferred the path settles later. */
export class Effects {
  readonly pending = new Map<string, Deferred>();
  readonly calls: Array<{ name: string; input: unknown }> = [];

  actor(name: string) {
    return fromPromise<unknown, unknown>(({ input }) => {
      this.calls.push({ name, input });
      return new Promise((resolve, reject) => this.pending.set(name, { input, resolve, reject }));
    });
  }

  settle(name: string, outcome: { ok: true; value: unknown } | { ok: false; error: unknown }): void {
    const d = this.pending.get(name);
    if (!d) throw new Error(`no pending effect "${name}"`);
    this.pending.delete(name);
    if (outcome.ok) d.resolve(outcome.value);
    else d.reject(outcome.error);
  }
}

export async function flush(): Promise<void> {
  // Lets promise chains (invoked actors settling) run; not a sleep: no time passes on any clock.
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}

export interface ModelOptions<TMachine extends AnyStateMachine> {
  /** Builds the machine on the given clock with effects provided from `effects`. */
  build(clock: SimulatedClock, effects: Effects): TMachine;
  input?: unknown;
  /** The events to try in a state (payload samples); events whose transitions are all disabled are dropped. */
  events(snapshot: SnapshotFrom<TMachine>): AnyEventObject[];
  /** The part of the snapshot that identifies a state for traversal (value plus the context that matters). */
  abstract(snapshot: SnapshotFrom<TMachine>): string;
  /** Do not explore beyond states matching this (keeps the model finite where context could grow). */
  stopWhen?: (snapshot: SnapshotFrom<TMachine>) => boolean;
  /** Upper bound on paths, to notice a state-space explosion early. */
  maxPaths?: number;
}

export interface ModelResult {
  paths: number;
  steps: number;
  /** Transition ids taken on the real actors. */
  covered: Set<string>;
  visited: Set<string>;
  records: MachineRecord[];
}

export function modelPaths<TMachine extends AnyStateMachine>(machine: TMachine, opts: ModelOptions<TMachine>): Array<StatePath<SnapshotFrom<TMachine>, AnyEventObject>> {
  // A done machine ignores events, but getTransitionData would still list its root transitions.
  const enabled = (s: SnapshotFrom<TMachine>) => ((s as Loose).status !== 'active' ? [] : opts.events(s)).filter((e) => machine.getTransitionData(s as never, e as never).length > 0);
  const serialize = (s: SnapshotFrom<TMachine>, e: AnyEventObject | undefined, prev?: SnapshotFrom<TMachine>) =>
    e && prev ? `${opts.abstract(s)} <${e.type}${JSON.stringify(stripType(e))}> ${opts.abstract(prev)}` : opts.abstract(s);
  const paths = getShortestPaths(machine, { input: opts.input, events: enabled as never, serializeState: serialize as never, ...(opts.stopWhen ? { stopWhen: opts.stopWhen as never } : {}) } as never) as unknown as Array<StatePath<SnapshotFrom<TMachine>, AnyEventObject>>;
  if (paths.length > (opts.maxPaths ?? 2_000)) throw new Error(`${paths.length} paths: abstract() lets the state space grow`);
  return paths;
}

function stripType(e: AnyEventObject): Record<string, unknown> {
  const { type: _t, ...rest } = e;
  // Errors do not stringify; their message identifies the sample.
  return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v instanceof Error ? v.message : v]));
}

/** Replays every path on real actors; returns what was exercised. */
export async function runModel<TMachine extends AnyStateMachine>(opts: ModelOptions<TMachine>): Promise<ModelResult> {
  const paths = modelPaths(opts.build(new SimulatedClock(0), new Effects()), opts);
  const result: ModelResult = { paths: paths.length, steps: 0, covered: new Set(), visited: new Set(), records: [] };
  for (const [index, path] of paths.entries()) {
    const clock = new SimulatedClock(1_000_000);
    const effects = new Effects();
    const machine = opts.build(clock, effects);
    const bus = createInspectionBus({ capacity: 0 });
    bus.subscribe((r) => {
      result.records.push(r);
      result.visited.add(r.to);
      for (const t of r.transitions) result.covered.add(t);
    });
    const id = `model-${index}`;
    let actor = createMachineActor(machine, { clock, id, inspect: bus, ...(opts.input !== undefined ? { input: opts.input as never } : {}) });
    await flush();
    const restoreBeforeTimers = index % 2 === 0;
    for (const step of path.steps.slice(1)) {
      const e = step.event;
      const description = `path ${index} step ${e.type}`;
      if (e.type.startsWith('xstate.after.')) {
        if (restoreBeforeTimers) {
          const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
          actor.stop();
          actor = createMachineActor(machine, { clock, id, inspect: bus, snapshot: persisted });
          await flush();
        }
        const deadline = ((actor.getSnapshot() as Loose).context as { deadline: number | null }).deadline;
        assert.notEqual(deadline, null, `${description}: no deadline in context`);
        clock.set(deadline!);
      } else if (e.type.startsWith('xstate.done.actor.')) {
        effects.settle(e.type.slice('xstate.done.actor.'.length), { ok: true, value: (e as { output?: unknown }).output });
      } else if (e.type.startsWith('xstate.error.actor.')) {
        effects.settle(e.type.slice('xstate.error.actor.'.length), { ok: false, error: (e as { error?: unknown }).error });
      } else {
        actor.send(e as never);
      }
      await flush();
      result.steps++;
      assert.equal(stateValueToPath((actor.getSnapshot() as Loose).value), stateValueToPath((step.state as Loose).value), description);
    }
    actor.stop();
  }
  return result;
}

/** Every transition and every leaf state of the machine was exercised. */
export function expectFullCoverage(machine: AnyStateMachine, results: ModelResult[]): void {
  const def = describeMachine(machine);
  const covered = new Set(results.flatMap((r) => [...r.covered]));
  const visited = new Set(results.flatMap((r) => [...r.visited]));
  const missingTransitions = def.transitions.filter((t) => !covered.has(t.id)).map((t) => t.id);
  const missingStates = def.states.filter((s) => s.type === 'atomic' || s.type === 'final').filter((s) => !visited.has(s.path)).map((s) => s.path);
  assert.deepEqual(missingTransitions, [], 'transitions never taken');
  assert.deepEqual(missingStates, [], 'states never entered');
}
