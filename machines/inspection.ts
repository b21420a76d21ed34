// The machines' event stream: one record per transition of every machine actor (fed by the inspect hook of
// create-machine-actor.ts). Metrics, the flight recorder and the visualizer subscribe here; nothing is global.

export type MachineRecordType = 'machine.init' | 'machine.transition' | 'machine.stop';

/** A JSON-safe copy of the event that caused a transition (errors become {name, code, message}). */
export interface RecordedEvent {
  type: string;
  [key: string]: unknown;
}

export interface MachineRecord {
  machineId: string;
  type: MachineRecordType;
  /** Dotted state path before the transition (null for machine.init). */
  from: string | null;
  to: string;
  event: RecordedEvent;
  /** Ids of the transition definitions taken (same ids as describeMachine's), for drawing and coverage. */
  transitions: string[];
  at: number;
  /** The machine's context after the transition (our machines keep it small and JSON-able). */
  context: unknown;
}

export type MachineRecordListener = (record: MachineRecord) => void;

export interface InspectionBus {
  subscribe(listener: MachineRecordListener): () => void;
  publish(record: MachineRecord): void;
  /** The last `capacity` records, oldest first: lets a late subscriber (the visualizer) draw the present. */
  recent(): MachineRecord[];
}

export function createInspectionBus(opts: { capacity?: number } = {}): InspectionBus {
  const capacity = Math.max(0, opts.capacity ?? 500);
  const listeners = new Set<MachineRecordListener>();
  const ring: MachineRecord[] = [];
  let next = 0;
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    publish(record) {
      if (capacity > 0) {
        if (ring.length < capacity) ring.push(record);
        else ring[next] = record;
        next = (next + 1) % capacity;
      }
      for (const listener of listeners) {
        // A broken subscriber must never break the machine that is reporting.
        try {
          listener(record);
        } catch {
          /* ignored on purpose */
        }
      }
    },
    recent() {
      return ring.length < capacity ? ring.slice() : [...ring.slice(next), ...ring.slice(0, next)];
    },
  };
}

/** Copies a value into a JSON-safe form: Errors keep name/code/message, functions and cycles are dropped. */
export function toJsonSafe(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return undefined;
  if (depth > 4) return '[…]';
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}) };
  }
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => toJsonSafe(v, depth + 1));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return `[${(value as object).constructor?.name ?? 'object'}]`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const safe = toJsonSafe(v, depth + 1);
    if (safe !== undefined) out[k] = safe;
  }
  return out;
}

export function recordEvent(event: { type: string }): RecordedEvent {
  return toJsonSafe(event) as RecordedEvent;
}
