// A pause is kept across rebalances (the Subscription port's contract). A re-feeder suspended while it held
// partitions 0–3, resumed holding 0–1, then handed 2–3 back by a later rebalance, must not leave 2–3 paused: in a
// fleet bench that kept one hold-topic partition undrained (committed at 0) long after the cluster was writable.
import { describe, expect, it } from 'vitest';
import type { CommandLog, SubscribeOptions, Subscription } from '../../../adapters/kafka/port.ts';
import { testRefeeder } from '../../support/refeeder.ts';

const TOPIC = 'cmds.hold.pg1';

/** A subscription that keeps its pauses across assignments, as the port promises; `assign` plays a rebalance. */
function fakeLog() {
  const paused = new Set<number>();
  let opts: SubscribeOptions | null = null;
  const sub: Subscription = {
    pause: (_t, ps) => ps.forEach((p) => paused.add(p)),
    resume: (_t, ps) => ps.forEach((p) => paused.delete(p)),
    paused: () => [...paused].map((partition) => ({ topic: TOPIC, partition })),
    seek: () => undefined,
    commit: async () => undefined,
    stop: async () => undefined,
  };
  const log = {
    subscribe: async (o: SubscribeOptions) => ((opts = o), sub),
    committed: async () => new Map(),
  } as unknown as CommandLog;
  return { log, paused, assign: (ps: number[]) => opts!.onAssign!(ps.map((partition) => ({ topic: TOPIC, partition }))) };
}

describe('re-feeder pauses across rebalances', () => {
  it('a partition paused under an earlier assignment is resumed when it comes back while the re-feeder runs', async () => {
    const f = fakeLog();
    const r = testRefeeder(f.log, 'pg1', TOPIC);
    await r.start();
    f.assign([0, 1, 2, 3]);
    r.suspend();
    expect([...f.paused].sort()).toEqual([0, 1, 2, 3]);
    f.assign([0, 1]); // another daemon's re-feeder joined
    r.resume();
    expect([...f.paused]).toEqual([]);
    r.suspend();
    f.assign([0, 1, 2, 3]); // suspended: the new ones are paused too
    expect([...f.paused].sort()).toEqual([0, 1, 2, 3]);
    r.resume();
    f.assign([2, 3]);
    expect([...f.paused]).toEqual([]);
    await r.stop();
  });
});
