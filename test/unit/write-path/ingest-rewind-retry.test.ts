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

function harness(committed: () => Promise<Map<number, string>>, logger = silentLogger()) {
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
  const ingest = new Ingest({ log, topic: T, groupId: 'g', shardCount: 4, limits: defaultLimits, writerFor: () => writer, dlq: { send: async () => undefined }, clock, logger, commitIntervalMs: 100, signal: new AbortController().signal });
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

  it('a rewind asked while another is under way joins it (one seek after both asked) and is logged under its own reason', async () => {
    const lines: Array<{ reason?: string; joined?: string; msg: string }> = [];
    const logger = silentLogger();
    const seen = { ...logger, warn: (o: object, msg: string) => void lines.push({ ...(o as { reason?: string; joined?: string }), msg }) } as typeof logger;
    let answer!: (m: Map<number, string>) => void;
    const h = harness(() => new Promise((r) => (answer = r)), seen);
    await h.start();
    const first = h.ingest.rewind('write failed');
    const second = h.ingest.rewind('cluster pg0 promoted'); // the reroute happened before this request
    await tick();
    expect(h.seeks).toEqual([]); // nothing seeked before both asked
    answer(new Map([[0, '3'], [1, '7']]));
    await Promise.all([first, second]);
    expect(h.seeks.sort()).toEqual(['0@3', '1@7']); // one seek serves both
    expect(lines.filter((l) => l.msg === 'rewound to committed offsets').map((l) => ({ reason: l.reason, joined: l.joined }))).toEqual([
      { reason: 'write failed', joined: undefined },
      { reason: 'cluster pg0 promoted', joined: 'write failed' },
    ]);
  });
});
