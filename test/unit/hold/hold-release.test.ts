// A hold begun while the board was measuring (it awaits the log and the re-feeder's start) is not released by
// that measurement's older view of the cluster: with three daemons, a follower's ingest held pg1 ("writes
// failing") while its board was starting the re-feeder, and the board released it 70 ms later — new commands
// went to the stuck writers again and the ingest blocked every cluster for seconds. On simulated time.
import { describe, expect, it } from 'vitest';
import type { CommandLog } from '../../../adapters/kafka/port.ts';
import { HoldBoard, type DrainControl } from '../../../actors/hold/hold-board.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';

describe('hold board: release', () => {
  it('a hold that began during a measurement outlives it; the next measurement releases it only if the cluster is writable', async () => {
    const clock = new SimulatedClock(0);
    const log = { endOffsets: async () => new Map([[0, '10']]), committed: async () => new Map([[0, '0']]), read: async () => [] } as unknown as CommandLog;
    let board!: HoldBoard;
    let running = false;
    let failing = false;
    const drain: DrainControl = {
      get running() {
        return running;
      },
      isSuspended: false,
      unread: () => 10,
      // Joining the re-feeder's group takes a while; meanwhile the ingest finds the writes failing and holds.
      start: async () => {
        running = true;
        clock.increment(1_400);
        board.hold('a', 'writes failing: Query read timeout');
      },
      suspend: () => undefined,
      resume: () => undefined,
      stop: async () => void (running = false),
    };
    board = new HoldBoard({ log, clusters: ['a'], holdTopic: () => 'h', drainGroup: () => 'g', drain: () => drain, config: { enabled: true, stallMs: 3_000, pollMs: 500, releaseBelow: 500 }, clock, logger: silentLogger() });
    board.setWritableProbe(() => (failing ? { ok: false, reason: 'writes failing' } : { ok: true }));
    await board.pollOnce();
    expect(board.isHeld('a')).toBe(true);
    // Still not writable at the next measurement: held.
    failing = true;
    clock.increment(500);
    await board.pollOnce();
    expect(board.isHeld('a')).toBe(true);
    // Writable again, backlog below the bound: released.
    failing = false;
    clock.increment(500);
    await board.pollOnce();
    expect(board.isHeld('a')).toBe(false);
  });
});
