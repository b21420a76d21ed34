// Ingest rewinds (after a promotion) while batches keep arriving: a batch handed over before the rewind's seek
// predates it and must not be applied in the new generation — else its offsets seed the partition tracker
// above the re-delivered window, and committing past that window loses it (found by the Patroni chaos suite).
import { describe, expect, it } from 'vitest';
import type { CommandLog, LogBatch, SubscribeOptions, Subscription } from '../../../adapters/kafka/port.ts';
import { Ingest } from '../../../actors/ingest/ingest.ts';
import type { ActorHandle } from '../../../actors/runtime/system.ts';
import type { ShardWriterMsg, WriteItem } from '../../../actors/shard-writer/messages.ts';
import { defaultLimits } from '../../../lib/command.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { commandStream } from '../../support/reference-model.ts';

const T = 'cmds';
const offsets = (items: WriteItem[]) => items.map((i) => Number(i.command.offset)).sort((a, b) => a - b);
const batch = (from: number, n: number): LogBatch => ({
  topic: T,
  partition: 0,
  highWatermark: String(from + n),
  records: commandStream(n, from + 1).map((m, i) => ({ topic: T, partition: 0, offset: String(from + i), key: m.key, value: m.value, headers: {}, timestamp: 0 })),
});

function harness() {
  let eachBatch!: (b: LogBatch) => Promise<void>;
  const seeks: string[] = [];
  const commits: string[] = [];
  let answerCommitted!: (m: Map<number, string>) => void;
  const sub: Subscription = {
    pause: () => undefined,
    resume: () => undefined,
    paused: () => [],
    seek: (_t, _p, offset) => void seeks.push(offset),
    commit: async (offsets) => void commits.push(...offsets.map((o) => o.offset)),
    stop: async () => undefined,
  };
  const log = {
    subscribe: async (o: SubscribeOptions) => {
      eachBatch = o.eachBatch;
      return sub;
    },
    committed: () => new Promise<Map<number, string>>((r) => (answerCommitted = r)),
    partitionCount: async () => 1,
  } as unknown as CommandLog;
  const sent: WriteItem[] = [];
  const writer = { send: async (m: ShardWriterMsg) => void (m.type === 'shard.write' && sent.push(...m.items)) } as unknown as ActorHandle<ShardWriterMsg>;
  const clock = new SimulatedClock(0);
  const ingest = new Ingest({ log, topic: T, groupId: 'g', shardCount: 4, limits: defaultLimits, writerFor: () => writer, dlq: { send: async () => undefined }, clock, logger: silentLogger(), commitIntervalMs: 100, signal: new AbortController().signal });
  return { ingest, clock, sent, seeks, commits, deliver: (b: LogBatch) => eachBatch(b), answer: (offset: string) => answerCommitted(new Map([[0, offset]])) };
}

describe('Ingest rewind', () => {
  it('a batch handed over before the rewind seeked is not applied; the commit never passes the re-delivered window', async () => {
    const h = harness();
    await h.ingest.start();
    await h.deliver(batch(0, 5)); // offsets 0..4 go to the writers (not yet replicated)
    expect(offsets(h.sent)).toEqual([0, 1, 2, 3, 4]);
    const rewound = h.ingest.rewind('cluster promoted');
    const stale = h.deliver(batch(5, 5)); // fetched before the seek: arrives while the rewind is under way
    h.answer('0');
    await rewound;
    await stale;
    expect(h.seeks).toEqual(['0']);
    expect(offsets(h.sent)).toEqual([0, 1, 2, 3, 4]); // nothing of the stale batch
    // The seek re-delivers from 0; everything applied and replicated: the commit is 10, through every record.
    h.sent.length = 0;
    await h.deliver(batch(0, 10));
    for (const i of h.sent) i.ack();
    await h.ingest.commitNow();
    expect(h.commits).toEqual(['10']);
  });

  it('the commit watermark cannot jump over records it never saw in this generation', async () => {
    const h = harness();
    await h.ingest.start();
    await h.deliver(batch(0, 5));
    const rewound = h.ingest.rewind('cluster promoted');
    const stale = h.deliver(batch(5, 5));
    h.answer('0');
    await rewound;
    await stale;
    for (const i of h.sent) i.ack(); // acks of the old generation count for nothing
    await h.ingest.commitNow();
    expect(h.commits).toEqual([]);
  });
});
