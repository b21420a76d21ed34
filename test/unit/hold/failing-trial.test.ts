// "Writes failing" must not hold a cluster for good. A writer's failed apply marks its cluster unwritable; only an
// apply that works cleared the mark. But an unwritable cluster is held: its new commands go to the hold topic and
// its re-feeder is suspended, so once the failing writer's retry ended (it crashed on an unknown error, or its
// batch was the last) nothing was ever applied to that cluster again — and nothing cleared the mark. A fleet's
// hold topic stayed undrained after a promotion (committed 0 of ~4,000 held commands for 4 minutes). Now the mark
// holds while failures keep coming; once none came for a quiet period the cluster is writable again on trial: the
// re-feeder resumes, and the first failure of the trial makes it unwritable at once. On simulated time.
import { describe, expect, it } from 'vitest';
import type { CommandLog } from '../../../adapters/kafka/port.ts';
import { HoldBoard, WRITES_TRIAL_AFTER_MS, type DrainControl } from '../../../actors/hold/hold-board.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';

function board() {
  const clock = new SimulatedClock(0);
  const offsets = { end: 10, committed: 0 };
  const log = { endOffsets: async () => new Map([[0, String(offsets.end)]]), committed: async () => new Map([[0, String(offsets.committed)]]), read: async () => [] } as unknown as CommandLog;
  const calls: string[] = [];
  let running = false;
  let suspended = false;
  const drain: DrainControl = {
    get running() {
      return running;
    },
    get isSuspended() {
      return suspended;
    },
    unread: () => 10,
    start: async () => void (running = true),
    suspend: () => {
      suspended = true;
      calls.push('suspend');
    },
    resume: () => {
      if (suspended) calls.push('resume');
      suspended = false;
    },
    stop: async () => void (running = false),
  };
  const b = new HoldBoard({ log, clusters: ['a'], holdTopic: () => 'h', drainGroup: () => 'g', drain: () => drain, config: { enabled: true, stallMs: 3_000, pollMs: 500, releaseBelow: 500 }, clock, logger: silentLogger() });
  return { b, clock, calls, drain, offsets };
}

describe('hold board: writes failing', () => {
  it('keeps the cluster unwritable while failures keep coming', () => {
    const { b, clock } = board();
    b.noteApplyFailed('a', new Error('connect ECONNREFUSED'));
    clock.increment(1_000);
    expect(b.writable('a').ok).toBe(false);
    for (let t = 0; t < 20; t++) {
      clock.increment(1_000);
      b.noteApplyFailed('a', new Error('connect ECONNREFUSED')); // a writer retrying every second
      clock.increment(100);
      expect(b.writable('a')).toEqual({ ok: false, reason: 'writes failing: connect ECONNREFUSED' });
    }
  });

  it('writable on trial once no failure came for a quiet period; the first failure of the trial ends it at once', async () => {
    const { b, clock, calls } = board();
    b.noteApplyFailed('a', new Error('terminating connection due to unexpected postmaster exit'));
    clock.increment(1_000);
    await b.pollOnce();
    expect(b.isHeld('a')).toBe(true);
    expect(calls).toEqual([]); // not started yet: nothing to suspend
    // Nothing applies to a held cluster whose re-feeder is suspended: no success will ever come by itself.
    clock.increment(WRITES_TRIAL_AFTER_MS);
    expect(b.writable('a').ok).toBe(true);
    await b.pollOnce(); // the re-feeder starts (or resumes) and hands held commands to the writers: the trial
    b.noteApplyFailed('a', new Error('connect ECONNREFUSED'));
    clock.increment(60); // past the probe cache
    expect(b.writable('a').ok).toBe(false);
    await b.pollOnce();
    expect(calls).toEqual(['suspend']);
    // A success clears it.
    b.noteApplyOk('a');
    clock.increment(60);
    expect(b.writable('a').ok).toBe(true);
  });

  it('a trial is not a release: the cluster stays held until a write of the trial works', async () => {
    const { b, clock, drain } = board();
    drain.unread = () => 0; // the re-feeder handed everything it read to the writers
    b.noteApplyFailed('a', new Error('connect ECONNREFUSED'));
    clock.increment(1_000);
    await b.pollOnce();
    expect(b.isHeld('a')).toBe(true);
    clock.increment(WRITES_TRIAL_AFTER_MS);
    await b.pollOnce(); // on trial: the re-feeder resumes, nothing has worked yet
    expect(b.isHeld('a')).toBe(true);
    expect(b.holdReason('a')).not.toBeNull(); // new commands still go to the hold topic
    clock.increment(500);
    await b.pollOnce();
    expect(b.isHeld('a')).toBe(true);
    b.noteApplyOk('a'); // a trial write worked
    clock.increment(500);
    await b.pollOnce();
    expect(b.isHeld('a')).toBe(false);
  });

  it("in a fleet, another daemon's re-feeder committing held commands is a write of the trial that worked", async () => {
    const { b, clock, drain, offsets } = board();
    drain.unread = () => 0; // this daemon's re-feeder owns no hold partition with records
    b.noteApplyFailed('a', new Error('connect ECONNREFUSED'));
    clock.increment(1_000);
    await b.pollOnce();
    clock.increment(WRITES_TRIAL_AFTER_MS);
    await b.pollOnce();
    clock.increment(500);
    await b.pollOnce();
    expect(b.isHeld('a')).toBe(true); // nothing committed during the trial
    offsets.committed = 4; // applied and replicated by another daemon, committed in the shared drain group
    clock.increment(500);
    await b.pollOnce();
    expect(b.isHeld('a')).toBe(false);
    expect(b.writable('a').ok).toBe(true);
  });
});
