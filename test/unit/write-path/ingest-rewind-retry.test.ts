// The ingest's rewind (review of issue 15): a rewind whose committed offsets cannot be read is retried until it can
// seek — it never rejects (an unhandled rejection exits the daemon) and never leaves the trackers cleared without
// a seek (records would be skipped).
import { describe, expect, it } from 'vitest';
import type { CommandLog, LogBatch, SubscribeOptions, Subscription } from '../../../adapters/kafka/port.ts';
import { Ingest } from '../../../actors/ingest/ingest.ts';
import type { ActorHandle } from '../../../actors/runtime/system.ts';
import type { ShardWriterMsg, WriteItem } from '../../../actors/shard-writer/messages.ts';
import { defaultLimits } from '../../../lib/command.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { ErrorCodes, TagstreamError } from '../../../lib/errors.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { commandStream } from '../../support/reference-model.ts';

const T = 'cmds';
const batch = (partition: number, from: number, n: number): LogBatch => ({
  topic: T,
  partition,
  highWatermark: String(from + n),
  records: commandStream(n, partition * 1_000 + from + 1).map((m, i) => ({ topic: T, partition, offset: String(from + i), key: m.key, value: m.value, headers: {}, timestamp: 0 })),
});
const tick = () => new Promise((r) => setImmediate(r));

function harness(committed: () => Promise<Map<number, string>>) {
  let eachBatch!: (b: LogBatch) => Promise<void>;
  const seeks: string[] = [];
  const sub: Subscription = { pause: () => undefined, resume: () => undefined, paused: () => [], seek: (_t, p, o) => void seeks.push(`${p}@${o}`), commit: async () => undefined, stop: async () => undefined };
  const log = { subscribe: async (o: SubscribeOptions) => ((eachBatch = o.eachBatch), sub), committed, partitionCount: async () => 2 } as unknown as CommandLog;
  const sent: WriteItem[] = [];
  let hold: Promise<void> | null = null;
  const writer = {
    path: '/w',
    info: () => ({ status: 'running' }),
    send: async (m: ShardWriterMsg) => {
      if (hold) await hold;
      if (m.type === 'shard.write') sent.push(...m.items);
    },
  } as unknown as ActorHandle<ShardWriterMsg>;
  const clock = new SimulatedClock(0);
  const ingest = new Ingest({ log, topic: T, groupId: 'g', shardCount: 4, limits: defaultLimits, writerFor: () => writer, dlq: { send: async () => undefined }, clock, logger: silentLogger(), commitIntervalMs: 100, signal: new AbortController().signal });
  return {
    ingest,
    clock,
    sent,
    seeks,
    start: () => ingest.start(),
    deliver: (b: LogBatch) => eachBatch(b),
    holdWriters: () => {
      let release!: () => void;
      hold = new Promise<void>((r) => (release = r));
      return () => {
        hold = null;
        release();
      };
    },
  };
}

describe('the ingest\'s rewind', () => {
  it('a rewind whose committed offsets cannot be read is retried until it seeks; it never rejects', async () => {
    let fails = 2;
    const h = harness(async () => {
      if (fails-- > 0) throw new TagstreamError(ErrorCodes.TIMEOUT, 'the group coordinator did not answer', { retriable: true });
      return new Map([[0, '3'], [1, '7']]);
    });
    await h.start();
    let settled: 'resolved' | 'rejected' | null = null;
    void h.ingest.rewind('write failed').then(
      () => (settled = 'resolved'),
      () => (settled = 'rejected'),
    );
    for (let i = 0; i < 100 && settled === null; i++) {
      h.clock.increment(100);
      await tick();
    }
    expect(settled).toBe('resolved');
    expect(fails).toBe(-1); // two failures, then the read that seeked
    expect(h.seeks.sort()).toEqual(['0@3', '1@7']);
  });
});
