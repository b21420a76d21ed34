// The flight recorder keeps the last N events of every source in order, captures them with the daemon's state,
// and writes a capture to disk synchronously (the crash path).
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFlightRecorder, FLIGHT_FORMAT } from '../../../features/dashboard/flight-recorder.ts';
import { SimulatedClock } from '../../../lib/clock.ts';

const machine = (i: number) => ({ machineId: 'breaker:r0', type: 'machine.transition' as const, from: 'closed', to: 'open', event: { type: 'WINDOW.TRIPPED' }, transitions: [], at: i, context: { trips: i } });

describe('flight recorder', () => {
  it('is bounded: keeps the newest entries in order and counts what it dropped', () => {
    const clock = new SimulatedClock(1_000);
    const rec = createFlightRecorder({ capacity: 3, clock, state: () => ({ tree: [] }) });
    rec.actor({ type: 'actor.spawned', path: '/a', kind: 'x', at: 1 });
    for (let i = 2; i <= 4; i++) rec.machine(machine(i));
    rec.operator({ action: 'fault.inject', target: 'stop-redis:redis0', outcome: 'ok', message: 'injected' });
    expect(rec.size()).toBe(3);
    const cap = rec.capture('test');
    expect(cap.format).toBe(FLIGHT_FORMAT);
    expect(cap.dropped).toBe(2);
    expect(cap.entries.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(cap.entries.map((e) => e.source)).toEqual(['machine', 'machine', 'operator']);
    expect(cap.entries[2]).toMatchObject({ type: 'operator.action', action: 'fault.inject', at: 1_000 });
    expect(cap.state).toEqual({ tree: [] });
  });

  it('writes a capture with the error to disk, and survives a state function that throws', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'flight-')), 'nested');
    const rec = createFlightRecorder({
      capacity: 10,
      clock: new SimulatedClock(0),
      state: () => {
        throw new Error('tree unavailable');
      },
    });
    rec.machine(machine(1));
    const file = rec.writeToDisk(dir, 'uncaughtException', Object.assign(new Error('boom'), { code: 'X' }));
    expect(readdirSync(dir)).toEqual([path.basename(file)]);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expect(json).toMatchObject({ reason: 'uncaughtException', error: { name: 'Error', message: 'boom', code: 'X' }, state: { unavailable: { message: 'tree unavailable' } } });
    expect(json.entries).toHaveLength(1);
  });
});
