// The flight recorder: a bounded ring of actor lifecycle events, machine transitions and operator actions, in
// the order they happened. Downloadable at any time; written to disk (synchronously, the process may be dying)
// when the daemon crashes, so the minutes before an incident can be replayed on the dashboard afterwards.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LifecycleEvent } from '../../actors/runtime/system.ts';
import type { Clock } from '../../lib/clock.ts';
import { Ring } from '../../lib/ring.ts';
import { toJsonSafe, type MachineRecord } from '../../machines/inspection.ts';

export interface OperatorRecord {
  type: 'operator.action';
  action: string;
  target: string | null;
  outcome: 'ok' | 'refused' | 'failed';
  message: string;
  at: number;
}

export type FlightEntry =
  | ({ seq: number; source: 'actor' } & LifecycleEvent)
  | ({ seq: number; source: 'machine' } & MachineRecord)
  | ({ seq: number; source: 'operator' } & OperatorRecord);

export const FLIGHT_FORMAT = 'tagstream-flight-recording';

export interface FlightRecording {
  format: typeof FLIGHT_FORMAT;
  version: 1;
  reason: string;
  error?: unknown;
  capturedAt: number;
  pid: number;
  capacity: number;
  /** Entries pushed out of the ring before this capture (the recording starts after them). */
  dropped: number;
  /** What the daemon looked like at capture time (tree, topology, machine states, config with secrets masked). */
  state: unknown;
  entries: FlightEntry[];
}

export interface FlightRecorder {
  actor(e: LifecycleEvent): void;
  machine(r: MachineRecord): void;
  operator(r: Omit<OperatorRecord, 'type' | 'at'>): OperatorRecord;
  entries(): FlightEntry[];
  size(): number;
  capture(reason: string, error?: unknown): FlightRecording;
  /** Writes a capture to `dir` and returns its path. Synchronous on purpose: it runs on the crash path. */
  writeToDisk(dir: string, reason: string, error?: unknown): string;
}

export function createFlightRecorder(opts: { capacity: number; clock: Clock; state: () => unknown }): FlightRecorder {
  const ring = new Ring<FlightEntry>(opts.capacity);
  let seq = 0;
  const capture = (reason: string, error?: unknown): FlightRecording => {
    let state: unknown;
    try {
      state = opts.state();
    } catch (err) {
      state = { unavailable: toJsonSafe(err) };
    }
    return {
      format: FLIGHT_FORMAT,
      version: 1,
      reason,
      ...(error !== undefined ? { error: toJsonSafe(error) } : {}),
      capturedAt: opts.clock.now(),
      pid: process.pid,
      capacity: ring.capacity,
      dropped: ring.dropped,
      state,
      entries: ring.toArray(),
    };
  };
  return {
    actor: (e) => ring.push({ seq: ++seq, source: 'actor', ...e }),
    machine: (r) => ring.push({ seq: ++seq, source: 'machine', ...r }),
    operator(r) {
      const rec: OperatorRecord = { type: 'operator.action', ...r, at: opts.clock.now() };
      ring.push({ seq: ++seq, source: 'operator', ...rec });
      return rec;
    },
    entries: () => ring.toArray(),
    size: () => ring.size,
    capture,
    writeToDisk(dir, reason, error) {
      const rec = capture(reason, error);
      mkdirSync(dir, { recursive: true });
      const stamp = new Date(rec.capturedAt).toISOString().replace(/[:.]/g, '-');
      const file = path.join(dir, `flight-${stamp}-pid${process.pid}.json`);
      writeFileSync(file, JSON.stringify(rec));
      return file;
    },
  };
}
