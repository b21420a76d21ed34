// A hold's `reason` says why the cluster is held now, not only why the hold began: pg0 held while its failover
// machine promoted, and still held because the promoted primary had no replica, said "failover machine:
// promoting" in /status (and on every command it parked) long after the promotion was over. On simulated time.
import { describe, expect, it } from 'vitest';
import type { CommandLog } from '../../../adapters/kafka/port.ts';
import { HoldBoard, type DrainControl, type Writability } from '../../../actors/hold/hold-board.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';

describe('hold board: reason', () => {
  it('follows the cluster\'s current unwritability while it stays held, and keeps the last one once writable', async () => {
    const clock = new SimulatedClock(0);
    const log = { endOffsets: async () => new Map([[0, '0']]), committed: async () => new Map([[0, '0']]), read: async () => [] } as unknown as CommandLog;
    const drain: DrainControl = { running: false, isSuspended: false, unread: () => 0, start: async () => undefined, suspend: () => undefined, resume: () => undefined, stop: async () => undefined };
    const board = new HoldBoard({ log, clusters: ['pg0'], holdTopic: () => 'h', drainGroup: () => 'g', drain: () => drain, config: { enabled: true, stallMs: 3_000, pollMs: 500, releaseBelow: 0 }, clock, logger: silentLogger() });
    let w: Writability = { ok: false, reason: 'failover machine: promoting' };
    board.setWritableProbe(() => w);
    expect(board.holdReason('pg0')).toBe('failover machine: promoting');
    const since = board.status().pg0!.since;

    w = { ok: false, reason: 'no replica: no write to pg0-n1 can be proven replicated' };
    clock.increment(500);
    await board.pollOnce();
    expect(board.status().pg0).toMatchObject({ held: true, reason: 'no replica: no write to pg0-n1 can be proven replicated', since });
    expect(board.holdReason('pg0')).toBe('no replica: no write to pg0-n1 can be proven replicated');

    w = { ok: true };
    clock.increment(500);
    await board.pollOnce();
    expect(board.status().pg0).toMatchObject({ held: false, reason: 'no replica: no write to pg0-n1 can be proven replicated' });
  });
});
