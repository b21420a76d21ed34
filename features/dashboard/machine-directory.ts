// Every machine actor the inspection bus has told us about, by id ('breaker:redis0', 'failover:pg1', 'retry:…'):
// its kind (the id's prefix, which names its definition), current state, when it got there and its last few
// transitions. Bounded: finished and stopped instances are evicted first.
import { toJsonSafe, type MachineRecord } from '../../machines/inspection.ts';

export interface TransitionView {
  from: string | null;
  to: string;
  event: string;
  transitions: string[];
  at: number;
}

export interface MachineInstanceView {
  id: string;
  kind: string;
  /** The id after the kind: 'redis0' for 'breaker:redis0' ('' when the id is only the kind). */
  name: string;
  state: string;
  since: number;
  /** 'done' once in a final state, 'stopped' after machine.stop. */
  status: 'active' | 'done' | 'stopped';
  updatedAt: number;
  recent: TransitionView[];
  context: unknown;
}

export function kindOf(machineId: string): { kind: string; name: string } {
  const i = machineId.indexOf(':');
  return i < 0 ? { kind: machineId, name: '' } : { kind: machineId.slice(0, i), name: machineId.slice(i + 1) };
}

export interface MachineDirectory {
  apply(record: MachineRecord): MachineInstanceView;
  list(): MachineInstanceView[];
  get(id: string): MachineInstanceView | undefined;
}

export interface DirectoryOptions {
  finalStates: (kind: string) => ReadonlySet<string>;
  /** Ids of transitions without a target (actions only): kept out of `recent`, they do not move the machine. */
  internalTransitions?: (kind: string) => ReadonlySet<string>;
  maxInstances?: number;
  recentPerInstance?: number;
}

export function createMachineDirectory(opts: DirectoryOptions): MachineDirectory {
  const max = opts.maxInstances ?? 200;
  const keep = opts.recentPerInstance ?? 12;
  const byId = new Map<string, MachineInstanceView>();

  const evict = () => {
    if (byId.size <= max) return;
    const order = [...byId.values()].sort((a, b) => rank(a) - rank(b) || a.updatedAt - b.updatedAt);
    for (const v of order.slice(0, byId.size - max)) byId.delete(v.id);
  };

  return {
    apply(r) {
      const { kind, name } = kindOf(r.machineId);
      let v = byId.get(r.machineId);
      if (!v || r.type === 'machine.init') {
        v = { id: r.machineId, kind, name, state: r.to, since: r.at, status: 'active', updatedAt: r.at, recent: v?.recent ?? [], context: null };
        byId.delete(r.machineId); // re-inserted last: Map order is recency order
        byId.set(r.machineId, v);
      }
      if (r.type === 'machine.stop') {
        v.status = 'stopped';
      } else {
        if (r.to !== v.state || r.type === 'machine.init') v.since = r.at;
        v.state = r.to;
        v.status = opts.finalStates(kind).has(r.to) ? 'done' : 'active';
        v.context = toJsonSafe(r.context);
      }
      v.updatedAt = r.at;
      const internal = opts.internalTransitions?.(kind);
      if (r.type === 'machine.transition' && (r.from !== r.to || r.transitions.some((id) => !internal?.has(id)))) {
        v.recent.push({ from: r.from, to: r.to, event: r.event.type, transitions: r.transitions, at: r.at });
        if (v.recent.length > keep) v.recent.splice(0, v.recent.length - keep);
      }
      evict();
      return v;
    },
    list: () => [...byId.values()],
    get: (id) => byId.get(id),
  };
}

function rank(v: MachineInstanceView): number {
  return v.status === 'stopped' ? 0 : v.status === 'done' ? 1 : 2;
}
