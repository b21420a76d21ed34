// A machine's definition (states and transitions) in a JSON-able form, for the visualizer and for tests that
// assert every transition was exercised. Transition ids are stable across machine.provide().
import type { AnyStateMachine, AnyTransitionDefinition, StateNode } from 'xstate';

export interface StateDescription {
  /** Dotted path from the root ('' is the machine itself). */
  path: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  description?: string;
  tags: string[];
  /** Named delays armed in this state ("after" transitions). */
  timers: string[];
  /** Invoked actors (effects the caller provides). */
  invokes: string[];
}

export interface TransitionDescription {
  id: string;
  source: string;
  /** Target path, or null for a transition that stays in its state (actions only). */
  target: string | null;
  /** The xstate event type, e.g. 'WINDOW.TRIPPED' or 'xstate.after.openTimeout.breaker.open'. */
  event: string;
  /** Human label: 'WINDOW.TRIPPED', 'after openTimeout', 'done promoteReplica'. */
  label: string;
  guard?: string;
  reenter: boolean;
}

export interface MachineDefinition {
  id: string;
  initial: string;
  states: StateDescription[];
  transitions: TransitionDescription[];
}

// xstate's StateNode generics are not useful here; any is confined to this alias.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyNode = StateNode<any, any>;

export function statePath(node: { path: readonly string[] }): string {
  return node.path.join('.');
}

/** Stable id of a transition definition: `<source path>|<event type>|<index among that event's transitions>`. */
export function transitionId(t: AnyTransitionDefinition): string {
  const list = t.eventType === '' ? t.source.always : t.source.transitions.get(t.eventType);
  const index = list ? list.indexOf(t) : -1;
  return `${statePath(t.source)}|${t.eventType}|${index}`;
}

export function transitionLabel(eventType: string): string {
  if (eventType.startsWith('xstate.after.')) return `after ${eventType.slice('xstate.after.'.length).split('.')[0]}`;
  if (eventType.startsWith('xstate.done.actor.')) return `done ${eventType.slice('xstate.done.actor.'.length)}`;
  if (eventType.startsWith('xstate.error.actor.')) return `error ${eventType.slice('xstate.error.actor.'.length)}`;
  if (eventType === '') return 'always';
  return eventType;
}

function guardName(t: AnyTransitionDefinition): string | undefined {
  const g = t.guard as unknown;
  if (g === undefined) return undefined;
  if (typeof g === 'string') return g;
  if (typeof g === 'function') return g.name || 'inline';
  if (g && typeof g === 'object' && 'type' in g && typeof (g as { type: unknown }).type === 'string') return (g as { type: string }).type;
  return 'inline';
}

export function describeMachine(machine: AnyStateMachine): MachineDefinition {
  const states: StateDescription[] = [];
  const transitions: TransitionDescription[] = [];
  const visit = (node: AnyNode) => {
    states.push({
      path: statePath(node),
      type: node.type,
      ...(node.description ? { description: node.description } : {}),
      tags: [...node.tags],
      timers: [...new Set(node.after.map((t) => String(t.delay)))],
      invokes: node.invoke.map((i) => (typeof i.src === 'string' ? i.src : i.id)),
    });
    const all: AnyTransitionDefinition[] = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    for (const t of all) {
      const target = t.target && t.target.length > 0 ? statePath(t.target[0]!) : null;
      const guard = guardName(t);
      transitions.push({ id: transitionId(t), source: statePath(node), target, event: t.eventType, label: transitionLabel(t.eventType), ...(guard ? { guard } : {}), reenter: t.reenter });
    }
    for (const child of Object.values(node.states)) visit(child as AnyNode);
  };
  visit(machine.root as AnyNode);
  const initial = machine.root.initial?.target?.[0];
  return { id: machine.id, initial: initial ? statePath(initial) : '', states, transitions };
}

/** The dotted path of a snapshot's active leaf state (our machines are flat, so a single path). */
export function stateValueToPath(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [key, inner] = Object.entries(value as Record<string, unknown>)[0] ?? [];
    if (key === undefined) return '';
    const rest = stateValueToPath(inner);
    return rest ? `${key}.${rest}` : key;
  }
  return '';
}
