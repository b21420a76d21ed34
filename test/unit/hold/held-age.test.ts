// The held age (issue 17: metric, /status, dashboard) is the age of the oldest command still in the hold topic —
// the record at the re-feeder group's committed offset of each partition, by the time it was held — not the time
// since the hold began nor the hold time of the newest command handed to the writers. On simulated time.
import { describe, expect, it } from 'vitest';
import type { CommandLog, LogMessage, LogRecord } from '../../../adapters/kafka/port.ts';
import { HoldBoard, type DrainControl } from '../../../actors/hold/hold-board.ts';
import { heldMessage } from '../../../actors/hold/hold-topic.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';

const HOLD = 'cmds.hold.a';
const PARTITIONS = 2;

/** Just enough of a command log for the board: a hold topic whose committed offsets the test moves. */
function fakeLog() {
  const parts: LogRecord[][] = Array.from({ length: PARTITIONS }, () => []);
  const committed = new Map<number, string>();
  let reads = 0;
  const log = {
    endOffsets: async () => new Map(parts.map((p, i) => [i, String(p.length)])),
    committed: async () => new Map(committed),
    read: async (_t: string, p: number, from: string, limit: number) => {
      reads++;
      return parts[p]!.slice(Number(from), Number(from) + limit);
    },
    produce: async (_t: string, msgs: LogMessage[]) =>
      msgs.map((m) => {
        const p = m.partition ?? 0;
        const rec: LogRecord = { topic: HOLD, partition: p, offset: String(parts[p]!.length), key: m.key, value: m.value, headers: m.headers ?? {}, timestamp: 0 };
        parts[p]!.push(rec);
        return { topic: HOLD, partition: p, offset: rec.offset };
      }),
  } as unknown as CommandLog;
  return { log, committed, reads: () => reads, hold: (p: number, n: number, at: number) => log.produce(HOLD, Array.from({ length: n }, (_, i) => ({ ...heldMessage({ topic: 'cmds', partition: 0, offset: String(i), key: `e${i}`, value: '{}' }, 'a', 'test', at), partition: p }))) };
}

/** A re-feeder that is not running (the cluster is still unwritable); `heldAtOf` is what it read earlier. */
function idleDrain(heldAtOf?: (p: number, offset: string) => number | undefined): DrainControl {
  return { running: false, isSuspended: false, unread: () => 0, start: async () => undefined, suspend: () => undefined, resume: () => undefined, stop: async () => undefined, ...(heldAtOf ? { heldAtOf } : {}) };
}

function board(log: CommandLog, clock: SimulatedClock, drain: DrainControl) {
  return new HoldBoard({
    log,
    clusters: ['a'],
    holdTopic: () => HOLD,
    drainGroup: () => 'g.hold.a',
    drain: () => drain,
    config: { enabled: true, stallMs: 3_000, pollMs: 500, releaseBelow: 0 },
    clock,
    logger: silentLogger(),
  });
}

/** Polls until the board's background read of the oldest records has landed (no time passes). */
async function measured(b: HoldBoard): Promise<number> {
  for (let i = 0; i < 5; i++) {
    await b.pollOnce();
    await new Promise((r) => setImmediate(r));
  }
  return b.status().a!.ageSeconds;
}

describe('held age: the oldest command still held', () => {
  it('is measured from the oldest record at the committed offsets, across partitions, not from the newest re-fed one', async () => {
    const clock = new SimulatedClock(1_000_000);
    const f = fakeLog();
    // Held 60 s ago on partition 1, 30 s ago on partition 0, 10 s ago on partition 1 again.
    await f.hold(1, 5, clock.now());
    clock.increment(30_000);
    await f.hold(0, 5, clock.now());
    clock.increment(20_000);
    await f.hold(1, 5, clock.now());
    clock.increment(10_000);
    const b = board(f.log, clock, idleDrain());
    b.hold('a', 'test');
    expect(await measured(b)).toBe(60);

    // Partition 1's first five are re-fed and committed: the oldest left is partition 0's (held 35 s ago by then).
    // A partition's oldest record is read from the log at most every 5 s: until then the record it had (older,
    // so an upper bound) stands in.
    f.committed.set(1, '5');
    expect(await measured(b)).toBe(60);
    clock.increment(5_000);
    expect(await measured(b)).toBe(35);
    // Both partitions' old records done: what is left was held 20 s ago by then.
    f.committed.set(0, '5');
    clock.increment(5_000);
    expect(await measured(b)).toBe(20);
    f.committed.set(1, '10');
    expect(await measured(b)).toBe(0);
  });

  it('the record at a committed offset is read once (the re-feeder answers for records it has read)', async () => {
    const clock = new SimulatedClock(0);
    const f = fakeLog();
    await f.hold(0, 3, 0);
    await f.hold(1, 3, 0);
    clock.increment(40_000);
    const known = new Map([['1/0', 20_000]]); // the local re-feeder read partition 1 and holds its heldAt (a newer producer's clock)
    const b = board(f.log, clock, idleDrain((p, o) => known.get(`${p}/${o}`)));
    b.hold('a', 'test');
    expect(await measured(b)).toBe(40);
    expect(f.reads()).toBe(1); // partition 0 only, once
    f.committed.set(0, '3');
    expect(await measured(b)).toBe(20);
    expect(f.reads()).toBe(1);
  });
});
