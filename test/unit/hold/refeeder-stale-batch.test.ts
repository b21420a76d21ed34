// A batch handed to the re-feeder before a rebalance must not move the consumer's position after it. A batch that
// arrived while the subscription was still starting waits for it; if the group rebalanced meanwhile (a new
// generation: the partition's position is its committed offset again) and the re-feeder was suspended, the old
// batch used to seek the partition to its own first offset — past the committed one when it had been read from
// further on — and the new generation's tracker started there: the records in between were never re-fed, and
// the hold topic's offset could commit past them. A stale batch now leaves the position alone.
import { describe, expect, it } from 'vitest';
import type { CommandLog, LogBatch, SubscribeOptions, Subscription } from '../../../adapters/kafka/port.ts';
import { testRefeeder } from '../../support/refeeder.ts';

const TOPIC = 'cmds.hold.pg0';

describe('re-feeder: a batch from before a rebalance', () => {
  it('does not seek the partition when it resumes after the rebalance', async () => {
    const seeks: string[] = [];
    let opts!: SubscribeOptions;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const sub: Subscription = { pause: () => undefined, resume: () => undefined, paused: () => [], seek: (_t, p, o) => void seeks.push(`${p}@${o}`), commit: async () => undefined, stop: async () => undefined };
    const log = {
      // Joining takes a while: the first batch and the assignment come before subscribe() resolves.
      subscribe: async (o: SubscribeOptions) => {
        opts = o;
        await gate;
        return sub;
      },
      committed: async () => new Map(),
    } as unknown as CommandLog;
    const r = testRefeeder(log, 'pg0', TOPIC);
    const started = r.start();
    await new Promise((res) => setImmediate(res));
    opts.onAssign!([{ topic: TOPIC, partition: 0 }]);
    // A batch read from offset 40 (the partition's committed offset is lower), handed over while starting.
    const batch: LogBatch = { topic: TOPIC, partition: 0, highWatermark: '41', records: [{ topic: TOPIC, partition: 0, offset: '40', key: 'e', value: '{}', headers: {}, timestamp: 0 }] };
    const handled = opts.eachBatch(batch);
    // Meanwhile: a rebalance (a new generation from the committed offsets) and the cluster becomes unwritable.
    opts.onAssign!([{ topic: TOPIC, partition: 0 }]);
    r.suspend();
    open();
    await started;
    await handled;
    expect(seeks).toEqual([]);
    await r.stop();
  });
});
